#!/usr/bin/env bash
# The Pollen side of the model-transfer benchmark: a SuperLink, two SuperNodes and `pollen run --app
# model-transfer` on 127.0.0.1. Prints one line of JSON (round times, peak memory of every process); logs go to
# a temporary folder named on standard error.
#
#   bench/transfer/pollen.sh                       # 25,000,000 parameters (100 MB), 3 rounds
#   PARAMS=1000000 ROUNDS=2 bench/transfer/pollen.sh
#   ISOLATION=none bench/transfer/pollen.sh        # ServerApp inside the SuperLink, ClientApps inside the
#                                                  # SuperNodes (default: a process of their own each)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
params=${PARAMS:-25000000}
rounds=${ROUNDS:-3}
isolation=${ISOLATION:-process}
pollen=${POLLEN:-$root/.build/release/pollen}
work=$(mktemp -d)
echo "pollen: logs in $work" >&2
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

port=$(free_port)
"$pollen" superlink --insecure --port "$port" --database :memory: --isolation "$isolation" >"$work/superlink.log" 2>&1 &
link=$!
pids=($link)
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
wait_port "$port"
for n in 1 2; do
    "$pollen" supernode --insecure --superlink "127.0.0.1:$port" --isolation "$isolation" >"$work/supernode-$n.log" 2>&1 &
    pids+=($!)
done

# Peak resident memory (VmHWM) of every process of the deployment, read until the run ends.
peak() { awk '/VmHWM/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
declare -A peaks
# The ServerApp process (a child of the SuperLink) and the ClientApp processes (children of the SuperNodes) come
# and go: the largest of each kind is kept.
declare -A kinds
sample() {
    for pid in "${pids[@]}"; do
        local kb; kb=$(peak "$pid"); [[ ${kb:-0} -gt ${peaks[$pid]:-0} ]] && peaks[$pid]=$kb
        for child in $(pgrep -P "$pid" 2>/dev/null); do
            local kind; kind=$({ tr '\0' ' ' < "/proc/$child/cmdline"; } 2>/dev/null | awk '{ print $2 }') || true
            [[ -n $kind ]] || continue  # the child ended meanwhile
            kb=$(peak "$child"); [[ ${kb:-0} -gt ${kinds[$kind]:-0} ]] && kinds[$kind]=$kb
        done
    done
    return 0
}

start=$(date +%s.%N)
"$pollen" run --insecure --superlink "127.0.0.1:$port" --app model-transfer --run-config "model-parameters=$params" \
    --run-config "num-server-rounds=$rounds" --stream >"$work/run.log" 2>&1 &
run=$!
while kill -0 $run 2>/dev/null; do sample; sleep 0.2; done
wait $run || { echo "the run failed; see $work" >&2; cat "$work/run.log" >&2; exit 1; }
end=$(date +%s.%N)
sample

python3 - "$work/run.log" "$isolation" "$params" "$start" "$end" "${kinds[serverapp]:-0}" "${kinds[clientapp]:-0}" "${peaks[$link]}" "${peaks[${pids[1]}]}" "${peaks[${pids[2]}]}" <<'PY'
import json, re, sys
log, isolation, params, start, end, serverapp, clientapp, link, *nodes = sys.argv[1:]
rounds = [float(m) for m in re.findall(r"^round \d+: ([0-9.]+) s", open(log).read(), re.M)]
mb = lambda kb: round(int(kb) / 1024, 1)
print(json.dumps({
    "side": "pollen", "isolation": isolation, "params": int(params), "rounds": rounds, "median_round_s": sorted(rounds)[len(rounds) // 2],
    "superlink_peak_mb": mb(link), "serverapp_peak_mb": mb(serverapp), "supernode_peak_mb": [mb(n) for n in nodes],
    "clientapp_peak_mb": mb(clientapp), "wall_s": round(float(end) - float(start), 2),
}))
PY
