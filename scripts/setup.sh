#!/usr/bin/env bash
# Installs what building and testing amboy needs, skipping whatever is already
# there, so it is cheap to run before every build. Nothing is downloaded at
# build time: cargo-leptos finds wasm-bindgen and wasm-opt on PATH.
#
#   - the wasm32 target, cargo-leptos and wasm-bindgen-cli (from crates.io);
#   - Debian's Chromium for the browser tests (Playwright never downloads one);
#   - Debian's Prometheus (prometheus, promtool) for the observability test;
#   - end2end's npm packages: Playwright and binaryen (our wasm-opt);
#   - schemathesis (PyPI) in .venv/schemathesis, for the API fuzz test;
#   - a running PostgreSQL on 127.0.0.1:5432 for the engine's PostgreSQL tests.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly CARGO_LEPTOS_VERSION="0.3.10"
# Must match the exact `wasm-bindgen` pinned in the workspace Cargo.toml.
readonly WASM_BINDGEN_VERSION="0.2.130"
readonly WASM_TARGET="wasm32-unknown-unknown"

log() { printf '==> %s\n' "$*"; }

# root here and in CI; sudo elsewhere.
if [[ $(id -u) -eq 0 ]]; then SUDO=(); else SUDO=(sudo); fi

apt_updated=false
apt_install() {
  if [[ $apt_updated == false ]]; then
    "${SUDO[@]}" apt-get update -qq
    apt_updated=true
  fi
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "$@"
}

# --- Rust: wasm target, cargo-leptos, wasm-bindgen --------------------------
if rustup target list --installed | grep -qx "$WASM_TARGET"; then
  log "rust target $WASM_TARGET: present"
else
  log "rust target $WASM_TARGET: installing"
  rustup target add "$WASM_TARGET"
fi

if cargo leptos --version 2>/dev/null | grep -qw "$CARGO_LEPTOS_VERSION"; then
  log "cargo-leptos $CARGO_LEPTOS_VERSION: present"
else
  log "cargo-leptos $CARGO_LEPTOS_VERSION: installing (several minutes)"
  cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION"
fi

if wasm-bindgen --version 2>/dev/null | grep -qw "$WASM_BINDGEN_VERSION"; then
  log "wasm-bindgen $WASM_BINDGEN_VERSION: present"
else
  log "wasm-bindgen $WASM_BINDGEN_VERSION: installing"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# --- Browser -----------------------------------------------------------------
if [[ -x /usr/bin/chromium ]]; then
  log "chromium: present"
else
  log "chromium: installing from Debian"
  apt_install chromium
fi

# --- Prometheus: a real one scrapes amboy in the observability test ---------
# Only the binaries are used; the test starts its own Prometheus.
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  log "prometheus: present"
else
  log "prometheus: installing from Debian"
  apt_install prometheus
fi

# --- end2end npm packages (Playwright, binaryen's wasm-opt) -----------------
# npm records what it installed in node_modules/.package-lock.json; a newer
# package.json or package-lock.json means the install is stale.
e2e_stamp=end2end/node_modules/.package-lock.json
if [[ -f $e2e_stamp && ! end2end/package.json -nt $e2e_stamp &&
      ! ( -f end2end/package-lock.json && end2end/package-lock.json -nt $e2e_stamp ) ]]; then
  log "end2end node_modules: up to date"
elif [[ -f end2end/package-lock.json ]]; then
  log "end2end node_modules: npm ci"
  (cd end2end && npm ci --no-audit --no-fund)
else
  log "end2end node_modules: npm install"
  (cd end2end && npm install --no-audit --no-fund)
fi

# --- schemathesis (API fuzzing, from PyPI) into a venv -------------------------
readonly SCHEMATHESIS_VERSION="4.32.5"
readonly ST_VENV=".venv/schemathesis"
if "$ST_VENV/bin/st" --version 2>/dev/null | grep -qw "$SCHEMATHESIS_VERSION"; then
  log "schemathesis $SCHEMATHESIS_VERSION: present"
else
  log "schemathesis $SCHEMATHESIS_VERSION: installing into $ST_VENV"
  if ! python3 -m venv --help >/dev/null 2>&1; then
    apt_install python3-venv
  fi
  rm -rf "$ST_VENV"
  python3 -m venv "$ST_VENV"
  "$ST_VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# --- PostgreSQL ----------------------------------------------------------------
postgres_listening() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }

if postgres_listening; then
  log "postgresql: listening on 127.0.0.1:5432"
else
  fresh_install=false
  if ! compgen -G '/etc/postgresql/*/main' >/dev/null; then
    log "postgresql: installing from Debian"
    apt_install postgresql
    fresh_install=true
  fi
  cluster_version=$(ls /etc/postgresql | sort -V | tail -n 1)
  log "postgresql: starting cluster $cluster_version/main"
  "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$cluster_version" main start
  for _ in $(seq 1 30); do
    postgres_listening && break
    sleep 1
  done
  postgres_listening || { echo "postgresql did not start listening on 127.0.0.1:5432" >&2; exit 1; }
  if [[ $fresh_install == true ]]; then
    # The tests connect as postgres:postgres over TCP (a password that
    # trust-auth servers, like the ones on our CI machines, ignore).
    log "postgresql: setting the test password of role postgres"
    (cd / && "${SUDO[@]}" su postgres -c "psql -qc \"ALTER ROLE postgres PASSWORD 'postgres'\"")
  fi
fi

log "setup complete"
