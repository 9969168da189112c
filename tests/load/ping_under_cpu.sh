#!/usr/bin/env bash
# /ping latency with the workers idle, then while POST /passwords/hash keeps every
# worker busy. Starts its own release build on a free port; loopback only, bounded.
#
#   tests/load/ping_under_cpu.sh [seconds]      (default 10)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-10}"
bin=build/release/steadyloop
[[ -x $bin ]] || { cmake --preset release >/dev/null && cmake --build --preset release >/dev/null; }

log=$(mktemp)
"$bin" --port 0 --address 127.0.0.1 --log-level warn >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q '"event":"listening"' "$log" && break; sleep 0.05; done
port=$(grep -o '"port":[0-9]*' "$log" | head -1 | cut -d: -f2)
url="http://127.0.0.1:$port"
until curl -sf "$url/readyz" >/dev/null; do sleep 0.05; done

echo "== /ping, workers idle"
wrk -t1 -c64 -d"${secs}s" --latency "$url/ping" | grep -E "Requests/sec|50%|99%"

echo "== /ping while POST /passwords/hash keeps every worker busy"
wrk -t1 -c8 -d"$((secs + 2))s" -s tests/load/password_hash.lua "$url" >"$log.hash" &
hash=$!
sleep 1
wrk -t1 -c64 -d"${secs}s" --latency "$url/ping" | grep -E "Requests/sec|50%|99%"
wait $hash
echo "   password hashes:"; grep -E "Requests/sec|Non-2xx" "$log.hash" || true
rm -f "$log.hash"
