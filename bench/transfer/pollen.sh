#!/usr/bin/env bash
# The Pollen side of the model-transfer benchmark: a SuperLink, two SuperNodes and `pollen run --app
# model-transfer` on 127.0.0.1. Prints one line of JSON (round times, peak memory of every process); logs go to
# a temporary folder named on standard error.
#
#   bench/transfer/pollen.sh                       # 25,000,000 parameters (100 MB), 3 rounds
#   PARAMS=1000000 ROUNDS=2 bench/transfer/pollen.sh
#   MODEL=random bench/transfer/pollen.sh          # a random initial model: every chunk differs
#   ISOLATION=none bench/transfer/pollen.sh        # ServerApp inside the SuperLink, ClientApps inside the
#                                                  # SuperNodes (default: a process of their own each)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
params=${PARAMS:-25000000}
rounds=${ROUNDS:-3}
model=${MODEL:-zeros}
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

# Peak resident memory (VmHWM) of the daemons and of the ServerApp and ClientApp processes they start, sampled by
# one Python process (a sampler forking pgrep and awk every sample took a fifth of a core from the deployment).
python3 "$here/pollen_peaks.py" "${SAMPLE_INTERVAL:-0.05}" "superlink=$link" "supernode1=${pids[1]}" "supernode2=${pids[2]}" \
    >"$work/peaks.json" &
sampler=$!

start=$(date +%s.%N)
"$pollen" run --insecure --superlink "127.0.0.1:$port" --app model-transfer --run-config "model-parameters=$params" --run-config "initial-model=$model" \
    --run-config "num-server-rounds=$rounds" --stream >"$work/run.log" 2>&1 &
run=$!
wait $run || { echo "the run failed; see $work" >&2; cat "$work/run.log" >&2; exit 1; }
end=$(date +%s.%N)
kill -TERM $sampler; wait $sampler || true
# CPU seconds (user + system) of each daemon and the app processes it started and reaped, the ServerApp's included
# once the SuperLink has reaped it.
cpu() { awk '{ print ($14 + $15 + $16 + $17) / 100 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
for _ in $(seq 1 50); do [[ -z $(pgrep -P "$link") ]] && break; sleep 0.1; done
cpus="$(cpu "$link") $(cpu "${pids[1]}") $(cpu "${pids[2]}")"

python3 - "$work/run.log" "$isolation" "$params" "$start" "$end" "$work/peaks.json" "$cpus" <<'PY'
import json, os, re, sys
log, isolation, params, start, end, peaks, cpus = sys.argv[1:]
peaks = json.load(open(peaks))
link, nodes = peaks["roots"]["superlink"], [peaks["roots"]["supernode1"], peaks["roots"]["supernode2"]]
serverapp, clientapp = peaks["kinds"].get("serverapp", 0), peaks["kinds"].get("clientapp", 0)
link_cpu, *node_cpus = [float(c) for c in cpus.split()]
rounds = [float(m) for m in re.findall(r"^round \d+: ([0-9.]+) s", open(log).read(), re.M)]
mb = lambda kb: round(int(kb) / 1024, 1)
print(json.dumps({
    "side": "pollen", "model": os.environ.get("MODEL", "zeros"), "isolation": isolation, "params": int(params), "rounds": rounds, "median_round_s": sorted(rounds)[len(rounds) // 2],
    "superlink_peak_mb": mb(link), "serverapp_peak_mb": mb(serverapp), "supernode_peak_mb": [mb(n) for n in nodes],
    "clientapp_peak_mb": mb(clientapp), "wall_s": round(float(end) - float(start), 2),
    "cpu_s": {"superlink_and_serverapp": link_cpu, "supernodes_and_clientapps": node_cpus},
}))
PY
