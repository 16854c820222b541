#!/usr/bin/env bash
# SuperLink request throughput: idle SuperNodes (1,000 by default, each with its own P-384 key) polling
# `pull-messages` with Flower's signed requests, against a Pollen SuperLink and a Flower 1.42 SuperLink run one
# after the other on this machine, with the same Swift load generator (FleetThroughputBench).
#
#   bench/fleet/run.sh                     # 1,000 nodes, 32 concurrent requests, 10 s each
#   NODES=200 SECONDS_PER_SIDE=5 bench/fleet/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
root=$(dirname "$bench")
nodes=${NODES:-1000}
seconds=${SECONDS_PER_SIDE:-10}
concurrency=${CONCURRENCY:-32}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

echo "building (release)..." >&2
(cd "$root" && swift build -c release --product pollen >&2)
(cd "$bench" && swift build -c release --product FleetThroughputBench >&2)
python=$("$root/scripts/flower-venv")
flower_bin=$(dirname "$python")
load="$bench/.build/release/FleetThroughputBench"

port=$(free_port)
"$root/.build/release/pollen" superlink --insecure --port "$port" --database :memory: >/dev/null 2>&1 &
pollen_pid=$!
trap 'kill $pollen_pid 2>/dev/null || true' EXIT
wait_port "$port"
pollen=$("$load" --url "http://127.0.0.1:$port" --nodes "$nodes" --seconds "$seconds" --concurrency "$concurrency")
kill $pollen_pid; wait $pollen_pid 2>/dev/null || true
echo "pollen: $pollen"

port=$(free_port)
work=$(mktemp -d)
(cd "$work" && FLWR_TELEMETRY_ENABLED=0 "$flower_bin/flower-superlink" --insecure --isolation process --port "$port" >"$work/flower.log" 2>&1) &
flower_pid=$!
trap 'kill $flower_pid 2>/dev/null || true' EXIT
wait_port "$port"
flower=$("$load" --url "http://127.0.0.1:$port" --nodes "$nodes" --seconds "$seconds" --concurrency "$concurrency")
kill $flower_pid; wait $flower_pid 2>/dev/null || true
echo "flower: $flower"

python3 - "$pollen" "$flower" <<'PY'
import json, sys
pollen, flower = (json.loads(arg) for arg in sys.argv[1:])
print(f"\npull-messages from {pollen['nodes']} idle nodes, {pollen['concurrency']} in flight:")
for name, row in (("pollen", pollen), ("flower", flower)):
    print(f"  {name:7} {row['requests_per_second']:9.0f} requests/s   p50 {row['p50_ms']:7.2f} ms   p99 {row['p99_ms']:7.2f} ms")
print(f"Pollen / Flower: {pollen['requests_per_second'] / flower['requests_per_second']:.1f}x the throughput")
PY
