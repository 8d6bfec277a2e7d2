"""End to end with the embedded SmolLM2-135M-Instruct: 3 GSM8K docs, offline, then a re-run with no model call."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_embedded_model_runs_gsm8k_offline(tmp_path):
    pytest.importorskip("gguf")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "evalsuite", "run", "--tasks", "gsm8k", "--limit", "3", "--max-tokens", "192",
           "--output-dir", str(tmp_path), "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "model calls: 3 generated" in proc.stdout
    payload = json.loads((tmp_path / "results.json").read_text())
    assert payload["model"]["model_id"].startswith("HuggingFaceTB/SmolLM2-135M-Instruct")
    samples = [json.loads(x) for x in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 3
    # A real instruction-tuned model answers in words with numbers, not random bytes.
    assert all(any(ch.isdigit() for ch in s["output"]) and " the " in s["output"] for s in samples)
    assert all(s["token_stats"]["mean_logprob"] > -3 for s in samples)
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert "model calls: 0 generated, 3 read from the store" in again.stdout
