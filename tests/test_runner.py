"""The runner's stages with scripted models: the observer stage runs a second backend on each protocol's observer
plans after the main rounds, and its samples join the run marked with who produced them."""
from __future__ import annotations

from evalsuite import evaluate
from evalsuite.backends.mock import MockBackend
from evalsuite.records import PREDICTIONS, Kind


def test_observer_stage_runs_a_second_scripted_model(tmp_path):
    subject = MockBackend("subject", script=lambda r: "Yes" if "predict" in r.messages[0][1].lower() else "#### 7")
    res = evaluate(tasks="self_predict_gsm8k", model=subject, limit=3, output_dir=tmp_path, max_tokens=32,
                   options={"observer_model": "mock:observer", "observer_model_args": "reply=No"},
                   progress=False, log=lambda m: None)
    observed = [s for s in res.samples if PREDICTIONS.get(s.kind, ("",))[0] == "observe"]
    own = [s for s in res.samples if PREDICTIONS.get(s.kind, ("",))[0] == "predict"]
    assert observed and len(observed) == len(own), "the observer is asked each prediction the subject was"
    assert {s.info["observer"] for s in observed} == {"mock:observer"}
    assert {s.generation.text for s in observed} == {"No"} and {s.generation.backend for s in observed} == {"mock"}
    assert all("observer" not in s.info for s in res.samples if s.kind == Kind.ANSWER)
    assert all("another AI" in s.request.messages[0][1] or "assistant" in s.request.messages[0][1].lower()
               for s in observed)
    rows = {str(r.metric) for r in res.metrics}
    assert "observer_accuracy[correct]" in rows and "introspective_advantage[correct]" in rows
