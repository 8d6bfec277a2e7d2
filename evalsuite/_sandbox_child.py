"""Fork server behind evalsuite.sandbox: one per worker, started as a fresh interpreter (never forked
from the harness). It forks one isolated child per program and reports how the program ended.

Run as a script only. Standard library only, and it never imports evalsuite, so a child holds nothing
of the harness. Protocol on fds 0/1: 4-byte little-endian length + marshal (dict in, dict out).
"""
import builtins
import ctypes
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

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
MS_REC, MS_PRIVATE = 0x4000, 1 << 18
PR_SET_PDEATHSIG, PR_SET_SECCOMP, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 22, 36, 38
UID_BASE = 2_000_000_000  # sandbox uid = UID_BASE + server pid: unique per live server, no real user
MASKED = ("/var/tmp", "/dev/shm", "/run", "/dev/mqueue")  # other world-writable places: hidden read-only
EXC_CAP = 2000
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _prctl(option: int, arg2: int, arg3: object = 0) -> None:
    arg3 = arg3 if isinstance(arg3, ctypes._Pointer) else ctypes.c_ulong(arg3)
    _check(_libc.prctl(option, ctypes.c_ulong(arg2), arg3, ctypes.c_ulong(0), ctypes.c_ulong(0)), "prctl")


class _Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


def _install_socket_filter() -> None:
    """seccomp-bpf: socket(2) and io_uring_setup(2) fail with EACCES; foreign/x32 ABIs are refused too."""
    arch = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}.get(os.uname().machine)
    if arch is None:
        raise OSError("seccomp socket filter: unsupported architecture")
    deny, allow = 0x00050000 | 13, 0x7FFF0000
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    rules = [(ld, 0, 0, 4), (jeq, 1, 0, arch[0]), (ret, 0, 0, deny), (ld, 0, 0, 0),
             (jge, 0, 1, 0x40000000), (ret, 0, 0, deny), (jeq, 0, 1, arch[1]), (ret, 0, 0, deny),
             (jeq, 0, 1, 425), (ret, 0, 0, deny), (ret, 0, 0, allow)]
    filters = (_Filter * len(rules))(*[_Filter(*r) for r in rules])
    prog = _Prog(len(rules), ctypes.cast(filters, ctypes.POINTER(_Filter)))
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    _prctl(PR_SET_SECCOMP, 2, ctypes.pointer(prog))  # SECCOMP_MODE_FILTER


def _disable_sockets_in_python() -> None:
    """Last resort where neither namespaces nor seccomp work: refuse socket creation at Python level."""
    import _socket
    import socket

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "network access is disabled in the sandbox")

    socket.socket.__init__ = refuse
    _socket.socket = socket.socket


def _needed_paths() -> list:
    """The interpreter's directories (prefixes, sys.path), deduplicated to the top-most ones."""
    found = sorted({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                                  sys.base_exec_prefix, *sys.path) if p and os.path.isdir(p)})
    top = []
    for path in found:
        if path != "/" and not any(path.startswith(t + "/") for t in top):
            top.append(path)
    return top


def _cover(path: str, data: bytes, flags: int, keep: list) -> None:
    """Mount a fresh tmpfs over `path`, bind back the interpreter dirs under it (`keep`), then make it
    read-only if asked (MS_RDONLY in flags)."""
    inside = [p for p in keep if p.startswith(path + "/")]
    fds = [(p, os.open(p, os.O_PATH | os.O_DIRECTORY)) for p in inside]
    first = flags & ~MS_RDONLY if inside else flags
    _check(_libc.mount(b"tmpfs", path.encode(), b"tmpfs", first, data), "mount tmpfs on " + path)
    for target, fd in fds:
        os.makedirs(target, 0o755, exist_ok=True)
        _check(_libc.mount(f"/proc/self/fd/{fd}".encode(), target.encode(), None, MS_BIND | MS_REC, None),
               "bind " + target)
        os.close(fd)
    if inside and flags & MS_RDONLY:
        _check(_libc.mount(None, path.encode(), None, MS_REMOUNT | flags, data), "remount " + path)


def _hide_host_dirs(keep: list) -> None:
    """In the current (new) mount namespace: hide world-writable dirs, and replace dirs others cannot
    search (e.g. /root holding a pyenv interpreter) by read-only stand-ins exposing only `keep`."""
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
    covers = {p for p in MASKED if os.path.isdir(p)}
    for path in keep:
        parts = path.split("/")
        for i in range(2, len(parts)):
            if not os.stat("/".join(parts[:i])).st_mode & 0o001:
                covers.add("/".join(parts[:i]))
                break
    for path in sorted(covers):
        if not any(path.startswith(c + "/") for c in covers):
            _cover(path, b"size=64k,mode=755", ro, keep)


def _enter_namespaces(caps: dict, net: str, disk_mb: int) -> bool:
    """Unshare the network namespace (net == 'netns') and a mount namespace with a private tmpfs /tmp.
    True if a pid namespace was unshared too (then the caller must fork its pid 1)."""
    flags = (CLONE_NEWNET if net == "netns" else 0) | (CLONE_NEWNS if caps["mountns"] else 0)
    if not flags:
        return False
    if caps["root"]:
        _check(_libc.unshare(flags), "unshare")
    else:
        uid, gid = os.getuid(), os.getgid()
        # Without root the program keeps our uid: a pid namespace stops it signalling our processes.
        _check(_libc.unshare(flags | CLONE_NEWUSER | (CLONE_NEWPID if caps["pidns"] else 0)), "unshare")
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as fh:
                fh.write(text)
        if caps["mountns"]:
            _hide_host_dirs(caps["keep"])
    if caps["mountns"]:
        _cover("/tmp", f"size={disk_mb}m,nr_inodes=4096,mode=1777".encode(),
               MS_NOSUID | MS_NODEV | MS_NOEXEC, caps["keep"])
    return not caps["root"] and caps["pidns"]


def _probe() -> dict:
    """Set up the server's own mount namespace (root), then find out in throwaway children which
    isolation this kernel lets us apply."""
    root = os.geteuid() == 0
    caps = {"root": root, "uid": UID_BASE + os.getpid() if root else os.getuid(), "mountns": True,
            "keep": _needed_paths()}
    if root:
        try:
            _check(_libc.unshare(CLONE_NEWNS), "unshare")
            _hide_host_dirs(caps["keep"])
        except OSError:
            caps["mountns"] = False

    def works(fn) -> bool:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                fn()
                code = 0
            finally:
                os._exit(code)
        return os.waitpid(pid, 0)[1] == 0

    caps["pidns"] = not root
    caps["netns"] = works(lambda: _enter_namespaces(caps, "netns", 1))
    if not caps["netns"] and not root:
        caps["pidns"] = False
        caps["netns"] = works(lambda: _enter_namespaces(caps, "netns", 1))
    if not caps["netns"] and caps["mountns"]:
        caps["mountns"] = works(lambda: _enter_namespaces(caps, "none", 1))
    caps["seccomp"] = works(_install_socket_filter)
    return caps


def _run_user(code: str, token: bytes, _write=os.write, _exit=os._exit, _BaseException=BaseException,
              _SystemExit=SystemExit, _format=traceback.format_exception_only,
              _print_exc=traceback.print_exception) -> None:
    """Run the program as __main__; only if it runs to its end, write the run's token + 'P' on fd 3.

    Everything used after the program ends is bound here beforehand, so monkeypatching builtins,
    sys.exit or os._exit cannot turn a failure into a pass. Never returns.
    """
    out, err = sys.stdout, sys.stderr
    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    sys.argv = [""]
    linecache.cache["<program>"] = (len(code), None, code.splitlines(True), "<program>")
    status = 1
    try:
        exec(compile(code, "<program>", "exec"), main.__dict__)
        msg = b"P"
        status = 0
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
        _write(3, token + msg)
    finally:
        _exit(status & 0xFF)


def _init_of_pid_namespace() -> None:
    """After unshare(CLONE_NEWPID): fork the process that will be pid 1 there; this one only waits and
    mirrors its ending, so the server sees the same status. All of the namespace dies with pid 1."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    inner = os.fork()
    if inner == 0:
        return
    for fd in range(4):
        os.close(fd)
    code = os.waitstatus_to_exitcode(os.waitpid(inner, 0)[1])
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code & 0xFF)


def _child(req: dict, caps: dict, fds: tuple, token: bytes, server: int, workdir: str | None) -> None:
    """In the forked child: isolate (session, namespaces, rlimits, seccomp, uid), then run. Never returns."""
    try:
        os.setsid()
        for target, fd in enumerate(fds):  # /dev/null, stdout, stderr, result channel -> 0..3
            os.dup2(fd, target)
        os.closerange(4, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        if _enter_namespaces(caps, req["net"], req["disk_mb"]):
            _init_of_pid_namespace()
        if workdir is None:
            workdir = "/tmp/work"
            os.mkdir(workdir, 0o700)
            os.chown(workdir, caps["uid"], caps["uid"])
        for name, value in req["rlimits"].items():  # NPROC is per uid: only with a uid of our own (root)
            if caps["root"] or name != "RLIMIT_NPROC":
                resource.setrlimit(getattr(resource, name), value)
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        if req["net"] == "seccomp":
            _install_socket_filter()
        elif req["net"] == "python":
            _disable_sockets_in_python()
        if caps["root"]:
            os.setgroups([])
            os.setresgid(caps["uid"], caps["uid"], caps["uid"])
            os.setresuid(caps["uid"], caps["uid"], caps["uid"])
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid, which clears it
        if os.getppid() not in (server, 0):  # 0: we are pid 1 of our own pid namespace
            os._exit(75)
        os.chdir(workdir)
    except BaseException as exc:
        try:
            os.write(3, b"!" + repr(exc).encode("utf-8", "replace")[:EXC_CAP])
        finally:
            os._exit(71)
    _run_user(req["code"], token)


def _live_children() -> set:
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as fh:
            return {int(p) for p in fh.read().split()}
    except OSError:
        return {-1}  # unknown: assume there may be leftovers


def _sweep(caps: dict) -> None:
    """Kill every process of the sandbox uid (root: kill(-1) as that uid) or every child we adopted."""
    if caps["root"]:
        pid = os.fork()
        if pid == 0:
            try:
                os.setresgid(caps["uid"], caps["uid"], caps["uid"])
                os.setresuid(caps["uid"], caps["uid"], caps["uid"])
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    else:
        for pid in _live_children() - {-1}:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _reap_all(caps: dict, deadline: float) -> bool:
    """Reap every child (orphans are re-parented to us, the subreaper); True when none is left."""
    last_sweep = time.monotonic()
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid:
            continue
        now = time.monotonic()
        if now > deadline:
            return False
        if now - last_sweep > 0.05:
            _sweep(caps)
            last_sweep = now
        time.sleep(0.001)


def _run(req: dict, caps: dict) -> dict:
    """Run one program in a fresh child; enforce the wall clock; collect capped output and status."""
    token = os.urandom(16).hex().encode()
    workdir = None
    if not caps["mountns"]:
        workdir = f"/tmp/evalsuite-sandbox-{token[:16].decode()}"
        os.mkdir(workdir, 0o700)
        os.chown(workdir, caps["uid"], caps["uid"])
    pipes = [os.pipe() for _ in range(3)]
    null = os.open(os.devnull, os.O_RDWR)
    cap = {pipes[0][0]: req["output_limit"], pipes[1][0]: req["output_limit"], pipes[2][0]: 4 * EXC_CAP}
    bufs = {fd: bytearray() for fd in cap}
    dropped = {fd: 0 for fd in cap}
    server, start = os.getpid(), time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            _child(req, caps, (null, pipes[0][1], pipes[1][1], pipes[2][1]), token, server, workdir)
        finally:
            os._exit(70)
    for fd in (null, *(w for _, w in pipes)):
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    for fd in (*cap, pidfd):
        poller.register(fd, select.POLLIN)
    deadline, exited, timed_out, wall, open_fds = start + req["timeout"], False, False, None, set(cap)
    while not exited or open_fds:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            if exited:
                break  # pipes still held open after the kill: stop draining
            timed_out, deadline = True, time.monotonic() + 2.0
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            _sweep(caps)
            continue
        for fd, _ in poller.poll(remaining * 1000):
            if fd == pidfd:
                exited, wall = True, time.monotonic() - start
                poller.unregister(pidfd)
                try:
                    os.killpg(pid, signal.SIGKILL)  # the unreaped leader keeps the group id ours
                except OSError:
                    pass
                if timed_out or _live_children() - {pid}:
                    _sweep(caps)
                deadline = time.monotonic() + 2.0
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                poller.unregister(fd)
                open_fds.discard(fd)
                continue
            room = max(cap[fd] - len(bufs[fd]), 0)
            bufs[fd] += chunk[:room]
            dropped[fd] += len(chunk) - min(room, len(chunk))
    _, wstatus = os.waitpid(pid, 0)
    clean = _reap_all(caps, time.monotonic() + 5.0)
    for fd in (pidfd, *(r for r, _ in pipes)):
        os.close(fd)
    if workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    out, err, res = (bytes(bufs[r]) for r, _ in pipes)
    at = res.rfind(token)
    kind, message = (res[at + len(token):at + len(token) + 1], res[at + len(token) + 1:]) if at >= 0 else (
        (b"!", res[1:]) if res.startswith(b"!") else (b"", b""))
    return {"timed_out": timed_out, "returncode": os.waitstatus_to_exitcode(wstatus), "kind": kind.decode(),
            "message": message.decode("utf-8", "replace"), "clean": clean, "net": req["net"],
            "wall_time": wall if wall is not None else time.monotonic() - start,
            "stdout": out.decode("utf-8", "replace"), "stderr": err.decode("utf-8", "replace"),
            "dropped": (dropped[pipes[0][0]], dropped[pipes[1][0]])}


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
    sys.path[:] = [p for p in sys.path if p != os.path.dirname(os.path.abspath(__file__))]
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
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
