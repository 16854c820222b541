#!/usr/bin/env bash
# The model-transfer benchmark: a 25M-parameter float32 model (100 MB) sent to 2 SuperNodes and back, FedAvg,
# 3 rounds, on loopback; Pollen (ServerApp and ClientApps in processes of their own, then inside the daemons) and
# Flower 1.42 (flower-superlink, two flower-supernodes, `flwr run`) one after the other on this machine.
#
#   bench/transfer/run.sh
#   PARAMS=1000000 ROUNDS=2 bench/transfer/run.sh
#   MODEL=random bench/transfer/run.sh   # a random initial model (every chunk differs) on both sides
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
echo "building (release)..." >&2
(cd "$root" && swift build -c release --product pollen >&2)
isolated=$(ISOLATION=process "$here/pollen.sh")
in_process=$(ISOLATION=none "$here/pollen.sh")
flower=$("$here/flower/run.sh")
echo "pollen (isolated apps): $isolated"
echo "pollen (apps inside the daemons): $in_process"
echo "flower: $flower"
python3 - "$isolated" "$in_process" "$flower" <<'PY'
import json, sys
isolated, in_process, flower = (json.loads(arg) for arg in sys.argv[1:])
print(f"\n{flower['params']:,} float32 parameters ({flower.get('model', 'zeros')} initial model) to 2 SuperNodes and back, {len(flower['rounds'])} rounds (median seconds a round):")
print(f"  flower                   {flower['median_round_s']:6.2f} s   SuperLink {flower['superlink_peak_mb']:5.0f} MiB, ServerApp {flower['serverapp_peak_mb']:5.0f} MiB,"
      f" SuperNode {max(flower['supernode_peak_mb']):4.0f} MiB + ClientApp {max(flower['clientapp_peak_mb']):4.0f} MiB")
for name, row in (("pollen, isolated apps", isolated), ("pollen, apps in daemons", in_process)):
    print(f"  {name:24} {row['median_round_s']:6.2f} s   SuperLink {row['superlink_peak_mb']:5.0f} MiB, ServerApp {row['serverapp_peak_mb']:5.0f} MiB,"
          f" SuperNode {max(row['supernode_peak_mb']):4.0f} MiB + ClientApp {row['clientapp_peak_mb']:4.0f} MiB"
          f"   ({flower['median_round_s'] / row['median_round_s']:.1f}x faster a round)")
PY
