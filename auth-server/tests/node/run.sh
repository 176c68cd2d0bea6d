#!/usr/bin/env bash
# Runs the openid-client (Node) interoperability test against the real server binary.
# Usage: auth-server/tests/node/run.sh   (from anywhere; needs cargo, node >= 20 and npm)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../../.." && pwd)"

cargo build --manifest-path "$workspace/Cargo.toml" -p meridian-auth-server --bin meridian-auth-server
target_dir="$(cargo metadata --manifest-path "$workspace/Cargo.toml" --format-version 1 --no-deps \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
export MERIDIAN_AUTH_SERVER_BIN="$target_dir/debug/meridian-auth-server"

cd "$here"
if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
node --test
