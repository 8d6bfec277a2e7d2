"""The sample store on a network or FUSE filesystem: detected, kept live on node-local disk, copied back whole after
every round and when the run stops (SIGTERM included), and resumed from the shared copy on another "node" (another
EVALSUITE_STORE_DIR). The FUSE tests use a real bindfs mount (tests/fuse_passthrough.py)."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalsuite import store_location

TASK = dict(tasks="correctbench_gsm8k", limit=3, max_tokens=8, progress=False)


def test_local_disk_is_not_shared_and_a_fuse_mount_is(fuse_dir):
    import tempfile

    assert not store_location.shared_filesystem(tempfile.gettempdir())
    mnt = fuse_dir
    assert store_location.shared_filesystem(mnt) == "fuse"
    assert store_location.shared_filesystem(mnt / "not" / "made" / "yet") == "fuse"


def test_proc_mounts_is_the_fallback(monkeypatch, fuse_dir):
    monkeypatch.setattr(store_location, "_statfs_type", lambda p: None)
    mnt = fuse_dir
    assert store_location.shared_filesystem(mnt) == "fuse"
    assert store_location.shared_filesystem("/proc") is None  # procfs: not a network filesystem


def _table(path: Path, rows: dict[str, str], mode: str = "delete") -> None:
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA journal_mode={mode}")
    con.execute("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v TEXT)")
    with con:
        con.executemany("INSERT OR REPLACE INTO t VALUES (?, ?)", rows.items())
    con.close()


def _rows(path: Path) -> dict[str, str]:
    con = sqlite3.connect(path)
    try:
        return dict(con.execute("SELECT k, v FROM t"))
    finally:
        con.close()


def test_restore_starts_from_the_shared_copy_and_keeps_what_this_node_had(tmp_path):
    shared, local = tmp_path / "shared.sqlite", tmp_path / "node" / "live.sqlite"
    local.parent.mkdir()
    _table(shared, {"a": "1", "b": "2"})
    _table(local, {"b": "2", "c": "3"}, mode="wal")  # a run on this node got further before it was killed
    store_location.restore(shared, local)
    assert _rows(local) == {"a": "1", "b": "2", "c": "3"}


def test_publish_writes_a_whole_database_with_no_journal_beside_it(tmp_path):
    from evalsuite.store import SampleStore

    (tmp_path / "live").mkdir()
    store = SampleStore(tmp_path / "live" / "samples.sqlite")
    shared = tmp_path / "shared" / "samples.sqlite"
    shared.parent.mkdir()
    try:
        store_location.publish(store, shared)
    finally:
        store.close()
    assert sorted(p.name for p in shared.parent.iterdir()) == ["samples.sqlite"]
    with open(shared, "rb") as fh:
        header = fh.read(20)
    assert header.startswith(b"SQLite format 3\0") and header[18:20] == b"\x01\x01"  # rollback journal, not WAL


@pytest.mark.slow
def test_a_run_on_fuse_keeps_the_store_local_and_resumes_on_another_node(tiny_model_dir, tmp_path, monkeypatch,
                                                                         fuse_dir):
    from evalsuite import evaluate

    kw = dict(model=f"hf:{tiny_model_dir}", model_args="batch_size=2", **TASK)
    local = evaluate(output_dir=tmp_path / "local", log=lambda m: None, **kw)
    mnt = fuse_dir
    out = mnt / "run"
    monkeypatch.setenv("EVALSUITE_STORE_DIR", str(tmp_path / "node-a"))
    lines: list[str] = []
    first = evaluate(output_dir=out, log=lines.append, **kw)
    assert any("fuse filesystem" in x and str(tmp_path / "node-a") in x for x in lines), lines
    assert first.stats.generated == local.stats.generated
    assert not (out / "samples.sqlite-wal").exists() and not (out / "samples.sqlite-shm").exists()
    assert (out / "samples.jsonl").read_bytes() == (tmp_path / "local" / "samples.jsonl").read_bytes()
    monkeypatch.setenv("EVALSUITE_STORE_DIR", str(tmp_path / "node-b"))  # a requeued job on another node
    again = evaluate(output_dir=out, log=lambda m: None, **kw)
    assert again.stats.generated == 0 and again.stats.from_store == local.stats.generated
    assert (out / "samples.jsonl").read_bytes() == (tmp_path / "local" / "samples.jsonl").read_bytes()


@pytest.mark.slow
def test_sigterm_mid_run_copies_the_store_back_and_another_node_resumes(tiny_model_dir, tmp_path, fuse_dir):
    local_out = tmp_path / "local"
    cmd = [sys.executable, "-m", "evalsuite", "run", "--tasks", "correctbench_gsm8k", "--limit", "6", "--rounds", "2",
           "--max-tokens", "16", "--model", f"hf:{tiny_model_dir}", "--model-args", "batch_size=1", "--threads", "1",
           "--no-progress"]
    subprocess.run(cmd + ["--output-dir", str(local_out)], check=True, capture_output=True)
    mnt = fuse_dir
    out = mnt / "run"
    env = {**os.environ, "EVALSUITE_STORE_DIR": str(tmp_path / "node-a")}
    proc = subprocess.Popen(cmd + ["--output-dir", str(out)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    live = tmp_path / "node-a" / f"evalsuite-store-{_key(out)}" / "samples.sqlite"
    deadline = time.monotonic() + 300
    while _count(live) < 8 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read()[-2000:]  # still mid-run
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    kept = _count(live)
    shared_copy = tmp_path / "copy.sqlite"
    shared_copy.write_bytes((out / "samples.sqlite").read_bytes())
    assert _count(shared_copy) == kept >= 8  # everything finished reached the shared copy
    env["EVALSUITE_STORE_DIR"] = str(tmp_path / "node-b")
    done = subprocess.run(cmd + ["--output-dir", str(out)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{kept} read from the store" in done.stdout
    assert (out / "samples.jsonl").read_bytes() == (local_out / "samples.jsonl").read_bytes()
    metrics = [json.loads((d / "results.json").read_text())["tasks"] for d in (out, local_out)]
    assert [{k: v["metrics"] for k, v in m.items()} for m in metrics][0] == \
        [{k: v["metrics"] for k, v in m.items()} for m in metrics][1]


def _key(out: Path) -> str:
    import hashlib

    return hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]


def _count(db: Path) -> int:
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0
