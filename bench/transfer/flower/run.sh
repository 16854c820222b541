#!/usr/bin/env bash
# Flower 1.42 side of the model-transfer benchmark: a real deployment on loopback (flower-superlink, two
# flower-supernodes, `flwr run`), one float32 array of PARAMS parameters sent to both SuperNodes and back,
# FedAvg, ROUNDS rounds. Prints ONE line of JSON on stdout; everything else goes to stderr.
#
#   bench/transfer/flower/run.sh                          # 25,000,000 parameters (100 MB), 3 rounds
#   PARAMS=1000000 ROUNDS=2 bench/transfer/flower/run.sh
#
# Environment: ROUNDS (3), PARAMS (25000000), MODEL (zeros; or random: every chunk differs), SAMPLE_INTERVAL (0.2 s), TIMEOUT (900 s for the run),
# KEEP_LOGS=1 keeps the temp dir after a successful run (it is always kept, and named, after a failure),
# SUPERLINK=pollen runs the same Flower apps and SuperNodes on a Pollen SuperLink (`pollen superlink
# --flower-serverapp`, the release build or POLLEN) in place of Flower's.
#
# Measured:
#   rounds          seconds per round, from the ServerApp: start of configure_train(r) to end of aggregate_train(r)
#   *_peak_mb       VmHWM (MiB) per process, sampled every SAMPLE_INTERVAL s over the whole process tree and
#                   once more just before everything is killed; flwr-serverapp/flwr-clientapp are started through
#                   a measuring wrapper (rusage_wrapper.py) that also records their ru_maxrss when they exit,
#                   and the larger of the two readings is reported. A SuperNode runs one ClientApp process per
#                   message; clientapp_peak_mb is the largest of them, per SuperNode.
#   wall_s          from starting `flwr run` until its log stream ends (run finished)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
rounds=${ROUNDS:-3}
params=${PARAMS:-25000000}
model=${MODEL:-zeros}
interval=${SAMPLE_INTERVAL:-0.2}
run_timeout=${TIMEOUT:-900}

python=$("$root/scripts/flower-venv")
bin=$(dirname "$python")
work=$(mktemp -d "${TMPDIR:-/tmp}/flower-transfer.XXXXXX")
log() { echo "[flower-transfer] $*" >&2; }

export FLWR_TELEMETRY_ENABLED=0
# SuperLink and SuperNode start `flower-superexec` by name, and the SuperExec starts `flwr-serverapp` /
# `flwr-clientapp` by name: the venv must be on PATH, and the measuring wrappers in front of it.
mkdir -p "$work/wrapbin"
for name in flwr-serverapp flwr-clientapp; do
    printf '#!%s\nimport runpy\nrunpy.run_path(%s, {"WRAPPED_NAME": %s}, run_name="__main__")\n' \
        "$python" "'$here/rusage_wrapper.py'" "'$name'" >"$work/wrapbin/$name"
    chmod +x "$work/wrapbin/$name"
done
export PATH="$work/wrapbin:$bin:$PATH"
export FLWR_BENCH_REAL_BIN="$bin"

started=()      # PIDs this script started (their descendants are found through /proc)
sampler_pid=""
ok=0
descendants() { # all live descendants of the given PIDs (including them)
    "$python" - "$@" <<'PY'
import os, sys
kids = {}
for n in os.listdir("/proc"):
    if n.isdigit():
        try:
            data = open(f"/proc/{n}/stat").read()
        except OSError:
            continue
        kids.setdefault(int(data[data.rfind(")") + 2:].split()[1]), []).append(int(n))
seen, stack = [], [int(p) for p in sys.argv[1:]]
while stack:
    p = stack.pop()
    if p in seen or not os.path.exists(f"/proc/{p}"):
        continue
    seen.append(p)
    stack += kids.get(p, [])
print(" ".join(map(str, seen)))
PY
}
cleanup() {
    set +e
    if [ -n "$sampler_pid" ]; then
        kill -TERM "$sampler_pid" 2>/dev/null   # takes one last sample, writes peaks.json, exits
        wait "$sampler_pid" 2>/dev/null
    fi
    if [ ${#started[@]} -gt 0 ]; then
        # flower-supernode ignores SIGTERM for a long time and the SuperLink's SuperExec runs in its own
        # session, so every process of the tree is killed by PID with SIGKILL.
        pids=$(descendants "${started[@]}")
        [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
        for p in "${started[@]}"; do wait "$p" 2>/dev/null; done
        for _ in $(seq 1 50); do   # until they are gone (or zombies), so that back-to-back runs do not overlap
            alive=0
            for p in $pids; do
                [ -e "/proc/$p/stat" ] && ! grep -q ') Z ' "/proc/$p/stat" 2>/dev/null && alive=1
            done
            [ "$alive" = 0 ] && break
            sleep 0.1
        done
    fi
    if [ "$ok" = 1 ] && [ "${KEEP_LOGS:-0}" != 1 ]; then
        rm -rf "$work"
    else
        log "logs kept in $work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { log "FAILED: $*"; log "logs in $work"; exit 1; }

read -r sl_port sn0_port sn1_port < <("$python" -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
wait_port() {
    for _ in $(seq 1 300); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
    fail "port $1 never opened ($2)"
}

# --- SuperLink: Fleet, Control and Runtime (ex-ServerAppIo) APIs all share one HTTP port in 1.42 -----------
mkdir -p "$work/superlink/home"
if [ "${SUPERLINK:-flower}" = pollen ]; then
    pollen=${POLLEN:-$root/.build/release/pollen}
    (cd "$work/superlink" && FLWR_BENCH_TIMING_FILE="$work/timing.txt" FLWR_BENCH_RUSAGE_FILE="$work/superlink/rusage.txt" \
        exec "$pollen" superlink --insecure --host 127.0.0.1 --port "$sl_port" --database :memory: \
        --flower-serverapp "$work/wrapbin/flwr-serverapp") >"$work/superlink/log" 2>&1 &
else
    (cd "$work/superlink" && FLWR_HOME="$work/superlink/home" FLWR_BENCH_TIMING_FILE="$work/timing.txt" \
        FLWR_BENCH_RUSAGE_FILE="$work/superlink/rusage.txt" exec "$bin/flower-superlink" --insecure \
        --isolation subprocess --host 127.0.0.1 --port "$sl_port" --disable-runtime-dependency-installation) \
        >"$work/superlink/log" 2>&1 &
fi
started+=($!); sl_pid=$!
wait_port "$sl_port" superlink
log "superlink pid $sl_pid on 127.0.0.1:$sl_port"

# --- two SuperNodes, each with its own Runtime API port (ex-ClientAppIo) and directory ---------------------
sn_pids=()
for i in 0 1; do
    port_var="sn${i}_port"; port=${!port_var}
    mkdir -p "$work/supernode$i/home"
    (cd "$work/supernode$i" && FLWR_HOME="$work/supernode$i/home" FLWR_BENCH_RUSAGE_FILE="$work/supernode$i/rusage.txt" \
        exec "$bin/flower-supernode" --insecure --superlink "127.0.0.1:$sl_port" --isolation subprocess \
        --host 127.0.0.1 --port "$port" --node-config "partition-id=$i num-partitions=2") \
        >"$work/supernode$i/log" 2>&1 &
    started+=($!); sn_pids+=($!)
    log "supernode$i pid $! runtime API 127.0.0.1:$port"
done

"$python" "$here/peakmem.py" "$work/peaks.json" "$interval" "superlink=$sl_pid" \
    "supernode0=${sn_pids[0]}" "supernode1=${sn_pids[1]}" --ignore-prefix "$work/wrapbin/" \
    2>"$work/peakmem.log" &
sampler_pid=$!

# --- the CLI's SuperLink connection lives in $FLWR_HOME/config.toml in 1.42 ----------------------------------
mkdir -p "$work/cli"
cat >"$work/cli/config.toml" <<EOF
[superlink]
default = "bench"

[superlink.bench]
address = "127.0.0.1:$sl_port"
insecure = true
EOF
flwr() { (cd "$work/cli" && FLWR_HOME="$work/cli" "$bin/flwr" "$@"); }

# Wait until both SuperNodes are online, so round 1 does not include their start-up.
online=0
for _ in $(seq 1 120); do
    online=$(flwr supernode ls bench --format json 2>/dev/null | "$python" -c '
import json, sys
try: print(sum(n.get("status") == "online" for n in json.load(sys.stdin)["nodes"]))
except Exception: print(0)') || online=0
    [ "$online" -ge 2 ] && break
    for p in "${started[@]}"; do kill -0 "$p" 2>/dev/null || fail "process $p exited during start-up"; done
    sleep 0.5
done
[ "$online" -ge 2 ] || fail "SuperNodes did not come online"
log "2 SuperNodes online; flwr run (params=$params rounds=$rounds)"

# --- the run: a copy of the app, so nothing is written into the repository ----------------------------------
mkdir -p "$work/app"
(cd "$here/app" && tar --exclude=__pycache__ -cf - .) | (cd "$work/app" && tar -xf -)
t0=$("$python" -c 'import time; print(time.time())')
rc=0
# In the background and waited for, so that a signal to this script is handled at once.
(cd "$work/cli" && FLWR_HOME="$work/cli" exec timeout "$run_timeout" "$bin/flwr" run "$work/app" bench --stream \
    --run-config "num-server-rounds=$rounds model-parameters=$params initial-model=\"$model\"") >"$work/flwr-run.log" 2>&1 &
started+=($!)
wait $! || rc=$?
t1=$("$python" -c 'import time; print(time.time())')
grep -E '^(ROUND|TOTAL) ' "$work/flwr-run.log" | sed 's/^/[flwr run] /' >&2 || true
[ "$rc" = 0 ] || fail "flwr run exited with $rc"
# The stream ends with the run; if it ended early, wait for the ServerApp's last line.
for _ in $(seq 1 600); do grep -q '^TOTAL' "$work/timing.txt" 2>/dev/null && break; sleep 0.5; done
grep -q '^TOTAL' "$work/timing.txt" 2>/dev/null || fail "the ServerApp never reported TOTAL (see flwr-run.log)"
[ "$(grep -c '^ROUND ' "$work/timing.txt")" = "$rounds" ] || fail "expected $rounds ROUND lines in timing.txt"
grep -q '^ROUND_FAILED' "$work/timing.txt" && fail "a round had no valid replies (see flwr-run.log)"
# Give the ServerApp (and the last ClientApps) up to 15 s to exit by themselves, so that their wrappers record
# ru_maxrss; whatever is still running is read by the sampler's last sample and then killed.
lines() { cat "$@" 2>/dev/null | wc -l; }
for _ in $(seq 1 75); do
    [ "$(lines "$work/superlink/rusage.txt")" -ge 1 ] && [ "$(lines "$work/supernode0/rusage.txt")" -ge "$rounds" ] \
        && [ "$(lines "$work/supernode1/rusage.txt")" -ge "$rounds" ] && break
    sleep 0.2
done

# Stop the sampler (it takes a last sample of every live process first), then build the result.
kill -TERM "$sampler_pid"; wait "$sampler_pid" || true; sampler_pid=""
"$python" - "$work" "$params" "$t0" "$t1" <<'PY'
import json, os, statistics, sys
work, params, t0, t1 = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
rounds, total = {}, None
for line in open(os.path.join(work, "timing.txt")):
    parts = line.split()
    if parts[0] == "ROUND":
        rounds[int(parts[1])] = float(parts[2])
    elif parts[0] == "TOTAL":
        total = float(parts[1])
procs = json.load(open(os.path.join(work, "peaks.json")))["processes"]
def rusage(path, name):
    out = []
    if os.path.exists(path):
        for line in open(path):
            p = line.split()
            if p[0] == name:
                out.append(int(p[2]))
    return out
def peak(root, kind, extra=()):
    vals = [p["peak_kb"] for p in procs if p["root"] == root and p["kind"] == kind] + list(extra)
    return round(max(vals) / 1024, 1) if vals else None
def count(root, kind):
    return sum(1 for p in procs if p["root"] == root and p["kind"] == kind)
nodes = ("supernode0", "supernode1")
result = {
    "side": "flower",
    "superlink": os.environ.get("SUPERLINK", "flower"),
    "model": os.environ.get("MODEL", "zeros"),
    "params": params,
    "rounds": [rounds[r] for r in sorted(rounds)],
    "median_round_s": round(statistics.median(rounds.values()), 3),
    "superlink_peak_mb": peak("superlink", "flower-superlink") or peak("superlink", "pollen"),
    "serverapp_peak_mb": peak("superlink", "flwr-serverapp",
                              rusage(os.path.join(work, "superlink", "rusage.txt"), "flwr-serverapp")),
    "supernode_peak_mb": [peak(n, "flower-supernode") for n in nodes],
    "clientapp_peak_mb": [peak(n, "flwr-clientapp",
                               rusage(os.path.join(work, n, "rusage.txt"), "flwr-clientapp")) for n in nodes],
    "wall_s": round(t1 - t0, 3),
    # extras: the SuperExec launcher processes, ClientApp processes seen, the ServerApp's strategy total
    "superlink_superexec_peak_mb": peak("superlink", "flower-superexec"),
    "supernode_superexec_peak_mb": [peak(n, "flower-superexec") for n in nodes],
    "clientapp_processes": [max(count(n, "flwr-clientapp"),
                                len(rusage(os.path.join(work, n, "rusage.txt"), "flwr-clientapp"))) for n in nodes],
    "strategy_total_s": total,
}
with open(os.path.join(work, "result.json"), "w") as f:
    json.dump(result, f)
PY
[ -s "$work/result.json" ] || fail "could not build the result"
ok=1
cat "$work/result.json"; echo
