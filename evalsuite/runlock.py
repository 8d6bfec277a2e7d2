"""One run at a time per output dir: an advisory lock (flock) on `RUN_DIR/.evalsuite.lock`.

A second run into the same dir waits for the first and then reads the first run's replies from the sample store
instead of generating them again. The kernel drops the lock when its holder exits, even on SIGKILL."""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from evalsuite.errors import UsageError

LOCK_NAME = ".evalsuite.lock"


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
