#!/usr/bin/env bash
# Benchmark (not a test) of the auth-server with many tenants: for each tenant count, the
# release server starts on a freshly written contract directory (ES256 key, a confidential and
# a public client, three argon2id users per tenant); the row gives seconds from spawn to
# /readyz 200 and to every tenant loaded, RSS and peak RSS (VmHWM) after the load, then seconds
# from one tenant's file changing on disk to its discovery answering with the new
# meridian-revision (polled every 10 ms; median and maximum of 7 changes), and the peak RSS
# after those reloads.
#
# Two layouts: `plain` (the file is written under a temporary name and renamed over the old
# one; the watcher stats every file) and `kubernetes` (the kubelet's layout: a new timestamped
# directory, then `..data` swapped; the watcher reads only names).
#
# Usage: auth-server/bench/config-scale.sh
#   env: COUNTS="1000 5000 10000" LAYOUTS="plain kubernetes"
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../.." && pwd)"
counts="${COUNTS:-1000 5000 10000}"
layouts="${LAYOUTS:-plain kubernetes}"

cargo build --manifest-path "$workspace/Cargo.toml" --release -p meridian-auth-server \
  --bin meridian-auth-server --example config_scale
target="$(cargo metadata --manifest-path "$workspace/Cargo.toml" --format-version 1 --no-deps \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release"

printf '%7s %10s %8s %8s %8s %8s %8s %8s %8s %8s\n' tenants layout "write s" "ready s" \
  "loaded s" "RSS MiB" "peak MiB" "live p50" "live max" "peak MiB"
for count in $counts; do
  for layout in $layouts; do
    "$target/examples/config_scale" "$target/meridian-auth-server" "$count" "$layout"
  done
done
echo "(ready and loaded: seconds from spawn; live: seconds from a change on disk to the new revision"
echo " served, median and maximum of 7 changes; the last column is the peak RSS after them)"
