"""Run untrusted, model-written Python programs in isolated child processes (details: docs/sandbox.md).

Each program runs in a child forked by a fork server (`evalsuite/_sandbox_child.py`, a fresh interpreter,
never a fork of the harness). Whether the harness runs as root or as an ordinary user, every program gets
its own mount, pid, IPC, network and UTS namespaces (as an ordinary user also its own user namespace, where
its id is 1000 and it has no capabilities; as root a uid of its own instead). Its "/" is a read-only tmpfs
holding only the standard library, the system library dirs, ld.so.cache, /dev/{null,zero,full,random,
urandom} and a fresh /proc: home, run and output dirs, caches, credentials, /run and every socket file are
simply not there. It writes only to a private tmpfs /tmp (disk_mb; /dev/shm points into it). A seccomp
filter refuses memfd_create, keyrings, mount/unshare/setns and namespace flags, io_uring, bpf, ptrace.
SysV shared memory is capped at memory_mb per program and dies with its IPC namespace; where a memory
cgroup can be made (root here) the whole program is capped at memory_mb. Timeouts count the CPU time of
the program's whole process tree (a busy sibling cannot spend it), with a wall-clock backstop.

If the kernel refuses these namespaces, `run` raises SandboxUnavailable (one line naming the fix) unless
`allow_unsafe_exec()` (--unsafe-exec-in-process) was called: then only rlimits, seccomp and (as root) a uid.

A program "passed" only if the bootstrap saw it run to its end and wrote a per-run random token on a
private pipe (a high fd, not 3); an early exit, closing stdout or monkeypatching builtins cannot fake
that, and a program that closes the channel is told apart. Not isolated: a program that reads the token
out of its own interpreter (frame introspection, /proc/self/mem) can still claim a pass; a return value
whose == is always true passes HumanEval, as in the official harness.
"""
from __future__ import annotations

import atexit
import marshal
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal, Sequence

from evalsuite.errors import UsageError

__all__ = ["ExecResult", "Sandbox", "SandboxError", "SandboxUnavailable", "allow_unsafe_exec", "run_program",
           "run_many"]

Status = Literal["passed", "failed", "timeout", "crashed"]
Network = Literal["auto", "netns", "socket-disabled"]
_CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_sandbox_child.py")
_START_TIMEOUT = 30.0
_GRACE = 10.0  # beyond the program's wall backstop: draining, killing and reaping in the server
CHANNEL_CLOSED = 125  # the bootstrap's exit code when the program closed the result channel


class SandboxError(RuntimeError):
    """The sandbox itself could not run (server failed to start, or a requested isolation is unavailable)."""


class SandboxUnavailable(SandboxError, UsageError):
    """The kernel refuses the namespaces the sandbox needs; the message says how to enable them."""


_unsafe_allowed = False


def allow_unsafe_exec(allowed: bool = True) -> None:
    """--unsafe-exec-in-process: where namespaces are refused, run programs with rlimits, seccomp and (as
    root) their own uid only, instead of stopping. Process-wide; the run header and results.json say so."""
    global _unsafe_allowed
    _unsafe_allowed = bool(allowed)


def _refusal(caps: dict) -> str:
    who = "as root" if caps["root"] else "as an ordinary user"
    return (f"code execution needs Linux namespaces for its sandbox and this system refuses them {who} "
            f"({caps['why'].strip()}); enable unprivileged user namespaces (sysctl -w "
            "kernel.unprivileged_userns_clone=1 and user.max_user_namespaces=10000, or "
            "kernel.apparmor_restrict_unprivileged_userns=0), or run in a container that allows them, or pass "
            "--unsafe-exec-in-process to run model-written code without that isolation")


@dataclass(frozen=True)
class ExecResult:
    """How one program ended. `status` is passed | failed | timeout | crashed; `exception` is the last
    exception line (e.g. "ZeroDivisionError: division by zero") or None; `network` is "netns" or
    "socket-disabled"; `limits` lists what was applied; `detail` explains a non-pass in words."""

    status: Status
    exception: str | None
    wall_time: float
    stdout: str
    stderr: str
    returncode: int | None
    network: str
    limits: dict = field(default_factory=dict)
    detail: str = ""
    cpu_time: float = 0.0

    @property
    def passed(self) -> bool:
        """True only for a program that ran to its end without an uncaught exception."""
        return self.status == "passed"


class _Server:
    """One fork server process and its request/reply pipes; used by one thread at a time."""

    def __init__(self) -> None:
        flags = ["-s", "-S", "-B"] + (["-P"] if sys.version_info >= (3, 11) else [])
        self.proc = subprocess.Popen(
            [sys.executable, *flags, _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env={"PYTHONHASHSEED": "0"}, cwd="/", start_new_session=True, close_fds=True)
        hello = self._recv(time.monotonic() + _START_TIMEOUT)
        if hello is None or "caps" not in hello:
            self.close()
            raise SandboxError("sandbox server failed to start")
        self.caps: dict = hello["caps"]

    def request(self, req: dict, timeout: float) -> dict | None:
        """Send one request; None if the server died or did not answer in time (it is then killed)."""
        data = marshal.dumps(req)
        try:
            self.proc.stdin.write(struct.pack("<I", len(data)) + data)
            self.proc.stdin.flush()
        except OSError:
            return None
        return self._recv(time.monotonic() + timeout)

    def _recv(self, deadline: float) -> dict | None:
        head = self._read(4, deadline)
        body = self._read(struct.unpack("<I", head)[0], deadline) if head else None
        return marshal.loads(body) if body is not None else None

    def _read(self, n: int, deadline: float) -> bytes | None:
        fd, data = self.proc.stdout.fileno(), bytearray()
        while len(data) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            chunk = os.read(fd, n - len(data))
            if not chunk:
                return None
            data += chunk
        return bytes(data)

    def close(self) -> None:
        """Close stdin (the server exits after its current job); kill it if it lingers."""
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _pick_network(wanted: str, caps: dict) -> str:
    """netns when isolated; seccomp on socket(2) when asked (or unsafe); a Python-level patch as last resort."""
    if wanted != "socket-disabled" and caps["isolated"]:
        return "netns"
    if wanted == "netns":
        raise SandboxError("a network namespace is not available here")
    return "seccomp" if caps["seccomp"] else "python"


def _ending(reply: dict, req: dict) -> tuple:
    """(status, exception, notes) from how the child ended."""
    code, kind, why = reply["returncode"], reply["kind"], reply["why"]
    if why == "cpu":
        return "timeout", None, [f"CPU-time limit of {req['timeout']:g} s reached (the program's whole process "
                                 "tree); processes killed"]
    if why == "wall":
        return "timeout", None, [f"wall-clock backstop of {req['wall_timeout']:g} s reached; processes killed"]
    if code == -signal.SIGXCPU:
        return "timeout", None, ["CPU-time limit reached (SIGXCPU)"]
    if reply.get("oom"):
        return "crashed", None, [f"memory limit of {req['memory_mb']} MiB reached (memory cgroup); killed"]
    if code < 0:
        try:
            return "crashed", None, [f"killed by {signal.Signals(-code).name}"]
        except ValueError:
            return "crashed", None, [f"killed by signal {-code}"]
    if kind == "!":
        return "crashed", None, ["sandbox setup failed: " + reply["message"]]
    if kind == "P" and code == 0:
        return "passed", None, []
    if kind == "E":
        return "failed", reply["message"] or None, []
    if code == CHANNEL_CLOSED:
        return "failed", None, ["the program closed the harness's result channel, so its ending is unknown"]
    return "failed", None, [f"exited with code {code} before the program finished"]


def _limits(reply: dict, req: dict, caps: dict) -> dict:
    """What was applied to this program, in words and numbers."""
    root, iso, rl = caps["root"], caps["isolated"], req["rlimits"]
    return {"timeout_s": req["timeout"], "wall_s": req["wall_timeout"], "cpu_s": rl["RLIMIT_CPU"][0],
            "address_space_mb": rl["RLIMIT_AS"][0] >> 20, "memory_cgroup_mb": req["memory_mb"] if caps["cgroup"]
            else None, "file_size_mb": rl["RLIMIT_FSIZE"][0] >> 20, "open_files": rl["RLIMIT_NOFILE"][0],
            "processes": rl["RLIMIT_NPROC"][0] if root or iso else None, "uid": caps["uid"],
            "no_new_privs": True, "output_bytes": req["output_limit"],
            "isolation": ("namespaces (mount, pid, ipc, net, uts" + (")" if root else ", user)")) if iso
            else "none (--unsafe-exec-in-process)",
            "tmp": f"private tmpfs of {req['disk_mb']} MiB" if iso else "own dir in the shared /tmp",
            "network": {"netns": "network namespace", "seccomp": "seccomp filter on socket(2)",
                        "python": "socket.socket patched (Python level only)"}[reply["net"]]}


def _verdict(reply: dict, req: dict, caps: dict) -> ExecResult:
    """passed = the bootstrap wrote this run's token + 'P' and exited 0; every other ending is not."""
    status, exception, notes = _ending(reply, req)
    if reply["foreign"]:
        notes.append("the program wrote to the harness's result channel (ignored)")
    for name, dropped in zip(("stdout", "stderr"), reply["dropped"]):
        if dropped:
            notes.append(f"{name} truncated ({dropped} bytes dropped)")
    if not reply["clean"]:
        notes.append("some sandbox processes could not be reaped")
    net = reply["net"]
    return ExecResult(status, exception, reply["wall_time"], reply["stdout"], reply["stderr"],
                      reply["returncode"], "netns" if net == "netns" else "socket-disabled",
                      _limits(reply, req, caps), "; ".join(notes), reply["cpu_time"])


def _request(code: str, timeout: float, memory_mb: int, output_limit: int, file_mb: int, disk_mb: int,
             max_files: int, max_procs: int, wall_timeout: float | None) -> dict:
    """The fork server's request: the program, its limits and its rlimits."""
    cpu, mib = int(timeout) + 1, 1 << 20
    wall = float(wall_timeout) if wall_timeout is not None else max(5.0 * timeout, timeout + 10.0)
    return {"code": code, "timeout": float(timeout), "wall_timeout": wall, "output_limit": int(output_limit),
            "disk_mb": int(disk_mb), "memory_mb": int(memory_mb),
            "rlimits": {"RLIMIT_CPU": (cpu, cpu + 1), "RLIMIT_CORE": (0, 0),
                        "RLIMIT_AS": (int(memory_mb) * mib,) * 2, "RLIMIT_FSIZE": (int(file_mb) * mib,) * 2,
                        "RLIMIT_NOFILE": (int(max_files),) * 2, "RLIMIT_NPROC": (int(max_procs),) * 2,
                        "RLIMIT_MSGQUEUE": (256 << 10,) * 2}}


class Sandbox:
    """A thread-safe pool of fork servers (started lazily, reused). Use `run` or `run_many`."""

    def __init__(self, workers: int | None = None, unsafe: bool | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.unsafe = unsafe  # None: follow allow_unsafe_exec()
        self._idle: list[_Server] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def _acquire(self) -> _Server:
        with self._lock:
            if self._pid != os.getpid():  # we were forked: the servers belong to the parent
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        return _Server()

    def _release(self, server: _Server) -> None:
        with self._lock:
            if self._pid == os.getpid() and len(self._idle) < self.workers:
                self._idle.append(server)
                return
        server.close()

    def run(self, code: str, *, timeout: float = 3.0, memory_mb: int = 1024, output_limit: int = 65536,
            file_mb: int = 16, disk_mb: int = 64, max_files: int = 64, max_procs: int = 32,
            network: Network = "auto", wall_timeout: float | None = None) -> ExecResult:
        """Run one program; the options are those of `run_program`."""
        if network not in ("auto", "netns", "socket-disabled"):
            raise ValueError(f"network must be 'auto', 'netns' or 'socket-disabled', not {network!r}")
        req = _request(code, timeout, memory_mb, output_limit, file_mb, disk_mb, max_files, max_procs,
                       wall_timeout)
        server = self._acquire()
        try:
            if not server.caps["isolated"] and not (self.unsafe if self.unsafe is not None else _unsafe_allowed):
                raise SandboxUnavailable(_refusal(server.caps))
            req["net"] = _pick_network(network, server.caps)
        except SandboxError:
            self._release(server)
            raise
        reply = server.request(req, req["wall_timeout"] + _GRACE)
        if reply is None:  # the server died or hung (never seen from a program): retry once on a fresh one
            server.close()
            server = self._acquire()
            reply = server.request(req, req["wall_timeout"] + _GRACE)
            if reply is None:
                server.close()
                return ExecResult("crashed", None, 0.0, "", "", None, "unknown", {},
                                  "the sandbox server died or hung twice on this program")
        self._release(server)
        if "error" in reply:
            raise SandboxError(reply["error"])
        return _verdict(reply, req, server.caps)

    def run_many(self, programs: Sequence[str], *, workers: int | None = None, **options) -> list[ExecResult]:
        """Run programs in parallel (one server per worker thread); results come back in input order."""
        workers = max(1, min(workers or self.workers, len(programs) or 1))
        self.workers = max(self.workers, workers)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox") as pool:
            return list(pool.map(lambda code: self.run(code, **options), programs))

    def close(self) -> None:
        """Stop all idle servers."""
        with self._lock:
            idle, self._idle = self._idle, []
        for server in idle:
            server.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_default: Sandbox | None = None
_default_lock = threading.Lock()


def _default_sandbox() -> Sandbox:
    global _default
    with _default_lock:
        if _default is None:
            _default = Sandbox()
            atexit.register(_default.close)
        return _default


def run_program(code: str, *, timeout: float = 3.0, memory_mb: int = 1024, output_limit: int = 65536,
                file_mb: int = 16, disk_mb: int = 64, max_files: int = 64, max_procs: int = 32,
                network: Network = "auto", wall_timeout: float | None = None) -> ExecResult:
    """Run one untrusted program in the shared sandbox pool.

    timeout: CPU seconds of the program's whole process tree (each process also has RLIMIT_CPU
    int(timeout) + 1); wall_timeout: wall-clock backstop (default max(5 x timeout, timeout + 10));
    memory_mb: address space per process, SysV shm in all, and the memory cgroup where there is one;
    output_limit: bytes kept of stdout and of stderr; file_mb: largest file; disk_mb: size of the private
    /tmp; max_files: open files; max_procs: processes of the program; network: "auto" (netns),
    "netns" (SandboxError if unavailable) or "socket-disabled" (seccomp refuses socket(2) as well).
    """
    return _default_sandbox().run(code, timeout=timeout, memory_mb=memory_mb, output_limit=output_limit,
                                  file_mb=file_mb, disk_mb=disk_mb, max_files=max_files, max_procs=max_procs,
                                  network=network, wall_timeout=wall_timeout)


def run_many(programs: Sequence[str], *, workers: int | None = None, timeout: float = 3.0,
             **options) -> list[ExecResult]:
    """Run programs in parallel in the shared pool (default: one worker per CPU); results in input order."""
    return _default_sandbox().run_many(programs, workers=workers, timeout=timeout, **options)
