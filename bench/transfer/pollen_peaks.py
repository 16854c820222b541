"""Peak memory (VmHWM) of a Pollen deployment's processes, sampled without forking a process per sample.

    python3 pollen_peaks.py INTERVAL LABEL=PID [LABEL=PID ...]

Every INTERVAL seconds it reads VmHWM of each root PID and of every descendant (found through
/proc/PID/task/TID/children, not by walking /proc), keeping the largest value per root label and per kind of
descendant (`serverapp`, `clientapp`: the `pollen` subcommand). On SIGTERM or SIGINT it takes one last sample and
prints {"roots": {label: kB}, "kinds": {kind: kB}} as one line of JSON. A sampler that forks pgrep and awk every
sample costs a fifth of a core, which a 2-core machine takes from the processes being measured.
"""

import json
import os
import signal
import sys
import threading


def read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def children(pid: int) -> list[int]:
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        found += [int(c) for c in read(f"/proc/{pid}/task/{tid}/children").split()]
    return found


def vmhwm_kb(pid: int) -> int:
    for line in read(f"/proc/{pid}/status").splitlines():
        if line.startswith(b"VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    interval = float(sys.argv[1])
    roots = {int(pid): label for label, pid in (arg.split("=", 1) for arg in sys.argv[2:])}
    peaks = {label: 0 for label in roots.values()}
    kinds: dict[str, int] = {}

    def sample() -> None:
        for root, label in roots.items():
            peaks[label] = max(peaks[label], vmhwm_kb(root))
            stack = children(root)
            while stack:
                pid = stack.pop()
                argv = read(f"/proc/{pid}/cmdline").split(b"\0")
                # Before exec a child is a copy of its daemon; its own peak starts at exec.
                if len(argv) > 1 and argv[1] in (b"serverapp", b"clientapp"):
                    kind = argv[1].decode()
                    kinds[kind] = max(kinds.get(kind, 0), vmhwm_kb(pid))
                stack += children(pid)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    while not stopped.is_set():
        sample()
        stopped.wait(interval)
    sample()  # a last reading before the caller stops the deployment
    print(json.dumps({"roots": peaks, "kinds": kinds}), flush=True)

if __name__ == "__main__":
    main()
