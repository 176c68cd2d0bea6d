#!/usr/bin/env bash
# The local multi-region demo: a hub and the regions eu-west and us-east on real control
# planes, each region with a real node (kubelet, containerd, runc, kube-proxy), the operator,
# examples/ applied, each region on a PostgreSQL database of its own with two auth-server pods
# run by the node from the operator's Deployment (images built here with buildah), the issuer's front door (HAProxy) on the issuer URL, a token obtained there and
# verified against us-east's JWKS, and the example API behind the gateway (HAProxy
# jwt_verify) accepting it. Runs until Ctrl-C, then removes everything it started.
#
# Builds what it needs (the Kubernetes binaries from the Go module proxy, the auth-server and
# the demo with cargo, the images with buildah) and installs Debian's postgresql, haproxy,
# containerd, runc, CNI plugins and buildah if missing, caching outside the repository under
# ${MERIDIAN_CACHE:-$HOME/.cache/meridian}, as e2e/test.sh does. Needs Rust, Go, kubectl, and
# root (the nodes' network namespaces, cgroups and mounts).
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
step "Kubernetes binaries (kube-apiserver, etcd, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, pause)"
# Each Go build is named with its time (a cold build takes minutes, then it is a no-op).
KUBEBUILDER_ASSETS=$(e2e/tools/build.sh etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy pause)
export KUBEBUILDER_ASSETS

step "node runtime (Debian's containerd, runc, CNI plugins, buildah)"
e2e/nodes/install.sh

step "PostgreSQL (Debian's postgresql; each region gets a database on a throwaway server)"
e2e/postgres/install.sh

step "HAProxy for the issuer's front door (Debian's haproxy)"
e2e/frontdoor/install.sh

step "building meridian-auth-server and the demo (cargo)"
cargo build -p meridian-auth-server --bin meridian-auth-server -p meridian-e2e --bin meridian-demo
export MERIDIAN_AUTH_SERVER_BIN=$CARGO_TARGET_DIR/debug/meridian-auth-server
step "built in $((SECONDS - started)) s"
echo

exec "$CARGO_TARGET_DIR/debug/meridian-demo"
