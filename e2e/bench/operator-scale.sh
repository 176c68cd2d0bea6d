#!/usr/bin/env bash
# Benchmark: 500 tenants x 2 regions, operator cold start to all Ready (wall time, API
# requests, peak RSS). Builds the release operator and the control plane first.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
export KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS:-$(e2e/tools/build.sh)}
cargo build --release -p meridian-operator
export MERIDIAN_OPERATOR_BIN=${CARGO_TARGET_DIR:-$repo/target}/release/meridian-operator
cargo bench -p meridian-e2e --bench operator_scale
