#!/usr/bin/env bash
# Benchmark: N tenants x R regions, operator cold start to all Ready, where Ready means each
# region's auth-server (the release binary, in a pod on the region's real node) serves the
# tenant: wall time, API requests, writes, operator and auth-server peak RSS. Builds the
# release operator, the release auth-server (and its image) and the Kubernetes binaries
# first, and installs the nodes' runtime.
#
# Usage: e2e/bench/operator-scale.sh
#   env: MERIDIAN_BENCH_TENANTS=10000 MERIDIAN_BENCH_REGIONS=3
#        MERIDIAN_BENCH_LOG=<file> (the operator's info log, to see where time goes)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
export KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS:-$(e2e/tools/build.sh)}
e2e/nodes/install.sh
cargo build --release -p meridian-operator -p meridian-auth-server
release=${CARGO_TARGET_DIR:-$repo/target}/release
export MERIDIAN_OPERATOR_BIN=$release/meridian-operator
export MERIDIAN_AUTH_SERVER_BIN=$release/meridian-auth-server
cargo bench -p meridian-e2e --bench operator_scale
