#!/usr/bin/env bash
# Builds the `bench` preset (optimised, with the benchmark programs) and runs the
# benchmark report: tests/load/bench.py. Loopback only; every scenario is bounded.
#
#   tests/load/bench.sh                 8 s per scenario, results in tests/load/results/
#   tests/load/bench.sh --seconds 2     a smoke run
#   tests/load/bench.sh --out DIR --idle-connections 1000
#   BENCH_PRESET=ci tests/load/bench.sh --seconds 1   use another preset's build (CI's
#                                       smoke: the scripts run, the numbers mean nothing)
set -euo pipefail
cd "$(dirname "$0")/../.."
preset="${BENCH_PRESET:-bench}"
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (bash docker/deps.sh installs it)" >&2; exit 1; }
done
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" --target steadyloop baseline_ping make_image pool_bench
# 10,000 idle connections need that many descriptors, in this shell and in the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec python3 tests/load/bench.py --build "build/$preset" "$@"
