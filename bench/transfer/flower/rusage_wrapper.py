"""Measuring stand-in for `flwr-serverapp` / `flwr-clientapp` (run.sh puts it first on PATH as those names).

Flower's SuperExec launches the app process by name from PATH, once per task (a ClientApp process lives
for one message, a few seconds), so a 0.2 s sampler can miss the last part of its life. This wrapper runs
the real command unchanged (same argv, same environment, stdio inherited), waits for it with wait4 and
appends `<name> <pid> <ru_maxrss kB> <exit status>` to $FLWR_BENCH_RUSAGE_FILE. ru_maxrss of a reaped child
is its peak resident set size, the same number as VmHWM at exit. Signals are forwarded to the child.
"""

import os
import signal
import sys


def main() -> None:
    # run.sh's stub passes the command name (runpy replaces sys.argv[0] with this file's path)
    name = globals().get("WRAPPED_NAME") or os.path.basename(sys.argv[0])
    real = os.path.join(os.environ["FLWR_BENCH_REAL_BIN"], name)
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(real, [real] + sys.argv[1:])
        finally:
            os._exit(127)

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, forward)
    while True:
        try:
            _, status, ru = os.wait4(pid, 0)
            break
        except InterruptedError:
            continue
    path = os.environ.get("FLWR_BENCH_RUSAGE_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{name} {pid} {ru.ru_maxrss} {status}\n")
    code = os.waitstatus_to_exitcode(status)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
