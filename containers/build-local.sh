#!/usr/bin/env bash
# Builds Meridian's images on a machine with no image registry: each binary, with the shared
# libraries it links (ldd) and the CA bundle, goes into a `FROM scratch` image made with
# buildah (vfs storage, no daemon), run as UID/GID 65532 like the Containerfiles' distroless
# runtime. Each image is written as an OCI archive for `ctr images import`; the nodes of the
# test harness (e2e/src/node) and the demo import them, and `imagePullPolicy: IfNotPresent`
# (Kubernetes' default for a versioned tag) then runs them without a pull.
#
#   containers/build-local.sh OUT_DIR [auth-server=BIN] [operator=BIN] [pause=BIN]
#
# Tags are the ones the registry build gives (containers/build.sh): the chart's and
# AuthRegion's defaults; the pause image is tagged as the kubelet's default sandbox image.
# An archive is rebuilt only when its binary changed. Prints OUT_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=${1:?usage: build-local.sh OUT_DIR [name=BIN]...}
shift
registry=${REGISTRY:-ghcr.io/meridian-dev}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
cache_root=${MERIDIAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meridian}
store="$cache_root/buildah"
buildah() { command buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs "$@"; }
log() { echo "build-local.sh: $*" >&2; }
mkdir -p "$out"

image() { # name binary tag user entrypoint-path
  local name=$1 binary=$2 tag=$3 user=$4 entry=$5
  local archive="$out/$name.tar" stamp
  stamp="$tag $(sha256sum "$binary" | cut -d' ' -f1)"
  if [ -f "$archive" ] && [ "$(cat "$archive.stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  local start=$SECONDS container
  container=$(buildah from scratch)
  buildah copy --quiet "$container" "$binary" "$entry" >/dev/null
  # A static binary (pause) lists no libraries; a Rust binary links glibc and libgcc_s.
  for lib in $(ldd "$binary" 2>/dev/null | grep -o '/[^ ]*' || true); do
    buildah copy --quiet "$container" "$(readlink -f "$lib")" "$lib" >/dev/null
  done
  if [ "$name" != pause ]; then
    buildah copy --quiet "$container" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt >/dev/null
    local passwd
    passwd=$(mktemp)
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$passwd"
    buildah copy --quiet --chmod 0644 "$container" "$passwd" /etc/passwd >/dev/null
    rm -f "$passwd"
  fi
  buildah config --user "$user" --entrypoint "[\"$entry\"]" --cmd '' \
    --label "org.opencontainers.image.version=$version" "$container"
  buildah commit --quiet --rm "$container" "$tag" >/dev/null
  rm -f "$archive.tmp"
  buildah push --quiet "$tag" "oci-archive:$archive.tmp:$tag"
  buildah rmi "$tag" >/dev/null
  mv "$archive.tmp" "$archive"
  echo "$stamp" >"$archive.stamp"
  log "built $tag in $((SECONDS - start)) s"
}

for spec in "$@"; do
  name=${spec%%=*} binary=${spec#*=}
  [ -x "$binary" ] || { log "$name: $binary is not an executable"; exit 1; }
  case $name in
    auth-server) image auth-server "$binary" "$registry/meridian-auth-server:$version" 65532:65532 /usr/local/bin/meridian-auth-server ;;
    operator) image operator "$binary" "$registry/meridian-operator:$version" 65532:65532 /usr/local/bin/meridian-operator ;;
    pause) image pause "$binary" registry.k8s.io/pause:3.10 65535:65535 /pause ;;
    *) log "unknown image '$name' (auth-server, operator, pause)"; exit 2 ;;
  esac
done
echo "$out"
