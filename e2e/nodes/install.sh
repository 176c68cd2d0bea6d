#!/usr/bin/env bash
# Installs what the region clusters' real nodes need (e2e/src/node): Debian's containerd, runc,
# the CNI plugins (bridge, host-local, portmap, loopback), iptables for kube-proxy, iproute2 for
# the nodes' network namespaces, and buildah for the images (containers/build-local.sh).
# kubelet, kube-proxy and kube-scheduler are Go builds (e2e/tools/build.sh). The packages'
# own system services are never used: every node runs its own containerd with its own root,
# state and socket. Idempotent and quick once installed; e2e/test.sh and e2e/demo.sh call it.
set -euo pipefail

log() { echo "nodes/install.sh: $*" >&2; }

missing=()
command -v containerd >/dev/null || missing+=(containerd)
command -v runc >/dev/null || missing+=(runc)
[ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] || missing+=(containernetworking-plugins)
command -v buildah >/dev/null || missing+=(buildah)
command -v iptables >/dev/null || missing+=(iptables)
command -v ip >/dev/null || missing+=(iproute2)
command -v nsenter >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
log "installing ${missing[*]} (apt) ..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The package may start a system containerd: the nodes never use it, so it holds nothing.
if command -v systemctl >/dev/null && systemctl is-active --quiet containerd 2>/dev/null; then
  $sudo systemctl stop containerd || true
fi
