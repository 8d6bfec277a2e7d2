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
"""
from __future__ import annotations

import atexit
import marshal
import os
import select
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
        """Run one program; see the module docstring for what is isolated and how."""
        req = {"code": code, "timeout": float(timeout), "memory_mb": int(memory_mb),
               "output_limit": int(output_limit), "file_mb": int(file_mb), "disk_mb": int(disk_mb),
               "max_files": int(max_files), "max_procs": int(max_procs),
               "network": {"socket-disabled": "seccomp"}.get(network, network)}
        for attempt in range(2):
            server = self._acquire()
            reply = server.request(req, timeout + _GRACE)
            if reply is None:
                server.close()
                if attempt == 0:
                    continue
                return ExecResult("crashed", None, 0.0, "", "", None, "unknown", {},
                                  "sandbox server died or hung twice on this program")
            self._release(server)
            if "error" in reply:
                raise SandboxError(reply["error"])
            return ExecResult(**reply)
        raise AssertionError("unreachable")

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
                network: Network = "auto", **limits: int) -> ExecResult:
    """Run one untrusted program in the shared sandbox pool (limits: file_mb, disk_mb, max_files, max_procs)."""
    return _default_sandbox().run(code, timeout=timeout, memory_mb=memory_mb, output_limit=output_limit,
                                  network=network, **limits)


def run_many(programs: Sequence[str], *, workers: int | None = None, timeout: float = 3.0,
             **options) -> list[ExecResult]:
    """Run programs in parallel in the shared pool (default: one worker per CPU); results in input order."""
    return _default_sandbox().run_many(programs, workers=workers, timeout=timeout, **options)
