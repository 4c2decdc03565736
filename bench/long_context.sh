#!/usr/bin/env bash
# Long-context benchmarks of issue 7 (results: bench/RESULTS.md, "Long context").
# Runs under the bench lock and nice, as every speed measurement on this machine.
#   bench/long_context.sh flash   # V4-Flash-shaped decode at 4K/64K/256K/1M (~10 min)
#   bench/long_context.sh e2e     # 1M-token prefill + decode of a small V4 model (~1 h)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-flash}"
shift || true
ninja -C build long_context_bench >/dev/null
exec flock /tmp/dsv4-bench.lock nice -n 10 ./build/bench/long_context_bench "$mode" "$@"
