"""One run at a time per output dir: an advisory lock (flock) on `RUN_DIR/.evalsuite.lock`.

A second run into the same dir waits for the first and then reads the first run's replies from the sample store
instead of generating them again. The kernel drops the lock when its holder exits, even on SIGKILL."""
from __future__ import annotations

import fcntl
import functools
import os
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from evalsuite.errors import UsageError

LOCK_NAME = ".evalsuite.lock"
_HELD: ContextVar[ExitStack | None] = ContextVar("evalsuite_run_locks", default=None)
F = TypeVar("F", bound=Callable[..., Any])


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""


@contextmanager
def run_dir_lock(run_dir: Path, log: Callable[[str], None]) -> Iterator[None]:
    """Hold the run dir's lock for the block; wait, saying so through `log`, while another process holds it."""
    path = Path(run_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise UsageError(f"cannot create the run lock {path} ({e.strerror or e}); choose another --output-dir") \
            from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another evalsuite run{_holder(fd)} writing into {run_dir}; this run continues when "
                "it ends and reads that run's replies from the sample store")
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:  # e.g. a file system without flock (some network mounts)
            log(f"warning: {run_dir} cannot be locked ({e.strerror or e}); do not start a second run into it "
                "until this one ends")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def releases_run_locks(fn: F) -> F:
    """Decorator: run dir locks that `hold` takes inside `fn` are released when `fn` returns or raises."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with ExitStack() as stack:
            token = _HELD.set(stack)
            try:
                return fn(*args, **kwargs)
            finally:
                _HELD.reset(token)

    return wrapper  # type: ignore[return-value]


def hold(run_dir: Path, log: Callable[[str], None]) -> None:
    """Take the run dir's lock until the enclosing `@releases_run_locks` function ends (waiting while it is held)."""
    stack = _HELD.get()
    if stack is None:
        raise RuntimeError("runlock.hold() needs an enclosing @releases_run_locks function")
    stack.enter_context(run_dir_lock(run_dir, log))
