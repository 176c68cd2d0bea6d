#!/usr/bin/env bash
# Runs the openid-client (Node) interoperability tests against the real server binary, and
# the CORS test in Debian's chromium (installed, if missing, by e2e/browser/install.sh).
# Usage: auth-server/tests/node/run.sh   (from anywhere; needs cargo, node >= 20 and npm)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../../.." && pwd)"

# MERIDIAN_AUTH_SERVER_BIN, when it names a binary (e2e/test.sh sets the one its tests built),
# is tested as it is; otherwise the debug binary is built.
if [[ ! -x "${MERIDIAN_AUTH_SERVER_BIN:-}" ]]; then
  cargo build --manifest-path "$workspace/Cargo.toml" -p meridian-auth-server --bin meridian-auth-server
  target_dir="$(cargo metadata --manifest-path "$workspace/Cargo.toml" --format-version 1 --no-deps \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
  export MERIDIAN_AUTH_SERVER_BIN="$target_dir/debug/meridian-auth-server"
fi

"$workspace/e2e/browser/install.sh"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

cd "$here"
# playwright-core drives the system chromium; it never downloads a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
node --test
