#!/usr/bin/env bash
# Installs what the PostgreSQL tests and the demo need (e2e/src/postgres.rs): Debian's
# postgresql (apt) when no server binary is found, or only postgresql-client when
# MERIDIAN_TEST_POSTGRES_URL names an external server. Every test starts its own throwaway
# server from these binaries; the system cluster the package creates is never used, so it is
# stopped. Idempotent and quick once installed; e2e/test.sh and e2e/demo.sh call it.
set -euo pipefail

log() { echo "postgres/install.sh: $*" >&2; }

if [ -n "${MERIDIAN_TEST_POSTGRES_URL:-}" ]; then
  need=psql package=postgresql-client
else
  need=postgres package=postgresql
fi
if compgen -G "/usr/lib/postgresql/*/bin/$need" >/dev/null || command -v "$need" >/dev/null; then
  exit 0
fi

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
log "installing $package (apt) ..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$package" >/dev/null
# The package creates and may start a system cluster ("main" on 5432): stop it, so that it
# holds no port or memory while tests run.
if command -v pg_lsclusters >/dev/null; then
  pg_lsclusters --no-header | while read -r version cluster _port status _rest; do
    if [ "$status" = online ]; then $sudo pg_ctlcluster "$version" "$cluster" stop || true; fi
  done
fi
