#!/usr/bin/env bash
# Stores KV_KEYS (10000) values of 100 bytes under k00000 … into a running steadyloop.
#   tests/load/kv_preload.sh http://127.0.0.1:8080
set -euo pipefail
url="${1:-http://127.0.0.1:8080}"
keys="${KV_KEYS:-10000}"
value=$(head -c 100 /dev/zero | tr '\0' 'v')
# curl's --config reads many requests from stdin ("next" separates them) and runs them
# over a few connections.
for ((i = 0; i < keys; i++)); do
  printf 'next\nurl = "%s/kv/k%05d"\nrequest = "PUT"\ndata = "%s"\noutput = "/dev/null"\n' \
    "$url" "$i" "$value"
  printf 'header = "Content-Type: application/octet-stream"\n'
done | tail -n +2 | curl --no-progress-meter -f --parallel --parallel-max 8 --config -
echo "preloaded $keys keys"
