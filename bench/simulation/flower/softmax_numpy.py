"""Plain-NumPy reference for the Flower simulation benchmark.

Runs the same federated softmax regression as softmax_flower.py (every client
trains every round, FedAvg weighted by sample count) in one sequential loop,
with no framework around it. Prints one JSON line on stdout.
"""

import argparse
import json
import resource
import sys
import time

import numpy as np

import softmax_task as task


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    weight, bias = task.initial_params()

    # Every client reports the same number of examples, but aggregate the way
    # Flower's FedAvg does: sum of (array * n_i / n_total), in float32.
    factor = args.samples / (args.clients * args.samples)

    start = time.perf_counter()
    for server_round in range(1, args.rounds + 1):
        new_weight = np.zeros_like(weight)
        new_bias = np.zeros_like(bias)
        loss_sum = 0.0
        for partition_id in range(args.clients):
            w, b, loss = task.train_client(
                weight, bias, args.seed, partition_id, args.samples
            )
            new_weight += w * factor
            new_bias += b * factor
            loss_sum += loss * factor
        weight, bias = new_weight, new_bias
        print(f"round {server_round}: train-loss {loss_sum:.6f}", file=sys.stderr)
    seconds = time.perf_counter() - start

    # ru_maxrss is in KiB on Linux.
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "system": "numpy",
                "clients": args.clients,
                "rounds": args.rounds,
                "seconds": round(seconds, 3),
                "round_seconds": round(seconds, 3),
                "peak_rss_mb": round(peak_rss_mb, 1),
                "accuracy": task.accuracy(weight, bias, args.seed),
            }
        )
    )


if __name__ == "__main__":
    main()
