#!/usr/bin/env bash
# Fuzzes the REST API with schemathesis: starts `amboy serve` on a free
# loopback port with a fresh SQLite file and an operator token, runs
# schemathesis against the OpenAPI document the server serves, and stops the
# server. Fails on any 5xx, any response that does not match the document,
# any schema-invalid request that is accepted, any ignored authentication and
# any undocumented method that is not refused.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${AMBOY_BIN:=target/release/amboy}"
: "${ST:=.venv/schemathesis/bin/st}"
: "${FUZZ_EXAMPLES:=30}"
AMBOY_BIN=$(realpath "$AMBOY_BIN")
ST=$(realpath "$ST")

work=$(mktemp -d "${TMPDIR:-/tmp}/amboy-fuzz.XXXXXX")
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
token="fuzz-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
base="http://127.0.0.1:$port"

AMBOY_OPERATOR_TOKEN="$token" AMBOY_LOG=warn \
  "$AMBOY_BIN" serve --listen "127.0.0.1:$port" \
  --database-url "sqlite://$work/amboy.db?mode=rwc" >"$work/server.log" 2>&1 &
server_pid=$!

healthy() { python3 -c "import urllib.request; urllib.request.urlopen('$base/healthz', timeout=1)" 2>/dev/null; }
for _ in $(seq 1 100); do
  healthy && break
  sleep 0.1
done
healthy || { echo "amboy serve did not start:" >&2; cat "$work/server.log" >&2; exit 1; }

# Its caches and reports go to the temporary directory, not the repository.
cd "$work"
status=0
timeout 600 "$ST" run "$base/api/v1/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection,ignored_auth,unsupported_method \
  --max-examples "$FUZZ_EXAMPLES" --seed 1 --generation-database none \
  --request-timeout 10 || status=$?
if grep -q "panicked" "$work/server.log"; then
  echo "the server panicked:" >&2
  cat "$work/server.log" >&2
  status=1
fi
exit "$status"
