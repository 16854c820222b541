"""Flower (1.42, Message API) simulation benchmark: federated softmax regression.

Every virtual SuperNode generates its own synthetic data from its partition id
each time it trains, runs one local SGD epoch, and FedAvg aggregates all
clients every round. The simulation runs on Flower's Ray backend with one CPU
per ClientApp actor.

Prints one JSON line on stdout; logs (Flower, Ray, per-round timings) go to
stderr.
"""

import argparse
import contextlib
import json
import os
import sys
import threading
import time

# Flower sends a usage event over the network at start and end of a
# simulation; keep that out of a timed benchmark. Must be set before import.
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")

import numpy as np
import psutil
import ray
from flwr.app import (
    Array,
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg
from flwr.simulation import run_simulation

import softmax_task as task


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def to_record(weight: np.ndarray, bias: np.ndarray) -> ArrayRecord:
    return ArrayRecord({"weight": Array(weight), "bias": Array(bias)})


CLIENT_RESOURCES = {"num_cpus": 1, "num_gpus": 0.0}


# --- ClientApp --------------------------------------------------------------

client_app = ClientApp()


@client_app.train()
def train(msg: Message, context: Context) -> Message:
    arrays = msg.content["arrays"]
    config = msg.content["config"]
    weight, bias, loss = task.train_client(
        arrays["weight"].numpy(),
        arrays["bias"].numpy(),
        seed=int(config["seed"]),
        partition_id=int(context.node_config["partition-id"]),
        samples=int(config["samples"]),
    )
    content = RecordDict(
        {
            "arrays": to_record(weight, bias),
            "metrics": MetricRecord(
                {"num-examples": int(config["samples"]), "train-loss": loss}
            ),
        }
    )
    return Message(content=content, reply_to=msg)


# --- ServerApp --------------------------------------------------------------


class TimedFedAvg(FedAvg):
    """FedAvg that records when each round's training starts and ends."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.round_starts: list[float] = []
        self.round_ends: list[float] = []

    def configure_train(self, server_round, arrays, config, grid):
        self.round_starts.append(time.perf_counter())
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_train(self, server_round, replies):
        result = super().aggregate_train(server_round, replies)
        self.round_ends.append(time.perf_counter())
        return result


def wait_for_actor_pool(cpus_per_client: float) -> None:
    """Block until Flower's Ray backend has started and placed its actors.

    The ServerApp thread starts alongside the Simulation Runtime, so without
    this the first round would also time `ray.init`. Flower sizes the actor
    pool to fill the node's CPUs, so the pool is placed once fewer CPUs than
    one client needs remain free. The actor processes may still be starting
    (importing Flower) then, which round 1 does include.
    """
    while not (
        ray.is_initialized()
        and ray.available_resources().get("CPU", 0) < cpus_per_client
    ):
        time.sleep(0.05)


def make_server_app(args: argparse.Namespace, outcome: dict) -> ServerApp:
    """ServerApp whose final arrays and round timings land in `outcome`.

    In `run_simulation` the ServerApp runs in a thread of this process, so a
    plain dict is enough to get results out of it.
    """
    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        strategy = TimedFedAvg(
            fraction_train=1.0,
            fraction_evaluate=0.0,
            min_train_nodes=args.clients,
            min_available_nodes=args.clients,
        )
        weight, bias = task.initial_params()
        wait_for_actor_pool(CLIENT_RESOURCES["num_cpus"])
        result = strategy.start(
            grid=grid,
            initial_arrays=to_record(weight, bias),
            num_rounds=args.rounds,
            train_config=ConfigRecord({"seed": args.seed, "samples": args.samples}),
        )
        outcome["weight"] = result.arrays["weight"].numpy()
        outcome["bias"] = result.arrays["bias"].numpy()
        outcome["round_times"] = list(
            zip(strategy.round_starts, strategy.round_ends, strict=True)
        )
        outcome["train_loss"] = {
            r: m["train-loss"] for r, m in result.train_metrics_clientapp.items()
        }

    return server_app


# --- Memory of the driver plus every Ray process ----------------------------


class MemoryMonitor(threading.Thread):
    """Polls the summed RSS of this process and all Ray processes.

    Ray's head processes (gcs_server, raylet, dashboard, monitors) are started
    by the driver and the agents and actor workers by the raylet, so they all
    sit in the driver's process tree. Ray processes outside the tree (should
    any get re-parented) are picked up by name or path and reported; that scan
    reads every process on the machine, so it runs only once a second.
    """

    def __init__(self, interval: float = 0.2, scan_every: int = 5) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.scan_every = scan_every
        self.samples = 0
        self.root = psutil.Process()
        self.stop_event = threading.Event()
        self.peak_rss = 0
        # Ray processes found outside the driver's tree, kept between scans.
        self.outsiders: set[psutil.Process] = set()
        # pid -> [latest process name, peak RSS, found outside the tree]
        self.seen: dict[int, list] = {}

    @staticmethod
    def _is_ray_process(p: psutil.Process) -> bool:
        name = p.info["name"] or ""
        cmdline = " ".join(p.info["cmdline"] or [])
        return (
            name.startswith("ray::")
            or name in ("gcs_server", "raylet")
            or "site-packages/ray/" in cmdline
        )

    @staticmethod
    def _label(p: psutil.Process) -> str:
        """Process name, or the script it runs for Ray's Python helpers."""
        name = p.name()
        if name.startswith("python"):
            scripts = [a for a in p.cmdline()[1:] if a.endswith(".py")]
            if scripts:
                return os.path.basename(scripts[0])
        return name

    def processes(self) -> dict[psutil.Process, bool]:
        """Processes to count, each flagged True if found outside the tree."""
        procs = {self.root: False}
        procs.update((p, False) for p in self.root.children(recursive=True))
        if self.samples % self.scan_every == 0:
            self.outsiders = {
                p
                for p in psutil.process_iter(["name", "cmdline", "create_time"])
                if p not in procs
                and (p.info["create_time"] or 0) >= self.root.create_time()
                and self._is_ray_process(p)
            }
        procs.update((p, True) for p in self.outsiders if p not in procs)
        self.samples += 1
        return procs

    def sample(self) -> None:
        total = 0
        for p, outside in self.processes().items():
            try:
                rss = p.memory_info().rss
                name = self._label(p)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            total += rss
            entry = self.seen.setdefault(p.pid, [name, 0, outside])
            entry[0] = name
            entry[1] = max(entry[1], rss)
        self.peak_rss = max(self.peak_rss, total)

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.sample()
            self.stop_event.wait(self.interval)

    def stop(self) -> None:
        self.stop_event.set()
        self.join()

    def report(self) -> str:
        lines = [
            f"  pid {pid:>7}  {name:<22} peak RSS {peak / 2**20:7.1f} MB"
            + ("  (outside driver tree)" if outside else "")
            for pid, (name, peak, outside) in sorted(self.seen.items())
        ]
        return "\n".join(lines)


@contextlib.contextmanager
def stdout_to_stderr():
    """Send everything written to fd 1 (by us, Flower, Ray or child processes
    that inherit it) to stderr, so stdout carries only the JSON line."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def main() -> None:
    args = parse_args()
    outcome: dict = {}

    monitor = MemoryMonitor()
    monitor.start()
    with stdout_to_stderr():
        start = time.perf_counter()
        run_simulation(
            server_app=make_server_app(args, outcome),
            client_app=client_app,
            num_supernodes=args.clients,
            backend_config={"client_resources": CLIENT_RESOURCES},
        )
        seconds = time.perf_counter() - start
    monitor.stop()

    if "weight" not in outcome:
        sys.exit("ServerApp did not produce final arrays")

    round_times = outcome["round_times"]
    for r, (t0, t1) in enumerate(round_times, start=1):
        print(
            f"round {r}: {t1 - t0:.3f} s, train-loss {outcome['train_loss'][r]:.6f}",
            file=sys.stderr,
        )
    round_seconds = round_times[-1][1] - round_times[0][0]
    print(
        f"processes sampled:\n{monitor.report()}\n"
        f"peak summed RSS {monitor.peak_rss / 2**20:.1f} MB",
        file=sys.stderr,
    )
    accuracy = task.accuracy(outcome["weight"], outcome["bias"], args.seed)
    print(
        json.dumps(
            {
                "system": "flower",
                "clients": args.clients,
                "rounds": args.rounds,
                "seconds": round(seconds, 3),
                "round_seconds": round(round_seconds, 3),
                "peak_rss_mb": round(monitor.peak_rss / 2**20, 1),
                "accuracy": accuracy,
            }
        )
    )


if __name__ == "__main__":
    main()
