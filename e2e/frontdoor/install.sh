#!/usr/bin/env bash
# Installs the proxy the issuer's front door and the API gateway run on (e2e/src/frontdoor/,
# e2e/src/gateway/): Debian's haproxy (apt) when no haproxy binary is found. Only the binary is
# used: each test and the demo start their own haproxy from a rendered config in a temp dir,
# so the system service the package enables is stopped. Idempotent and quick once installed;
# e2e/test.sh and e2e/demo.sh call it.
set -euo pipefail

log() { echo "frontdoor/install.sh: $*" >&2; }

if command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
log "installing haproxy (apt) ..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends haproxy >/dev/null
# The package starts a system haproxy on its own config where an init system runs; it would
# hold nothing of ours, but stop it so it holds no port either.
if command -v systemctl >/dev/null && systemctl is-active --quiet haproxy 2>/dev/null; then
  $sudo systemctl stop haproxy || true
elif [ -x /etc/init.d/haproxy ]; then
  $sudo /etc/init.d/haproxy stop >/dev/null 2>&1 || true
fi
