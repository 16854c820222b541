#!/usr/bin/env bash
# The simulation benchmark: the same federated softmax-regression workload in Pollen (release build), in
# Flower 1.42's simulation engine (Ray backend) and in a plain NumPy loop, one after another on this machine.
# Prints each side's JSON line, then Flower's time and memory over Pollen's.
#
#   bench/simulation/run.sh                      # 1,000 clients x 500 samples, 10 rounds
#   bench/simulation/run.sh --clients 100 --rounds 3
#   POLLEN_ONLY=1 bench/simulation/run.sh --clients 100000 --rounds 2
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
venv=${POLLEN_BENCH_VENV:-$bench/.venv-flower}

echo "building the Pollen side (release)..." >&2
(cd "$bench" && swift build -c release --product SimulationBench >&2)
pollen=$("$bench/.build/release/SimulationBench" "$@")
echo "$pollen"
[ -n "${POLLEN_ONLY:-}" ] && exit 0

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import flwr, psutil" 2>/dev/null; then
    echo "installing Flower 1.42 into $venv..." >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "flwr[simulation]==1.41.0" psutil >&2
    # 1.42 pins a certifi release the registry lacks; its other requirements equal 1.41's.
    "$venv/bin/pip" install -q --no-deps flwr==1.42.0 >&2
fi
numpy=$(cd "$here/flower" && "$venv/bin/python" softmax_numpy.py "$@")
echo "$numpy"
flower=$(cd "$here/flower" && "$venv/bin/python" softmax_flower.py "$@")
echo "$flower"

python3 - "$pollen" "$numpy" "$flower" <<'PY'
import json, sys
pollen, numpy, flower = (json.loads(arg) for arg in sys.argv[1:])
print(f"\n{'':8} {'seconds':>9} {'rounds only':>12} {'peak MB':>9} {'accuracy':>9}")
for row in (pollen, numpy, flower):
    print(f"{row['system']:8} {row['seconds']:9.3f} {row['round_seconds']:12.3f} {row['peak_rss_mb']:9.1f} {row['accuracy']:9.4f}")
print(f"\nFlower / Pollen: {flower['seconds'] / pollen['seconds']:.1f}x the time "
      f"({flower['round_seconds'] / pollen['round_seconds']:.1f}x counting rounds only), "
      f"{flower['peak_rss_mb'] / pollen['peak_rss_mb']:.1f}x the memory")
print(f"NumPy loop / Pollen: {numpy['seconds'] / pollen['seconds']:.1f}x the time")
PY
