#!/usr/bin/env bash
# Installs what the browser scenario (e2e/tests/scenarios/browser_code_flow.rs) needs: Debian's
# chromium (apt) and playwright-core (npm, into e2e/node_modules), and with it openid-client for
# the front-door scenario (e2e/frontdoor/openid-client.mjs). Never downloads a browser:
# playwright-core drives the system chromium through its executablePath.
# Idempotent and quick once installed; e2e/test.sh (or the test itself) may call it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { echo "browser/install.sh: $*" >&2; }

if [ ! -x /usr/bin/chromium ]; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  log "installing chromium (apt) ..."
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

if [ ! -f "$here/node_modules/playwright-core/package.json" ] || [ ! -f "$here/node_modules/openid-client/package.json" ]; then
  log "installing playwright-core and openid-client (npm) ..."
  # Never fetch browsers: the system chromium is used.
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
  cd "$here"
  if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --silent
  else
    npm install --no-audit --no-fund --silent
  fi
fi
