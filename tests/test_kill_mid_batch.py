"""SIGKILL a real run in the middle of a batch: the rows that had finished decoding are already in the store."""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

DOCS = 8


def _stored(path) -> list[dict]:
    if not path.exists():
        return []
    from evalsuite.store import read_generations

    try:
        return read_generations(path)
    except sqlite3.OperationalError:
        return []


def _split_token(replies: list[list[int]]) -> int:
    """A token that some greedy replies produce within their first 30 tokens and at least two never produce: made
    an end-of-sequence token, it ends those rows early while the others decode on."""
    best = None
    for t in {t for r in replies for t in r}:
        first = [r.index(t) if t in r else None for r in replies]
        early = sum(f is not None and f < 30 for f in first)
        never = sum(f is None for f in first)
        if early and never >= 2 and (best is None or early > best[0]):
            best = (early, t)
    if best is None:
        pytest.skip("no token splits the tiny model's replies into early and never-ending rows")
    return best[1]


def test_sigkill_mid_batch_keeps_the_finished_rows(tiny_model_dir, tmp_path):
    import evalsuite

    calib = evalsuite.evaluate(tasks=["gsm8k"], model=f"hf:{tiny_model_dir}", model_args="batch_size=8",
                               limit=DOCS, max_tokens=200, output_dir=tmp_path / "calib", progress=False,
                               log=lambda *_: None)
    replies = [s.generation.token_ids for s in calib.samples]
    stop = _split_token(replies)
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    cfg = json.loads((model / "generation_config.json").read_text())
    cfg["eos_token_id"] = [cfg["eos_token_id"], stop] if isinstance(cfg["eos_token_id"], int) else [stop]
    (model / "generation_config.json").write_text(json.dumps(cfg))
    expected = {tuple(r[: r.index(stop)]) for r in replies if stop in r[:30]}

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "evalsuite", "run", "--tasks", "gsm8k", "--model", f"hf:{model}",
           "--model-args", f"batch_size={DOCS}", "--limit", str(DOCS), "--max-tokens", "2000",
           "--output-dir", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while not _stored(out / "samples.sqlite") and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rows = _stored(out / "samples.sqlite")
    # One batch of all the docs: any stored row was stored before its batch ended.
    assert 1 <= len(rows) < DOCS, len(rows)
    assert all(r["finish_reason"] == "stop" and tuple(r["token_ids"]) in expected for r in rows)

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    run = json.loads((out / "results.json").read_text())["run"]
    assert run["from_store"] == len(rows) and run["generated"] == DOCS - len(rows)
