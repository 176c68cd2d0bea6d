#!/usr/bin/env bash
# Builds the pinned Kubernetes binaries (kube-apiserver, kube-controller-manager, etcd, and for
# the real nodes kubelet, kube-proxy, kube-scheduler and the pods' sandbox program `pause`) and
# helm from the Go module proxy into a cache outside the repository, and prints the directory
# that holds them. A no-op when they are already built; each build is named with its time.
#
#   build.sh          everything; prints the directory
#   build.sh NAME...  only these (see `build` below); prints the same cache directory. The Rust
#                     harness uses this for a binary that KUBEBUILDER_ASSETS lacks
#                     (setup-envtest ships no controller-manager, node binaries or helm).
#
# Without arguments, if KUBEBUILDER_ASSETS names a directory that already holds kube-apiserver
# and etcd (for example from setup-envtest), that directory is printed and nothing is built, so
# such a user needs no Go toolchain.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
k8s_version=$(awk '/k8s.io\/kubernetes v/ {print $2; exit}' "$here/go.mod")
helm_version=$(awk '/helm.sh\/helm\/v3 v/ {print $2; exit}' "$here/helm/go.mod")
cache_root=${MERIDIAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meridian}
bin_dir="$cache_root/k8s-$k8s_version/bin"
helm_dir="$cache_root/helm-$helm_version/bin"

log() { echo "build.sh: $*" >&2; }

# Version stamps as the upstream release builds set them (hack/lib/version.sh, helm's Makefile):
# without them the API server reports v0.0.0-master, which breaks charts' kubeVersion checks
# and .Capabilities.KubeVersion, and `helm version` says v3.19 instead of the patch release.
k8s_minor=$(echo "$k8s_version" | cut -d. -f2)
k8s_ldflags=""
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
helm_client_go=$(awk '/k8s.io\/client-go v/ {print $2; exit}' "$here/helm/go.mod")
helm_k8s_major=$(( $(echo "${helm_client_go#v}" | cut -d. -f1) + 1 ))
helm_k8s_minor=$(echo "$helm_client_go" | cut -d. -f2)
helm_ldflags="-X helm.sh/helm/v3/internal/version.version=$helm_version -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  helm_ldflags+=" -X $pkg.k8sVersionMajor=$helm_k8s_major -X $pkg.k8sVersionMinor=$helm_k8s_minor"
done

build_into() { # dir module-dir name package [ldflags]
  local dir=$1 module=$2 name=$3 pkg=$4 ldflags="-s -w ${5:-}"
  # A stamp of how the binary was built: a changed recipe (version, flags) rebuilds it.
  local recipe="$pkg $ldflags $(cksum <"$module/go.sum")"
  if [ -x "$dir/$name" ] && [ "$(cat "$dir/.$name.recipe" 2>/dev/null)" = "$recipe" ]; then
    return 0
  fi
  log "building $name ($pkg) ..."
  local start=$SECONDS
  mkdir -p "$dir"
  (cd "$module" && CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$dir/$name.tmp" "$pkg")
  mv "$dir/$name.tmp" "$dir/$name"
  echo "$recipe" >"$dir/.$name.recipe"
  log "built $name in $((SECONDS - start)) s"
}

build() { # name
  case $1 in
    etcd) build_into "$bin_dir" "$here" etcd ./etcd ;;
    kube-apiserver)
      build_into "$bin_dir" "$here" kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags" ;;
    kube-controller-manager | kube-scheduler | kube-proxy | kubelet)
      build_into "$bin_dir" "$here" "$1" "k8s.io/kubernetes/cmd/$1" "$k8s_ldflags" ;;
    pause) build_into "$bin_dir" "$here" pause ./pause ;;
    helm)
      build_into "$helm_dir" "$here/helm" helm helm.sh/helm/v3/cmd/helm "$helm_ldflags"
      # One directory for all four, as envtest expects: tests find helm beside the control plane.
      mkdir -p "$bin_dir"
      # Re-pointed every time, so a helm version bump cannot leave it at the old binary.
      ln -sfn "$helm_dir/helm" "$bin_dir/helm" ;;
    *)
      log "unknown binary '$1' (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,"
      log "kube-proxy, kubelet, pause, helm)"
      exit 2 ;;
  esac
}

if [ $# -gt 0 ]; then
  for name in "$@"; do build "$name"; done
  echo "$bin_dir"
  exit 0
fi

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]; then
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

for name in etcd kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet pause helm; do
  build "$name"
done
echo "$bin_dir"
