"""ServerApp: FedAvg over one float32 array "w" of `model-parameters` zeros; times every round.

A round runs from the start of configure_train(round) to the end of aggregate_train(round).
Each round prints `ROUND <n> <seconds>` and the end prints `TOTAL <seconds>` (stdout, flushed: it reaches
the run's log, `flwr run --stream`). If FLWR_BENCH_TIMING_FILE is set in the environment (inherited from the
SuperLink through its SuperExec), the same lines are appended to that file too.
"""

import os
import time

import numpy as np

from flwr.app import Array, ArrayRecord, Context
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg


def _emit(line: str) -> None:
    print(line, flush=True)
    path = os.environ.get("FLWR_BENCH_TIMING_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


class TimedFedAvg(FedAvg):
    """FedAvg that reports the wall time of every training round."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._round_start: dict[int, float] = {}
        self.round_seconds: dict[int, float] = {}

    def configure_train(self, server_round, arrays, config, grid):
        self._round_start[server_round] = time.perf_counter()
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_train(self, server_round, replies):
        result = super().aggregate_train(server_round, replies)
        arrays, _ = result
        seconds = time.perf_counter() - self._round_start[server_round]
        self.round_seconds[server_round] = seconds
        if arrays is None:
            _emit(f"ROUND_FAILED {server_round}")
        _emit(f"ROUND {server_round} {seconds:.3f}")
        return result


app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    num_rounds = int(context.run_config["num-server-rounds"])
    num_params = int(context.run_config["model-parameters"])
    if context.run_config.get("initial-model", "zeros") == "random":
        # Uniform in [-1, 1], seed 0: no two chunks alike, so every round moves the whole model each way.
        values = np.random.default_rng(0).uniform(-1, 1, num_params).astype(np.float32)
    else:
        values = np.zeros(num_params, dtype=np.float32)
    initial = ArrayRecord({"w": Array(values)})
    strategy = TimedFedAvg(
        fraction_train=1.0,
        fraction_evaluate=0.0,
        min_train_nodes=2,
        min_evaluate_nodes=0,
        min_available_nodes=2,
    )
    t0 = time.perf_counter()
    result = strategy.start(grid=grid, initial_arrays=initial, num_rounds=num_rounds)
    total = time.perf_counter() - t0
    w = result.arrays["w"].numpy() if "w" in result.arrays else None
    check = f" w[0]={float(w[0]):.6f} w[-1]={float(w[-1]):.6f}" if w is not None and w.size else ""
    _emit(f"TOTAL {total:.3f}{check}")
