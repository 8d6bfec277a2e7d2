"""Where the live sample store sits: SQLite in WAL mode needs shared memory and working POSIX locks, which a
network or FUSE filesystem (NFS, Lustre, GPFS, CIFS/SMB, CephFS, s3fs/gcsfuse/sshfs...) does not reliably give.

When `--output-dir` is on such a filesystem the run keeps the live store on node-local disk
(`$EVALSUITE_STORE_DIR`, default the temp dir) and copies it back into the output dir after every round and at
the end: a consistent snapshot with SQLite's backup API, written next to the shared copy and renamed over it, so
the shared `samples.sqlite` is always a whole database (a requeued job on another node resumes from it). SQLite
never opens a file on the shared filesystem. A local copy left by an earlier run on this node is merged in, so
nothing it finished is lost. A SIGTERM (Slurm preemption, `scontrol requeue`) ends the run through the same final
copy.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import shutil
import signal
import sqlite3
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from evalsuite.errors import UsageError
from evalsuite.store import SampleStore

STORE_NAME = "samples.sqlite"
MAGIC = {0x6969: "nfs", 0x517B: "smb", 0xFF534D42: "cifs", 0xFE534D42: "smb2", 0x65735546: "fuse",
         0x0BD00BD0: "lustre", 0x47504653: "gpfs", 0x00C36400: "ceph", 0x5346414F: "afs", 0x01021997: "9p",
         0x7461636F: "ocfs2", 0x01161970: "gfs2", 0xAAD7AAEA: "panfs", 0x19830326: "beegfs", 0x73757245: "coda",
         0x564C: "ncp", 0x6B414653: "afs", 0x013111A8: "ibrix"}
"""statfs f_type magic numbers of network and FUSE filesystems (linux/magic.h and the vendors')."""
MOUNT_TYPES = ("nfs", "nfs4", "cifs", "smb", "smb3", "smbfs", "lustre", "gpfs", "ceph", "afs", "9p", "ocfs2",
               "gfs2", "panfs", "beegfs", "glusterfs", "coda", "ncpfs", "fuse", "fuseblk")
Log = Callable[[str], None]


def shared_filesystem(path: str | Path) -> str | None:
    """The type of the network or FUSE filesystem `path` (or its nearest existing parent) is on; None when it is
    local disk (or cannot be told)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    kind = _statfs_type(p)
    if kind is None:
        kind = _mounts_type(p)
    return kind


def _statfs_type(p: Path) -> str | None:
    """From statfs(2)'s f_type (the first field of struct statfs on Linux); None when unknown or not Linux."""
    name = ctypes.util.find_library("c")
    if not name or not os.uname().sysname == "Linux":
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    buf = ctypes.create_string_buffer(256)
    if libc.statfs(os.fsencode(str(p)), buf) != 0:
        return None
    f_type = ctypes.c_ulong.from_buffer(buf).value & 0xFFFFFFFF
    return MAGIC.get(f_type, "")


def _mounts_type(p: Path) -> str | None:
    """From /proc/mounts: the type of the longest mount point above `p`, when it is a network or FUSE one."""
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    best, kind = "", None
    target = str(p.resolve())
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
            best, kind = point, parts[2]
    if kind and (kind in MOUNT_TYPES or kind.startswith("fuse.")):
        return kind
    return None


def local_store_path(output_dir: Path) -> Path:
    """Where the live store of `output_dir` sits on this node: one file per output dir under $EVALSUITE_STORE_DIR
    (default the temp dir)."""
    root = Path(os.environ.get("EVALSUITE_STORE_DIR") or tempfile.gettempdir())
    key = hashlib.sha256(str(output_dir.resolve()).encode()).hexdigest()[:16]
    return root / f"evalsuite-store-{key}" / STORE_NAME


@contextmanager
def open_store(output_dir: Path, log: Log) -> Iterator[tuple[SampleStore, Callable[[], None]]]:
    """The run's sample store and a `sync()` to call after each round: the store in `output_dir` on local disk
    (sync does nothing), or a node-local live copy that `sync()` and the end of the block copy back."""
    shared = output_dir / STORE_NAME
    kind = shared_filesystem(output_dir)
    if not kind:
        store = SampleStore(shared)
        try:
            yield store, lambda: None
        finally:
            store.close()
        return
    local = local_store_path(output_dir)
    try:
        local.parent.mkdir(parents=True, exist_ok=True)
        restore(shared, local)
    except (OSError, sqlite3.Error) as e:
        raise UsageError(f"cannot keep the sample store on local disk at {local.parent} ({e}); set "
                         "EVALSUITE_STORE_DIR to a writable node-local folder") from None
    log(f"--output-dir is on a {kind} filesystem, where SQLite is not safe: the live sample store is {local}, "
        f"copied to {shared} after every round")
    store = SampleStore(local)
    sync = lambda: publish(store, shared)  # noqa: E731
    with _sigterm_exits():
        try:
            yield store, sync
        finally:
            try:
                sync()
            finally:
                store.close()


def restore(shared: Path, local: Path) -> None:
    """Start the local live store from the shared copy (when there is one), keeping every row of a local copy an
    earlier run on this node left behind."""
    if not shared.exists():
        return
    tmp = local.with_name(local.name + ".restore")
    shutil.copyfile(shared, tmp)
    if local.exists():
        _merge(local, tmp)
    for suffix in ("-wal", "-shm"):
        Path(str(local) + suffix).unlink(missing_ok=True)
    os.replace(tmp, local)


def _merge(old: Path, into: Path) -> None:
    """Copy the rows of every table of `old` that `into` lacks (same schema: both are this store's files)."""
    con = sqlite3.connect(into)
    try:
        con.execute("ATTACH DATABASE ? AS old", (str(old),))
        tables = [r[0] for r in con.execute("SELECT name FROM old.sqlite_master WHERE type='table' "
                                            "AND name NOT LIKE 'sqlite_%'")]
        with con:
            for t in tables:
                con.execute(f'INSERT OR IGNORE INTO main."{t}" SELECT * FROM old."{t}"')
        con.execute("DETACH DATABASE old")
    finally:
        con.close()


def publish(store: SampleStore, shared: Path) -> None:
    """Copy the live store to `shared` atomically: a backup-API snapshot on local disk (rollback journal, so the
    copy needs no -wal file), then written beside `shared`, flushed, and renamed over it."""
    snap = store.path.with_name(store.path.name + ".snapshot")
    snap.unlink(missing_ok=True)
    dst = sqlite3.connect(snap)
    try:
        src = sqlite3.connect(store.path, timeout=60)
        try:
            src.backup(dst)
        finally:
            src.close()
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
    tmp = shared.with_name(f".{shared.name}.{os.getpid()}.tmp")
    with open(snap, "rb") as fin, open(tmp, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.fsync(fout.fileno())
    os.replace(tmp, shared)
    snap.unlink(missing_ok=True)


@contextmanager
def _sigterm_exits() -> Iterator[None]:
    """While the store is open, SIGTERM (Slurm's preemption and requeue signal) ends the run through its
    `finally` blocks, so the last copy-back happens; the previous handler comes back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    before = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)
