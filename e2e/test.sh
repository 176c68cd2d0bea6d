#!/usr/bin/env bash
# Runs every Meridian check: formatting, lints, unit and integration tests, and the tests
# against real Kubernetes control planes and real nodes. Installs and builds everything it
# needs (Go-built kube-apiserver/etcd/kubelet/kube-proxy/kube-scheduler/helm, npm clients,
# Debian's PostgreSQL, HAProxy, containerd, runc, CNI plugins and buildah), caching outside
# the repository under ${MERIDIAN_CACHE:-$HOME/.cache/meridian}. Exits non-zero when anything
# fails.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export MERIDIAN_CACHE=${MERIDIAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meridian}
# Cargo artefacts live in the cache too, so CI's fresh clones reuse them.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$MERIDIAN_CACHE/cargo-target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

step "Kubernetes binaries (kube-apiserver, etcd, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, pause) and helm"
KUBEBUILDER_ASSETS=$(e2e/tools/build.sh)
export KUBEBUILDER_ASSETS
echo "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"

step "what the Tenant CRD's rules cost the API server per write (e2e/tools/celcost, the pinned Kubernetes' validator)"
if command -v go >/dev/null; then
  (cd e2e/tools && go test ./celcost)
else
  echo "skipped: no Go toolchain (KUBEBUILDER_ASSETS came with prebuilt binaries)"
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "browser for the code-flow scenario (Debian chromium, playwright-core)"
e2e/browser/install.sh

step "PostgreSQL for the store tests and the demo (Debian postgresql)"
e2e/postgres/install.sh

step "HAProxy for the front door and the API gateway (Debian haproxy)"
e2e/frontdoor/install.sh

step "node runtime for the region clusters' real nodes (Debian containerd, runc, CNI plugins, buildah)"
e2e/nodes/install.sh

step "cargo test --workspace"
# Every test and binary is built once, with the features the whole workspace unifies. The
# end-to-end tests and the interoperability suites below run that auth-server binary rather
# than building it alone (`cargo build -p meridian-auth-server` resolves other features, so
# it rebuilds ~50 dependencies: 4 minutes on a cold cache).
MERIDIAN_AUTH_SERVER_BIN=$(cargo test --workspace --no-run --message-format=json-render-diagnostics \
  | python3 -c '
import json, sys
found = []
for line in sys.stdin:  # read to the end: cargo stops if its output pipe closes
    message = json.loads(line)
    target = message.get("target", {})
    if target.get("name") == "meridian-auth-server" and target.get("kind") == ["bin"] \
            and not message["profile"]["test"] and message.get("executable"):
        found.append(message["executable"])
print(found[0] if found else "")
')
[ -x "$MERIDIAN_AUTH_SERVER_BIN" ] || { echo "cargo test built no meridian-auth-server binary" >&2; exit 1; }
export MERIDIAN_AUTH_SERVER_BIN
cargo test --workspace

for extra in auth-server/tests/node/run.sh auth-server/tests/python/run.sh; do
  if [ -x "$extra" ]; then
    step "$extra"
    "$extra"
  fi
done

step "all checks passed in $((SECONDS - started)) s"
