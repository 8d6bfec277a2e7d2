"""Fork server behind evalsuite.sandbox: one per worker, started as a fresh interpreter (never forked
from the harness). It forks one isolated child per program and reports how the program ended.

Run as a script only. Standard library only, and it never imports evalsuite, so a child holds nothing
of the harness. Protocol on fds 0/1: 4-byte little-endian length + marshal (dict in, dict out).
Process tree per program (isolated mode): server -> C (new namespaces, mirrors P's ending) -> P (pid 1 of
the program's pid namespace: /proc, pivot_root, reaps) -> Q (the program: own uid, no capabilities,
rlimits, seccomp).
"""
import builtins
import linecache
import marshal
import os
import resource
import select
import shutil
import signal
import struct
import sys
import time
import traceback
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _sandbox_ns as ns  # noqa: E402  (sibling files, loaded by path: this script runs with -P)
import _sandbox_tree as tree  # noqa: E402

del sys.path[0]
UID_BASE = 2_000_000_000  # root mode: program uid = UID_BASE + server pid, unique per live server, no real user
EXC_CAP = 2000
CHANNEL_CLOSED = 125  # exit code of the bootstrap when the program closed the result channel
_TICK = 0.05  # seconds between two CPU-time readings of a running program


def _run_user(code: str, token: bytes, chan: int, _write=os.write, _exit=os._exit, _fstat=os.fstat,
              _BaseException=BaseException, _SystemExit=SystemExit, _format=traceback.format_exception_only,
              _print_exc=traceback.print_exception) -> None:
    """Run the program as __main__; only if it runs to its end, write the run's token + 'P' on `chan`.

    Everything used after the program ends is bound here beforehand, so monkeypatching builtins,
    sys.exit or os._exit cannot turn a failure into a pass. Never returns.
    """
    out, err = sys.stdout, sys.stderr
    ident = (lambda st: (st.st_dev, st.st_ino))(_fstat(chan))
    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    sys.argv = [""]
    linecache.cache["<program>"] = (len(code), None, code.splitlines(True), "<program>")
    status = 1
    try:
        exec(compile(code, "<program>", "exec"), main.__dict__)
        msg, status = b"P", 0
    except _BaseException as exc:
        try:
            line = _format(type(exc), exc)[-1].strip()[:EXC_CAP]
        except _BaseException:
            line = "exception (could not be formatted)"
        msg = b"E" + line.encode("utf-8", "replace")
        if isinstance(exc, _SystemExit):
            status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        try:
            out.flush()
            _print_exc(exc, file=err)
        except _BaseException:
            pass
    for stream in (out, err):
        try:
            stream.flush()
        except _BaseException:
            pass
    try:
        st = _fstat(chan)
        if (st.st_dev, st.st_ino) != ident:
            _exit(CHANNEL_CLOSED)
        _write(chan, token + msg)
    except _BaseException:
        _exit(CHANNEL_CLOSED)
    _exit(status & 0xFF)


def _mirror(pid: int, report: int | None = None, told: int | None = None) -> None:
    """Wait for `pid` (reaping any orphan on the way) and end the way it ended, or the way `told` (a pipe
    from pid) says its own child ended. A pid 1 cannot kill itself: it writes the status to `report`."""
    while True:
        done, status = os.waitpid(-1, 0)
        if done == pid:
            break
    if told is not None:
        data = os.read(told, 4)
        status = struct.unpack("<i", data)[0] if len(data) == 4 else status
    if report is not None:
        os.write(report, struct.pack("<i", status))
        os._exit(0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        try:
            signal.signal(-code, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), -code)
    os._exit(code & 0xFF)


def _limit_and_drop(req: dict, caps: dict) -> None:
    """In the program's process: rlimits, no capabilities, its own uid (root mode), seccomp."""
    if caps["isolated"] and not caps["root"]:  # first: NPROC then counts this program's processes only
        ns.enter_user_namespace(ns.USER_IN_NS)
    for name, value in req["rlimits"].items():
        if caps["isolated"] or caps["root"] or name != "RLIMIT_NPROC":  # unsafe, non-root: per real uid
            resource.setrlimit(getattr(resource, name), value)
    ns.prctl(ns.PR_SET_NO_NEW_PRIVS, 1)
    if caps["root"]:
        os.setgroups([])
        os.setresgid(caps["uid"], caps["uid"], caps["uid"])
        os.setresuid(caps["uid"], caps["uid"], caps["uid"])
    elif caps["isolated"]:
        ns.drop_capabilities()
    ns.prctl(ns.PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid, which clears it
    if caps["seccomp"]:
        ns.install_seccomp(req["net"] == "seccomp")


def _isolated_child(req: dict, caps: dict, cgroup: str | None) -> None:
    """C: enter the program's namespaces, then fork P (pid 1 there), which forks the program Q."""
    ns.unshare(ns.PROGRAM_NS)
    ns.limit_ipc(req["memory_mb"])
    tmp = ns.ROOT_MNT + "/tmp"
    ns.mount("tmpfs", tmp, "tmpfs", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC,
             f"size={req['disk_mb']}m,nr_inodes=4096,mode=1777".encode())
    os.mkdir(tmp + "/work", 0o700)
    os.mkdir(tmp + "/.shm", 0o1777)
    os.chmod(tmp + "/.shm", 0o1777)
    if caps["root"]:
        os.chown(tmp + "/work", caps["uid"], caps["uid"])
    if cgroup:
        with open(cgroup + "/cgroup.procs", "w") as fh:
            fh.write(str(os.getpid()))
    ns.prctl(ns.PR_SET_PDEATHSIG, signal.SIGKILL)
    told, report = os.pipe()
    pid = os.fork()
    if pid:
        for fd in (0, 1, 2, caps["channel"], report):
            os.close(fd)
        _mirror(pid, told=told)
    os.close(told)
    ns.prctl(ns.PR_SET_PDEATHSIG, signal.SIGKILL)
    ns.enter_program_root()
    pid = os.fork()
    if pid:
        for fd in (0, 1, 2, caps["channel"]):
            os.close(fd)
        _mirror(pid, report=report)
    os.close(report)
    _limit_and_drop(req, caps)
    os.chdir("/tmp/work")


def _unsafe_child(req: dict, caps: dict, workdir: str) -> None:
    """Only with --unsafe-exec-in-process: rlimits, uid (root), seccomp; no namespaces."""
    if req["net"] == "python":
        import _socket
        import socket

        def refuse(self, *args, **kwargs):
            raise PermissionError(13, "network access is disabled in the sandbox")

        socket.socket.__init__ = refuse
        _socket.socket = socket.socket
    _limit_and_drop(req, caps)
    os.chdir(workdir)


def _child(req: dict, caps: dict, fds: tuple, token: bytes, workdir: str | None, cgroup: str | None) -> None:
    """In the forked child: isolate, then run the program. Never returns."""
    chan = caps["channel"]
    try:
        os.setsid()
        for target, fd in zip((0, 1, 2, chan), fds):  # /dev/null, stdout, stderr, result channel
            os.dup2(fd, target)
        os.closerange(3, chan)
        os.closerange(chan + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        if caps["isolated"]:
            _isolated_child(req, caps, cgroup)
        else:
            _unsafe_child(req, caps, workdir)
    except BaseException as exc:
        try:
            os.write(chan, b"!" + repr(exc).encode("utf-8", "replace")[:EXC_CAP])
        finally:
            os._exit(71)
    _run_user(req["code"], token, chan)


def _spawn(req: dict, caps: dict, token: bytes) -> dict:
    """Fork the program's child with fresh pipes; the job's state for _drain and _finish."""
    job = {"workdir": None, "cgroup": None, "start": time.monotonic()}
    if not caps["isolated"]:
        job["workdir"] = f"/tmp/evalsuite-sandbox-{token[:16].decode()}"
        os.mkdir(job["workdir"], 0o700)
        os.chown(job["workdir"], caps["uid"], caps["uid"])
    if caps["cgroup"]:
        job["cgroup"] = ns.cgroup_create(caps["cgroup"], f"evalsuite-{os.getpid()}-{token[:8].decode()}",
                                         req["memory_mb"])
    pipes = [os.pipe() for _ in range(3)]
    null = os.open(os.devnull, os.O_RDWR)
    pid = os.fork()
    if pid == 0:
        try:
            _child(req, caps, (null, pipes[0][1], pipes[1][1], pipes[2][1]), token, job["workdir"], job["cgroup"])
        finally:
            os._exit(70)
    for fd in (null, *(w for _, w in pipes)):
        os.close(fd)
    job.update(pid=pid, pidfd=os.pidfd_open(pid), reads=[r for r, _ in pipes])
    return job


def _drain(job: dict, req: dict) -> dict:
    """Collect output until the program ends; kill its tree when its own CPU time reaches the timeout or
    the wall clock reaches the backstop. Output is capped (head kept; the result channel keeps its tail)."""
    out, err, res = job["reads"]
    cap = {out: req["output_limit"], err: req["output_limit"], res: 4 * EXC_CAP}
    bufs, dropped = {fd: bytearray() for fd in cap}, {fd: 0 for fd in cap}
    poller = select.poll()
    for fd in (*cap, job["pidfd"]):
        poller.register(fd, select.POLLIN)
    start, pid, open_fds = job["start"], job["pid"], set(cap)
    wall_end, next_tick, exited, why, wall, cpu = start + req["wall_timeout"], start + _TICK, False, "", None, 0.0
    drain_end = float("inf")
    while not exited or open_fds:
        now = time.monotonic()
        if now >= drain_end:
            break
        if not exited and not why and now >= next_tick:
            cpu, next_tick = tree.cpu_and_pids(pid)[0], now + _TICK
            if cpu >= req["timeout"]:
                why = "cpu"
            elif now >= wall_end:
                why = "wall"
            if why:
                tree.kill_tree(pid)
                drain_end = now + 2.0
        limit = min(next_tick, drain_end) - now if not exited else drain_end - now
        for fd, _ in poller.poll(max(limit, 0) * 1000 if limit != float("inf") else None):
            if fd == job["pidfd"]:
                exited, wall = True, time.monotonic() - start
                poller.unregister(fd)
                tree.kill_tree(pid)
                drain_end = min(drain_end, time.monotonic() + 2.0)
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                poller.unregister(fd)
                open_fds.discard(fd)
            elif fd == res:
                bufs[fd] = (bufs[fd] + chunk)[-cap[fd]:]
            else:
                room = max(cap[fd] - len(bufs[fd]), 0)
                bufs[fd] += chunk[:room]
                dropped[fd] += len(chunk) - min(room, len(chunk))
    return {"why": why, "cpu": cpu, "wall": wall, "out": bytes(bufs[out]), "err": bytes(bufs[err]),
            "res": bytes(bufs[res]), "dropped": (dropped[out], dropped[err])}


def _finish(job: dict, got: dict, token: bytes, req: dict) -> dict:
    """Reap the child and everything it left, remove its work dir/cgroup, and build the reply."""
    _, wstatus, usage = os.wait4(job["pid"], 0)
    cpu = max(got["cpu"], usage.ru_utime + usage.ru_stime)
    clean = tree.reap_all(time.monotonic() + 5.0)
    for fd in (job["pidfd"], *job["reads"]):
        os.close(fd)
    if job["workdir"]:
        shutil.rmtree(job["workdir"], ignore_errors=True)
    oom = 0
    if job["cgroup"]:
        oom = ns.cgroup_oom_kills(job["cgroup"])
        for _ in range(100):
            try:
                os.rmdir(job["cgroup"])
                break
            except OSError:
                time.sleep(0.01)
    res = got["res"]
    at = res.rfind(token)
    kind, message = (res[at + len(token):at + len(token) + 1], res[at + len(token) + 1:]) if at >= 0 else (
        (b"!", res[1:]) if res.startswith(b"!") else (b"", b""))
    return {"why": got["why"], "returncode": os.waitstatus_to_exitcode(wstatus), "kind": kind.decode(),
            "message": message.decode("utf-8", "replace"), "clean": clean, "net": req["net"], "oom": oom,
            "cpu_time": cpu, "foreign": at < 0 and bool(res) and kind != b"!",
            "wall_time": got["wall"] if got["wall"] is not None else time.monotonic() - job["start"],
            "stdout": got["out"].decode("utf-8", "replace"), "stderr": got["err"].decode("utf-8", "replace"),
            "dropped": got["dropped"]}


def _run(req: dict, caps: dict) -> dict:
    """Run one program in a fresh child and report how it ended."""
    token = os.urandom(16).hex().encode()
    job = _spawn(req, caps, token)
    return _finish(job, _drain(job, req), token, req)


def _probe_program_namespaces() -> None:
    ns.unshare(ns.PROGRAM_NS)
    ns.limit_ipc(64)
    why = tree.works(ns.enter_program_root)
    if why:
        raise OSError(why)


def _probe_namespaces() -> None:
    ns.enter_server_namespaces()
    why = tree.works(_probe_program_namespaces)
    if why:
        raise OSError(why)


def _probe() -> dict:
    """Find out which isolation this kernel allows, in throwaway children, then set up our own namespaces."""
    root = os.geteuid() == 0
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    caps = {"root": root, "uid": UID_BASE + os.getpid() if root else ns.USER_IN_NS, "cgroup": None,
            "channel": min(4000, hard - 1) if hard != resource.RLIM_INFINITY else 4000, "isolated": False}

    caps["why"] = tree.works(_probe_namespaces)
    caps["seccomp"] = not tree.works(lambda: ns.install_seccomp(True))
    if not caps["why"]:
        ns.enter_server_namespaces()
        caps["isolated"] = True
        parent = ns.memory_cgroup_parent()
        probe = f"evalsuite-probe-{os.getpid()}"
        if parent and not tree.works(lambda: os.rmdir(ns.cgroup_create(parent, probe, 64))):
            caps["cgroup"] = parent
    else:
        caps["uid"] = UID_BASE + os.getpid() if root else os.getuid()
    return caps


def _recv(fd: int) -> dict | None:
    """Read one length-prefixed marshal message; None at end of input."""
    data, need, head = bytearray(), 4, True
    while len(data) < need:
        chunk = os.read(fd, need - len(data))
        if not chunk:
            return None
        data += chunk
        if head and len(data) == 4:
            data, need, head = bytearray(), struct.unpack("<I", data)[0], False
    return marshal.loads(bytes(data))


def _send(fd: int, obj: dict) -> None:
    data = marshal.dumps(obj)
    data = struct.pack("<I", len(data)) + data
    while data:
        data = data[os.write(fd, data):]


def main() -> None:
    """Serve requests until the harness closes our stdin (so the server never outlives the harness)."""
    req_fd, rep_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    ns.prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
    caps = _probe()
    _send(rep_fd, {"caps": caps})
    while (req := _recv(req_fd)) is not None:
        try:
            reply = _run(req, caps)
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        _send(rep_fd, reply)


if __name__ == "__main__":
    main()
