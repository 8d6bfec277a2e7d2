"""Process-tree helpers for the sandbox fork server: CPU time of a program's whole tree, killing and
reaping it, and running a probe in a throwaway child. Standard library only; loaded by path.
"""
import os
import signal
import time

_HZ = os.sysconf("SC_CLK_TCK")


def cpu_and_pids(pid: int) -> tuple:
    """(CPU seconds, pids) of `pid` and all its descendants: own time of the live ones plus the time of
    every child they have reaped; orphans of the program are re-parented inside the tree (pid 1 or us)."""
    ticks, pids, stack = 0, [], [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rpartition(")")[2].split()
            ticks += sum(int(v) for v in fields[11:15])
            pids.append(p)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return ticks / _HZ, pids


def kill_tree(pid: int) -> None:
    for p in cpu_and_pids(pid)[1]:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def live_children() -> set:
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as fh:
            return {int(p) for p in fh.read().split()}
    except OSError:
        return {-1}


def reap_all(deadline: float) -> bool:
    """Reap every child (orphans come to us, the subreaper), killing stragglers; True when none is left."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid:
            continue
        if time.monotonic() > deadline:
            return False
        for p in live_children() - {-1}:
            kill_tree(p)
        time.sleep(0.001)


def works(fn) -> str:
    """Run fn in a throwaway child: "" if it worked, else the error's text."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            fn()
            os._exit(0)
        except BaseException as exc:
            os.write(w, str(exc).encode()[:500])
            os._exit(1)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        why = fh.read().decode("utf-8", "replace")
    return "" if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 else why or "failed"
