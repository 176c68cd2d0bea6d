#!/usr/bin/env bash
# Benchmark (not a test) of the grant store on a real PostgreSQL: refresh and code grants/s
# with p50/p99, client_credentials with the postgres store next to the memory store, and row
# counts through a five-minute soak. The release server runs on SERVER_CPU (default 0); this
# script pins the load generator and PostgreSQL (its child) to LOAD_CPU (default 1).
#
# Usage: auth-server/bench/grant-store.sh
#   env: DURATION_SECONDS=10 CONNECTIONS=32 SOAK_SECONDS=300 SOAK_RATE=400 SERVER_CPU=0 LOAD_CPU=1
set -euo pipefail
workspace="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export MERIDIAN_CACHE=${MERIDIAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meridian}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$MERIDIAN_CACHE/cargo-target}
# The load generator builds with the dev profile (its dependencies are optimised there, see
# the workspace Cargo.toml): only the server under test needs a release build.
cargo build --manifest-path "$workspace/Cargo.toml" --release -p meridian-auth-server --bin meridian-auth-server
export MERIDIAN_AUTH_SERVER_BIN="$CARGO_TARGET_DIR/release/meridian-auth-server"
cargo bench --profile dev --manifest-path "$workspace/Cargo.toml" -p meridian-e2e --bench grant_store --no-run
export SERVER_CPU=${SERVER_CPU:-0} LOAD_CPU=${LOAD_CPU:-1}
exec taskset -c "$LOAD_CPU" cargo bench --profile dev --manifest-path "$workspace/Cargo.toml" -p meridian-e2e --bench grant_store
