#!/usr/bin/env bash
# The local multi-region demo: a hub and the regions eu-west and us-east on real control
# planes, the operator, examples/ applied, each region on a PostgreSQL database of its own
# with two auth-server replicas started from exactly the ConfigMaps and Secrets the operator
# wrote there, the issuer's front door (HAProxy) on the issuer URL, a token obtained there and
# verified against us-east's JWKS, and the example API behind the gateway (HAProxy
# jwt_verify) accepting it. Runs until Ctrl-C, then removes everything it started.
#
# Builds what it needs (kube-apiserver and etcd from the Go module proxy, the auth-server and
# the demo with cargo) and installs Debian's postgresql and haproxy if missing, caching outside the
# repository under ${MERIDIAN_CACHE:-$HOME/.cache/meridian}, as e2e/test.sh does. Needs Rust,
# Go and kubectl.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export MERIDIAN_CACHE=${MERIDIAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meridian}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$MERIDIAN_CACHE/cargo-target}

step() { printf '==> %s\n' "$*"; }
for tool in cargo go kubectl; do
  if ! command -v "$tool" >/dev/null; then
    echo "demo.sh: $tool is needed (see the README's Quick start)" >&2
    exit 1
  fi
done

started=$SECONDS
step "control-plane binaries (kube-apiserver, etcd)"
# Binaries from setup-envtest in KUBEBUILDER_ASSETS are used as they are; otherwise only the two
# the demo runs are built (a cold build takes minutes, then it is a no-op).
if [ -z "${KUBEBUILDER_ASSETS:-}" ] || [ ! -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] || [ ! -x "$KUBEBUILDER_ASSETS/etcd" ]; then
  KUBEBUILDER_ASSETS=$(e2e/tools/build.sh etcd kube-apiserver)
fi
export KUBEBUILDER_ASSETS

step "PostgreSQL (Debian's postgresql; each region gets a database on a throwaway server)"
e2e/postgres/install.sh

step "HAProxy for the issuer's front door (Debian's haproxy)"
e2e/frontdoor/install.sh

step "building meridian-auth-server and the demo (cargo)"
cargo build --quiet -p meridian-auth-server --bin meridian-auth-server -p meridian-e2e --bin meridian-demo
export MERIDIAN_AUTH_SERVER_BIN=$CARGO_TARGET_DIR/debug/meridian-auth-server
step "built in $((SECONDS - started)) s"
echo

exec "$CARGO_TARGET_DIR/debug/meridian-demo"
