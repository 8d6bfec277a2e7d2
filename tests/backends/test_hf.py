"""The hf backend on the tiny random Llama: per-token statistics against full logits, greedy, sampling, stops."""
from __future__ import annotations

import math

import pytest
import torch

from evalsuite.records import GenParams, Request

QUESTIONS = ["What is 2+3?", "Natalia sold clips to 48 of her friends in April.", "Hi"]


def _req(q: str, **gen) -> Request:
    return Request(messages=(("user", q),), gen=GenParams(**{"max_tokens": 12, **gen}),
                   want=("logprob", "entropy", "sc_term", "mink_mu", "mink_sigma"))


def _brute_force(be, req, gen):
    """Every statistic recomputed from the full logits of one unpadded forward over prompt + reply."""
    text, special = be.render(req)
    p_ids = be.tokenizer(text, add_special_tokens=special)["input_ids"]
    ids = torch.tensor([p_ids + gen.token_ids])
    with torch.no_grad():
        logits = be.model(input_ids=ids).logits[0].double()
    rows = logits[len(p_ids) - 1 : len(p_ids) - 1 + len(gen.token_ids)]
    logp = torch.log_softmax(rows, -1)
    p = logp.exp()
    V = logits.shape[-1]
    chosen = torch.tensor(gen.token_ids)
    mu = (p * logp).sum(-1)
    return {
        "logprob": logp[torch.arange(len(chosen)), chosen],
        "entropy": -(p * logp).sum(-1),
        "sc_term": -math.log(V) - logp.sum(-1) / V,
        "mink_mu": mu,
        "mink_sigma": ((p * logp**2).sum(-1) - mu**2).sqrt(),
    }


def test_stats_match_full_logits_brute_force(tiny_backend):
    reqs = [_req(q) for q in QUESTIONS]
    gens = tiny_backend.generate(reqs)
    for req, gen in zip(reqs, gens):
        assert len(gen.token_ids) > 0
        ref = _brute_force(tiny_backend, req, gen)
        for name, expected in ref.items():
            got = torch.tensor(gen.stats[name], dtype=torch.float64)
            assert got.shape == expected.shape
            assert torch.allclose(got, expected, atol=1e-5, rtol=0), name


def test_greedy_matches_transformers_generate(tiny_backend):
    be = tiny_backend
    reqs = [_req(q) for q in QUESTIONS]
    gens = be.generate(reqs)
    for req, gen in zip(reqs, gens):
        text, special = be.render(req)
        enc = be.tokenizer(text, add_special_tokens=special, return_tensors="pt")
        out = be.model.generate(**enc, max_new_tokens=12, do_sample=False)
        ref = [t for t in out[0, enc["input_ids"].shape[1]:].tolist() if t not in be.eos_ids]
        assert gen.token_ids == ref[: len(gen.token_ids)]
        assert len(gen.token_ids) == len(ref)


def test_batch_composition_does_not_change_results(tiny_backend):
    alone = tiny_backend.generate([_req(QUESTIONS[1])])[0]
    mixed = tiny_backend.generate([_req(q) for q in QUESTIONS])[1]
    assert alone.token_ids == mixed.token_ids


def test_seeded_sampling_is_reproducible_and_seed_dependent(tiny_backend):
    a = tiny_backend.generate([_req(QUESTIONS[0], temperature=1.0, seed=1)])[0]
    b = tiny_backend.generate([_req(q, temperature=1.0, seed=1) for q in QUESTIONS])[0]
    c = tiny_backend.generate([_req(QUESTIONS[0], temperature=1.0, seed=2)])[0]
    assert a.token_ids == b.token_ids
    assert a.token_ids != c.token_ids


def test_top_p_tiny_keeps_only_the_argmax(tiny_backend):
    greedy = tiny_backend.generate([_req(QUESTIONS[0])])[0]
    nucleus = tiny_backend.generate([_req(QUESTIONS[0], temperature=1.0, top_p=1e-6, seed=3)])[0]
    assert nucleus.token_ids == greedy.token_ids


def test_stop_string_truncates_text_and_tokens(tiny_backend):
    full = tiny_backend.generate([_req(QUESTIONS[0], max_tokens=20)])[0]
    stop = full.text[6:9]
    assert stop and full.text.find(stop) >= 0
    cut = tiny_backend.generate([_req(QUESTIONS[0], max_tokens=20, stop=(stop,))])[0]
    assert cut.text == full.text[: full.text.find(stop)]
    assert cut.finish_reason == "stop"
    assert cut.token_ids == full.token_ids[: len(cut.token_ids)]
    assert len(cut.token_ids) < len(full.token_ids)
    assert stop in tiny_backend.tokenizer.decode(cut.token_ids)


def test_max_tokens_per_request_in_one_batch(tiny_backend):
    gens = tiny_backend.generate([_req(QUESTIONS[0], max_tokens=3), _req(QUESTIONS[1], max_tokens=9)])
    assert [len(g.token_ids) for g in gens] == [3, 9]
    assert all(g.finish_reason == "length" for g in gens)
    assert all(len(g.stats["entropy"]) == len(g.token_ids) for g in gens)


def test_score_teacher_forced_matches_generation_stats(tiny_backend):
    req = _req(QUESTIONS[2])
    gen = tiny_backend.generate([req])[0]
    text = tiny_backend.tokenizer.decode(gen.token_ids)
    ids = tiny_backend.tokenizer(text, add_special_tokens=False)["input_ids"]
    if ids != gen.token_ids:
        pytest.skip("reply does not re-tokenize to the same ids")
    stats = tiny_backend.score(req, text, ("logprob", "sc_term"))
    assert stats["logprob"] == pytest.approx(gen.stats["logprob"], abs=1e-5)
    shifted = tiny_backend.score(req, text, ("sc_term",), offset=1)
    assert shifted["sc_term"][:-1] == pytest.approx(stats["sc_term"][1:], abs=1e-5)


def test_no_chat_template_falls_back_to_plain_turns(tmp_path, build_model):
    from evalsuite.backends.hf import HFBackend

    be = HFBackend(str(build_model(tmp_path / "m", chat_template=False)))
    be.load()
    text, special = be.render(_req("Q?"))
    assert text == "User: Q?\n\nAssistant:" and special


def test_teacher_forced_requests_go_through_the_executor(tiny_model_dir):
    from evalsuite.backends.hf import HFBackend
    from evalsuite.executors.local import call_backend

    be = HFBackend(str(tiny_model_dir))
    req = Request(messages=(("user", "Hi"),), continuation=" 2 + 3 = 5", want=("logprob", "entropy"))
    got = call_backend(be, [req, _req("Hi")])
    assert got[0].finish_reason == "scored" and len(got[0].token_ids) == len(got[0].stats["entropy"]) > 0
    assert got[1].finish_reason == "length"
    direct = be.score(req, " 2 + 3 = 5", ("logprob",))
    assert got[0].stats["logprob"] == pytest.approx(direct["logprob"])


def test_weights_retrained_in_place_get_a_new_revision(tmp_path, tiny_model_dir, monkeypatch):
    """Same file names and sizes, different weights: the store key must change, or old replies would be reused."""
    import shutil

    from evalsuite.backends.model_identity import local_build

    def _dir_fingerprint(path):
        return local_build(path).revision()

    monkeypatch.setenv("EVALSUITE_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    before = _dir_fingerprint(model)
    assert _dir_fingerprint(model) == before, "the same weights give the same id (read from the memo)"
    weights = next(model.glob("*.safetensors"))
    raw = bytearray(weights.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one bit of one weight, in the middle of the file
    weights.write_bytes(bytes(raw))
    assert _dir_fingerprint(model) != before


def test_the_revision_names_the_model_build_and_ignores_who_wrote_its_config(tmp_path, tiny_model_dir, monkeypatch):
    """A transformers upgrade rewrites config.json's transformers_version; that alone must keep the stored
    replies. The tokenizer, the generation config and the weights each give a new revision."""
    import json
    import shutil

    from evalsuite.backends.model_identity import local_build

    monkeypatch.setenv("EVALSUITE_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    before = local_build(model)

    def edit(name, **changes):
        path = model / name
        data = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**data, **changes}, indent=2))

    edit("config.json", transformers_version="9.99.0")
    edit("generation_config.json", transformers_version="9.99.0")
    assert local_build(model) == before
    edit("generation_config.json", max_new_tokens=7)
    assert local_build(model).generation != before.generation
    assert local_build(model).weights == before.weights
    edit("tokenizer_config.json", model_max_length=17)
    after = local_build(model)
    assert after.tokenizer != before.tokenizer and after.revision() != before.revision()


def test_the_store_revision_names_the_runtime_versions(tiny_model_dir):
    """The key's revision ends in the transformers and torch major.minor versions, so a minor upgrade starts fresh
    (numerics move in the 7th digit) and a patch release keeps the store."""
    import importlib.metadata

    from evalsuite.backends.hf import HFBackend

    be = HFBackend(str(tiny_model_dir))
    tf = ".".join(importlib.metadata.version("transformers").split(".")[:2])
    torch_mm = ".".join(importlib.metadata.version("torch").split("+")[0].split(".")[:2])
    assert be.revision.startswith("local-") and be.revision.endswith(f";transformers-{tf}+torch-{torch_mm}")
