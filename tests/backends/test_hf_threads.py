"""`--threads` / `--model-args threads=N`: torch's CPU thread count for the hf backend, its default, the run-header
line and the value recorded in results.json."""
from __future__ import annotations

import json
import os

import pytest
import torch

from evalsuite import evaluate
from evalsuite.backends.hf import HFBackend, default_threads
from evalsuite.errors import UsageError


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_default_follows_omp_num_threads_else_the_usable_cores(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads() == (3, "OMP_NUM_THREADS")
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert default_threads() == (len(os.sched_getaffinity(0)), "cores available")
    monkeypatch.setenv("OMP_NUM_THREADS", "lots")  # not a count: ignored, as torch ignores it
    assert default_threads()[1] == "cores available"


def test_model_args_threads_is_applied_when_the_model_loads(tiny_model_dir, restore_threads):
    torch.set_num_threads(2)
    be = HFBackend(str(tiny_model_dir), {"threads": 1})
    assert (be.threads, be.threads_from) == (1, "--model-args threads") and torch.get_num_threads() == 2
    be.load()
    assert torch.get_num_threads() == 1
    with pytest.raises(UsageError, match="threads=-2 must be a positive number"):
        HFBackend(str(tiny_model_dir), {"threads": -2})


def test_threads_flag_sets_torch_logs_a_header_line_and_is_recorded(tiny_model_dir, tmp_path, restore_threads):
    torch.set_num_threads(2)
    logs: list[str] = []
    evaluate(tasks="gsm8k", model=f"hf:{tiny_model_dir}", limit=1, max_tokens=3, output_dir=tmp_path,
             progress=False, log=logs.append, threads=1)
    assert torch.get_num_threads() == 1
    assert any("torch CPU threads 1 (--threads" in m for m in logs), logs
    assert json.loads((tmp_path / "results.json").read_text())["config"]["threads"] == 1


def test_bad_threads_are_one_usage_error(tiny_model_dir, tmp_path):
    with pytest.raises(UsageError, match="--threads must be a positive number"):
        evaluate(tasks="gsm8k", model=f"hf:{tiny_model_dir}", limit=1, output_dir=tmp_path, threads=0,
                 progress=False, log=lambda m: None)
    with pytest.raises(UsageError, match="the openai backend does not use them"):
        evaluate(tasks="gsm8k", model="openai:m@http://127.0.0.1:9/v1", limit=1, output_dir=tmp_path, threads=2,
                 progress=False, log=lambda m: None)
