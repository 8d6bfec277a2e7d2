"""Run untrusted, model-written Python programs in isolated child processes.

Each program runs in its own child forked by a small fork server (`evalsuite/_sandbox_child.py`) that is
itself a fresh interpreter, never a fork of the harness. The child gets, where the kernel allows:
its own session/process group, a network namespace with no interfaces up (else a seccomp filter that
refuses socket(2)), a mount namespace with a private, size-capped tmpfs on /tmp (the work dir, gone with
the child) and the other world-writable places hidden, rlimits on CPU time, address space, file size,
open files and processes, no_new_privs, and (when the harness is root) a uid of its own that can read no
file that is not world-readable and whose processes are all killed after the run. A wall-clock timeout
kills the whole group; stdout/stderr are captured and capped.

A program "passed" only if the bootstrap saw it run to its end and wrote a per-run random token on a
private pipe; an early sys.exit/os._exit, closing stdout or monkeypatching builtins cannot fake that.
What isolation cannot stop: a program that deliberately reads the token out of its own interpreter
(frame introspection, /proc/self/mem) can still claim a pass; it stays contained while doing so.
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

__all__ = ["ExecResult", "Sandbox", "SandboxError", "run_program", "run_many"]

Status = Literal["passed", "failed", "timeout", "crashed"]
Network = Literal["auto", "netns", "socket-disabled"]
_CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_sandbox_child.py")
_START_TIMEOUT = 30.0
_GRACE = 10.0  # beyond the program's timeout: draining, killing and reaping in the server


class SandboxError(RuntimeError):
    """The sandbox itself could not run (server failed to start, or a requested isolation is unavailable)."""


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
    """netns where the kernel allows it; else a seccomp filter; else (last resort) a Python-level patch."""
    if wanted != "socket-disabled" and caps["netns"]:
        return "netns"
    if wanted == "netns":
        raise SandboxError("a network namespace is not available here")
    return "seccomp" if caps["seccomp"] else "python"


def _verdict(reply: dict, req: dict, caps: dict) -> ExecResult:
    """passed = the bootstrap wrote this run's token + 'P' and exited 0; every other ending is not."""
    code, kind, notes, exception = reply["returncode"], reply["kind"], [], None
    if reply["timed_out"]:
        status, notes = "timeout", [f"wall-clock limit of {req['timeout']:g} s reached; processes killed"]
    elif code == -signal.SIGXCPU:
        status, notes = "timeout", ["CPU-time limit reached (SIGXCPU)"]
    elif code < 0:
        try:
            status, notes = "crashed", [f"killed by {signal.Signals(-code).name}"]
        except ValueError:
            status, notes = "crashed", [f"killed by signal {-code}"]
    elif kind == "!":
        status, notes = "crashed", ["sandbox setup failed: " + reply["message"]]
    elif kind == "P" and code == 0:
        status = "passed"
    elif kind == "E":
        status, exception = "failed", reply["message"] or None
    else:
        status, notes = "failed", [f"exited with code {code} before the program finished"]
    for name, dropped in zip(("stdout", "stderr"), reply["dropped"]):
        if dropped:
            notes.append(f"{name} truncated ({dropped} bytes dropped)")
    if not reply["clean"]:
        notes.append("some sandbox processes could not be reaped")
    root, net, rl = caps["root"], reply["net"], req["rlimits"]
    limits = {"wall_s": req["timeout"], "cpu_s": rl["RLIMIT_CPU"][0], "address_space_mb": rl["RLIMIT_AS"][0] >> 20,
              "file_size_mb": rl["RLIMIT_FSIZE"][0] >> 20, "open_files": rl["RLIMIT_NOFILE"][0],
              "processes": rl["RLIMIT_NPROC"][0] if root else None, "uid": caps["uid"] if root else None,
              "no_new_privs": True, "output_bytes": req["output_limit"],
              "tmp": f"private tmpfs of {req['disk_mb']} MiB" if caps["mountns"] else "own dir in the shared /tmp",
              "network": {"netns": "network namespace", "seccomp": "seccomp filter on socket(2)",
                          "python": "socket.socket patched (Python level only)"}[net]}
    return ExecResult(status, exception, reply["wall_time"], reply["stdout"], reply["stderr"], code,
                      "netns" if net == "netns" else "socket-disabled", limits, "; ".join(notes))


class Sandbox:
    """A thread-safe pool of fork servers (started lazily, reused). Use `run` or `run_many`."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
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
            network: Network = "auto") -> ExecResult:
        """Run one program; the options are those of `run_program`."""
        if network not in ("auto", "netns", "socket-disabled"):
            raise ValueError(f"network must be 'auto', 'netns' or 'socket-disabled', not {network!r}")
        cpu, mib = int(timeout) + 1, 1 << 20
        req = {"code": code, "timeout": float(timeout), "output_limit": int(output_limit), "disk_mb": int(disk_mb),
               "rlimits": {"RLIMIT_CPU": (cpu, cpu + 1), "RLIMIT_CORE": (0, 0),
                           "RLIMIT_AS": (int(memory_mb) * mib,) * 2, "RLIMIT_FSIZE": (int(file_mb) * mib,) * 2,
                           "RLIMIT_NOFILE": (int(max_files),) * 2, "RLIMIT_NPROC": (int(max_procs),) * 2}}
        server = self._acquire()
        try:
            req["net"] = _pick_network(network, server.caps)
        except SandboxError:
            self._release(server)
            raise
        reply = server.request(req, timeout + _GRACE)
        if reply is None:  # the server died or hung (never seen from a program): retry once on a fresh one
            server.close()
            server = self._acquire()
            reply = server.request(req, timeout + _GRACE)
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
                network: Network = "auto") -> ExecResult:
    """Run one untrusted program in the shared sandbox pool.

    timeout: wall clock (s; CPU limit is int(timeout) + 1); memory_mb: address space; output_limit: bytes
    kept of stdout and of stderr; file_mb: largest file; disk_mb: size of the private /tmp; max_files:
    open files; max_procs: processes of the program's uid (root only); network: "auto" (netns, else
    socket-disabled), "netns" (SandboxError if unavailable) or "socket-disabled".
    """
    return _default_sandbox().run(code, timeout=timeout, memory_mb=memory_mb, output_limit=output_limit,
                                  file_mb=file_mb, disk_mb=disk_mb, max_files=max_files, max_procs=max_procs,
                                  network=network)


def run_many(programs: Sequence[str], *, workers: int | None = None, timeout: float = 3.0,
             **options) -> list[ExecResult]:
    """Run programs in parallel in the shared pool (default: one worker per CPU); results in input order."""
    return _default_sandbox().run_many(programs, workers=workers, timeout=timeout, **options)
