# amboy: build, run and test the whole workspace.
#
#   make setup     install the toolchain pieces (idempotent; see scripts/setup.sh)
#   make build     release build of the server and the dashboard bundle (cargo-leptos)
#   make run       build, then `amboy serve` on the default SQLite file (./amboy.db)
#   make test      fmt, clippy, unit/integration tests, release build, browser tests,
#                  API fuzzing
#   make e2e       only the browser tests, against the last release build
#   make fuzz      only the API fuzzing (schemathesis), against the last release build
#   make bench     the benchmark harness (its own workspace under bench/;
#                  BENCH="throughput linked schedules dashboard" picks sections; the
#                  dashboard figure runs the release server `make build` makes)
#   make clean-db  delete the default SQLite database

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
# wasm-opt comes from npm's binaryen (end2end devDependency), never Debian's:
# this directory goes first on PATH for every cargo-leptos run.
NODE_BIN := $(ROOT)/end2end/node_modules/.bin
LEPTOS := PATH="$(NODE_BIN):$$PATH" cargo leptos
AMBOY := $(ROOT)/target/release/amboy
# The CLI's default database, relative to the repository root.
DEFAULT_DB := amboy.db

.PHONY: setup build run test lint unit e2e fuzz bench clean-db

setup:
	scripts/setup.sh

build: setup
	$(LEPTOS) build --release

run: build
	cd "$(ROOT)" && "$(AMBOY)" serve

test: setup lint unit
	$(LEPTOS) build --release
	$(MAKE) --no-print-directory e2e
	$(MAKE) --no-print-directory fuzz

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	# The browser half on its real target, where its wasm-only code compiles.
	cargo clippy -p amboy-frontend --target wasm32-unknown-unknown -- -D warnings

# PostgreSQL tests each create a database; drop what earlier runs left.
PG_ADMIN := postgres://postgres:postgres@127.0.0.1:5432/postgres

unit:
	psql "$(PG_ADMIN)" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'amboy\_test\_%' OR datname LIKE 'amboy\_bench\_%'" \
	  | while read -r db; do psql "$(PG_ADMIN)" -qc "DROP DATABASE \"$$db\" WITH (FORCE)"; done
	cargo test --workspace

# A fresh database in a temporary directory, removed afterwards; Playwright
# starts `amboy serve` on a free port and stops it when the tests end.
e2e:
	db_dir=$$(mktemp -d "$${TMPDIR:-/tmp}/amboy-e2e.XXXXXX"); \
	trap 'rm -rf "$$db_dir"' EXIT; \
	cd end2end && \
	PATH="$(NODE_BIN):$$PATH" AMBOY_E2E_BIN="$(AMBOY)" \
	AMBOY_E2E_DATABASE_URL="sqlite://$$db_dir/amboy.db?mode=rwc" \
	npx playwright test

# schemathesis against the OpenAPI document of a live `amboy serve` (with an
# operator token): no 5xx, responses match the schema, bad input is refused,
# auth is not ignored.
fuzz:
	AMBOY_BIN="$(AMBOY)" ST="$(ROOT)/.venv/schemathesis/bin/st" scripts/api-fuzz.sh

# `make bench BENCH="throughput linked"` runs only the sections named
# (throughput, linked, schedules, dashboard); all of them by default.
BENCH ?=

bench: build
	cargo run --release --manifest-path bench/Cargo.toml --target-dir target -- $(BENCH)

clean-db:
	rm -f "$(ROOT)/$(DEFAULT_DB)" "$(ROOT)/$(DEFAULT_DB)-wal" "$(ROOT)/$(DEFAULT_DB)-shm"
