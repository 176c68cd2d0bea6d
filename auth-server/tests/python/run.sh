#!/usr/bin/env bash
# Runs the authlib (Python) interoperability tests against the real server binary.
# Usage: auth-server/tests/python/run.sh [pytest args]   (from anywhere; needs cargo and
# python3 >= 3.9 with venv). The venv is cached under ${MERIDIAN_CACHE:-$HOME/.cache/meridian}
# and rebuilt whenever requirements.txt changes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../../.." && pwd)"
cache="${MERIDIAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meridian}"

# MERIDIAN_AUTH_SERVER_BIN, when it names a binary (e2e/test.sh sets the one its tests built),
# is tested as it is; otherwise the debug binary is built.
if [[ ! -x "${MERIDIAN_AUTH_SERVER_BIN:-}" ]]; then
  cargo build --manifest-path "$workspace/Cargo.toml" -p meridian-auth-server --bin meridian-auth-server
  target_dir="$(cargo metadata --manifest-path "$workspace/Cargo.toml" --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  export MERIDIAN_AUTH_SERVER_BIN="$target_dir/debug/meridian-auth-server"
fi

venv="$cache/authlib-venv"
stamp="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ "$(cat "$venv/.requirements" 2>/dev/null)" != "$stamp" ]]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  echo "$stamp" > "$venv/.requirements"
fi

cd "$here"
exec "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
