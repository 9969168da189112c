#!/usr/bin/env bash
# The soak test: builds the `bench` preset's service (or takes --build DIR) and runs
# tests/load/soak.py — mixed traffic for --seconds (300), RSS, descriptors, workers and
# errors sampled every 5 s, a table and a plot in tests/load/results/<date>-soak.md, and
# exit 1 when they are not flat.
#
#   tests/load/soak.sh                                   5 minutes on the bench build
#   tests/load/soak.sh --seconds 30 --build build/ci     CI's short run on its own build
#   tests/load/soak.sh --out DIR --connections 64
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "soak: $tool is not installed (bash docker/deps.sh installs it)" >&2; exit 1; }
done
build=""
args=()
while (($#)); do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --build=*) build="${1#--build=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
if [[ -z "$build" ]]; then
  cmake --preset bench >/dev/null
  cmake --build --preset bench --target steadyloop
  build=build/bench
fi
[[ -x "$build/steadyloop" ]] || { echo "soak: no steadyloop binary in $build" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec python3 tests/load/soak.py --build "$build" ${args[@]+"${args[@]}"}
