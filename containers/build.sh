#!/usr/bin/env bash
# Builds the operator and auth-server images with buildah: no daemon, vfs storage (works
# without overlay support), rootless or root.
#
#   containers/build.sh [--push]
#
# Tags: ghcr.io/meridian-dev/meridian-{operator,auth-server}:<workspace version>, the names the
# chart (charts/meridian) and AuthRegion's default image use. REGISTRY overrides the prefix.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

registry=${REGISTRY:-ghcr.io/meridian-dev}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
# Without a daemon or user namespaces for RUN steps, chroot isolation is the one that works
# inside an unprivileged container.
export BUILDAH_ISOLATION=${BUILDAH_ISOLATION:-chroot}

if ! command -v buildah >/dev/null; then
  echo "buildah is not installed (Debian: apt-get install buildah)" >&2
  exit 1
fi

for image in operator auth-server; do
  tag="$registry/meridian-$image:$version"
  echo "building $tag" >&2
  buildah --storage-driver "$STORAGE_DRIVER" build \
    --layers \
    --ignorefile containers/containerignore \
    --file "containers/$image.Containerfile" \
    --tag "$tag" \
    .
  if [[ ${1:-} == --push ]]; then
    buildah --storage-driver "$STORAGE_DRIVER" push "$tag"
  fi
done
