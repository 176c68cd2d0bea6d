#!/usr/bin/env bash
# Benchmark (not a test) of the token endpoint: client_credentials over keep-alive connections
# from `oha`, with TENANTS tenants loaded, once for ES256 and once for EdDSA.
#
# The server is pinned to one CPU (SERVER_CPU) and the load generator to another (LOAD_CPU), so
# the maximum rate is tokens/s per core. On a machine shared with other work that core is not
# all ours, so the script also divides the tokens issued by the CPU seconds the server actually
# used (from /proc): tokens per CPU-second. Latency is then measured below saturation twice: at
# half the measured maximum, and at TARGET_RATE (default 7,500/s, half of the 15,000 tokens/s
# target). RSS is read from /proc after all runs.
#
# Usage: auth-server/bench/token-endpoint.sh
#   env: TENANTS=100 DURATION=15s CONNECTIONS=32 PORT=18643 SERVER_CPU=0 LOAD_CPU=1
#        TARGET_RATE=7500
#        MERIDIAN_TOOLS=$HOME/.cache/meridian/tools (where oha is installed if missing)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
workspace="$(cd "$here/../.." && pwd)"
tenants="${TENANTS:-100}"
duration="${DURATION:-15s}"
connections="${CONNECTIONS:-32}"
port="${PORT:-18643}"
server_cpu="${SERVER_CPU:-0}"
load_cpu="${LOAD_CPU:-1}"
target_rate="${TARGET_RATE:-7500}"
tools="${MERIDIAN_TOOLS:-$HOME/.cache/meridian/tools}"
oha="$tools/bin/oha"

if [[ ! -x "$oha" ]]; then
  cargo install oha --locked --root "$tools"
fi
cargo build --manifest-path "$workspace/Cargo.toml" --release -p meridian-auth-server \
  --bin meridian-auth-server --example bench_config
target="$(cargo metadata --manifest-path "$workspace/Cargo.toml" --format-version 1 --no-deps \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Tenants are t000..t(N-1); oha picks one at random per request.
last=$((tenants - 1))
tenant_regex="t($(seq -f '%03g' 0 "$last" | paste -sd '|'))"
url_regex="http://127[.]0[.]0[.]1:${port}/t/${tenant_regex}/token"

load() {
  taskset -c "$load_cpu" "$oha" --no-tui --output-format json -z "$1" -c "$connections" \
    -m POST -T application/x-www-form-urlencoded -a bench:bench-secret \
    -d 'grant_type=client_credentials&scope=api' --rand-regex-url "$url_regex" "${@:2}"
}

summary() {
  python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
s, p = r["summary"], r["latencyPercentiles"]
codes = r.get("statusCodeDistribution", {})
rate, p50, p99 = s["requestsPerSec"], p["p50"] * 1000, p["p99"] * 1000
print("%.0f %.3f %.3f %s" % (rate, p50, p99, json.dumps(codes, separators=(",", ":"))))
' "$1"
}

cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$1/stat"
}

row='%-6s %10s %10s %7s %7s | %10s %7s %7s | %10s %7s %7s | %6s %6s\n'
printf "$row" alg "max tok/s" "tok/CPU-s" "p50 ms" "p99 ms" "half tok/s" "p50 ms" "p99 ms" \
  "tok/s" "p50 ms" "p99 ms" "RSS MB" "peak"
for alg in ES256 EdDSA; do
  dir="$work/$alg"
  "$target/examples/bench_config" "$dir" "http://127.0.0.1:$port" "$tenants" "$alg"
  RUST_LOG=warn taskset -c "$server_cpu" "$target/meridian-auth-server" \
    --config-dir "$dir" --listen "127.0.0.1:$port" &
  server_pid=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.1
  done
  load 3s >/dev/null # warm-up
  cpu_before=$(cpu_seconds "$server_pid")
  load "$duration" >"$work/max.json"
  cpu_after=$(cpu_seconds "$server_pid")
  read -r max max_p50 max_p99 max_codes < <(summary "$work/max.json")
  issued=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["statusCodeDistribution"].get("200", 0))' \
    "$work/max.json")
  per_cpu=$(python3 -c "print('%.0f' % ($issued / ($cpu_after - $cpu_before)))")
  half=$((max / 2))
  load "$duration" -q "$half" --latency-correction >"$work/half.json"
  read -r half_rate half_p50 half_p99 half_codes < <(summary "$work/half.json")
  load "$duration" -q "$target_rate" --latency-correction >"$work/target.json"
  read -r target_got target_p50 target_p99 target_codes < <(summary "$work/target.json")
  rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$server_pid/status")
  hwm=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$server_pid/status")
  printf "$row" "$alg" "$max" "$per_cpu" "$max_p50" "$max_p99" "$half_rate" "$half_p50" \
    "$half_p99" "$target_got" "$target_p50" "$target_p99" "$rss" "$hwm"
  echo "       status codes: saturated $max_codes, half $half_codes, target $target_codes"
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
done
echo "($tenants tenants, $connections keep-alive connections, $duration per run, server on CPU $server_cpu, oha on CPU $load_cpu)"
