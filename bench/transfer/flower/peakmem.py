"""Sample VmHWM of every process in a Flower deployment, by process tree.

    python peakmem.py OUT.json INTERVAL LABEL=PID [LABEL=PID ...] [--ignore-prefix DIR]

Every INTERVAL seconds it walks /proc, finds each root PID and all its descendants, and records for every
process (pid, start time) the largest VmHWM seen (kB) and its kind, taken from the command line:
flower-superlink, flower-superexec, flwr-serverapp, flower-supernode, flwr-clientapp, or "other".
Processes whose argv contains --ignore-prefix (the measuring wrappers) are skipped. VmHWM is a high-water
mark, so the last sample before a process exits is what counts; short-lived processes that exit between
two samples can be under-read (the wrappers in run.sh report those exactly from wait4's ru_maxrss).
OUT.json is rewritten after every sample that changed something, and once more on SIGTERM/SIGINT.
"""

import json
import os
import signal
import sys
import time

KINDS = ("flower-superlink", "flower-superexec", "flwr-serverapp", "flower-supernode", "flwr-clientapp")


def read_stat(pid: str):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    rest = data[data.rfind(")") + 2 :].split()
    # rest[0] = state, rest[1] = ppid, rest[19] = starttime
    return rest[0], int(rest[1]), rest[19]


def vmhwm_kb(pid: int):
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cmdline(pid: int):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def kind_of(argv, ignore_prefix):
    if ignore_prefix and any(a.startswith(ignore_prefix) for a in argv[:2]):
        return None
    for a in argv[:3]:
        base = os.path.basename(a)
        if base in KINDS:
            return base
    # A Pollen SuperLink in Flower's place (SUPERLINK=pollen): `pollen superlink ...`.
    if argv and os.path.basename(argv[0]) == "pollen":
        return "pollen"
    return "other"


def main() -> None:
    out, interval = sys.argv[1], float(sys.argv[2])
    args = sys.argv[3:]
    ignore_prefix = None
    if "--ignore-prefix" in args:
        i = args.index("--ignore-prefix")
        ignore_prefix = args[i + 1]
        del args[i : i + 2]
    roots = {}
    for a in args:
        label, pid = a.split("=", 1)
        roots[int(pid)] = label

    procs: dict[str, dict] = {}  # "pid:starttime" -> record

    def dump() -> None:
        tmp = out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"interval": interval, "processes": list(procs.values())}, f, indent=1)
        os.replace(tmp, out)

    def sample() -> bool:
        changed = False
        stats = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                st = read_stat(name)
                if st is not None:
                    stats[int(name)] = st
        children: dict[int, list[int]] = {}
        for pid, (_, ppid, _) in stats.items():
            children.setdefault(ppid, []).append(pid)
        now = time.time()
        for root, label in roots.items():
            stack = [(root, 0)]
            while stack:
                pid, depth = stack.pop()
                if pid not in stats:
                    continue
                state, ppid, start = stats[pid]
                if state == "Z":
                    continue
                key = f"{pid}:{start}"
                rec = procs.get(key)
                if rec is None:
                    argv = cmdline(pid)
                    rec = {"root": label, "pid": pid, "ppid": ppid, "depth": depth,
                           "kind": kind_of(argv, ignore_prefix), "argv": " ".join(argv)[:300],
                           "peak_kb": 0, "samples": 0, "first_seen": now, "last_seen": now}
                    procs[key] = rec
                    changed = True
                else:
                    # A child is first a fork of its parent (same argv) until it execs; VmHWM restarts at exec.
                    argv = cmdline(pid)
                    joined = " ".join(argv)[:300]
                    if argv and joined != rec["argv"]:
                        rec.update(argv=joined, kind=kind_of(argv, ignore_prefix), peak_kb=0, samples=0)
                        changed = True
                if rec["kind"] is not None:
                    hwm = vmhwm_kb(pid)
                    if hwm is not None:
                        rec["samples"] += 1
                        rec["last_seen"] = now
                        if hwm > rec["peak_kb"]:
                            rec["peak_kb"] = hwm
                            changed = True
                for c in children.get(pid, []):
                    stack.append((c, depth + 1))
        return changed

    class Stop(Exception):
        pass

    def stop(*_):
        raise Stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while True:
            if sample():
                dump()
            time.sleep(interval)
    except Stop:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sample()  # a last reading of every live process before the caller kills them
        dump()


if __name__ == "__main__":
    main()
