"""Kill a real run with SIGKILL mid-way; the restarted run completes with the same results, regenerating nothing."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow


def _cmd(model_dir, out):
    return [sys.executable, "-m", "evalsuite", "run", "--tasks", "gsm8k", "--model", f"hf:{model_dir}",
            "--model-args", "batch_size=2", "--limit", "10", "--max-tokens", "24", "--output-dir", str(out),
            "--no-progress"]


def _stored(path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _outputs(out):
    return [(s["doc_id"], s["output"], s["correct"]) for s in map(json.loads, open(out / "samples.jsonl"))]


def test_sigkill_then_resume(tiny_model_dir, tmp_path):
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(tiny_model_dir, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while _stored(killed / "samples.sqlite") < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    at_kill = _stored(killed / "samples.sqlite")
    assert 2 <= at_kill < 10, at_kill
    assert json.loads((killed / "results.json").read_text())["partial"] is True  # the live report, never final

    done = subprocess.run(_cmd(tiny_model_dir, killed), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    run = json.loads((killed / "results.json").read_text())["run"]
    assert run["from_store"] == at_kill and run["generated"] == 10 - at_kill

    clean = tmp_path / "clean"
    subprocess.run(_cmd(tiny_model_dir, clean), capture_output=True, check=True, timeout=300)
    assert _outputs(killed) == _outputs(clean)
    a = json.loads((killed / "results.json").read_text())["tasks"]["gsm8k"]["metrics"]
    b = json.loads((clean / "results.json").read_text())["tasks"]["gsm8k"]["metrics"]
    assert a == b


def test_a_rerun_with_another_model_build_says_its_replies_are_not_reused(tmp_path):
    """The store key names the model build and library versions; a re-run that differs says so in one line
    instead of regenerating silently."""
    import json

    from evalsuite import evaluate

    run = tmp_path / "run"
    evaluate(tasks=["gsm8k"], model="mock:m", limit=2, output_dir=run, progress=False, log=lambda *_: None)
    results = json.loads((run / "results.json").read_text())
    assert results["model"]["revision"] == "scripted"
    results["model"]["revision"] = "local-0123456789abcdef;transformers-5.24+torch-2.13"
    (run / "results.json").write_text(json.dumps(results))
    lines: list[str] = []
    evaluate(tasks=["gsm8k"], model="mock:m", limit=2, output_dir=run, progress=False, log=lines.append)
    notes = [x for x in lines if "not reused" in x]
    assert len(notes) == 1 and "transformers-5.24" in notes[0] and "scripted" in notes[0]
    lines.clear()
    evaluate(tasks=["gsm8k"], model="mock:m", limit=2, output_dir=run, progress=False, log=lines.append)
    assert not [x for x in lines if "not reused" in x]
