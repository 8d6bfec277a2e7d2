"""Edge checks: settings that cannot work are refused before any model call, from the docs actually loaded."""
from __future__ import annotations

import json

import pytest

from evalsuite.engine import TaskPlan
from evalsuite.errors import UsageError
from evalsuite.protocols.base import Settings
from evalsuite.protocols.contamination import Contamination
from evalsuite.protocols.direct import Direct
from evalsuite.protocols.self_predict import SelfPredict
from evalsuite.tasks import catalog, load_docs
from evalsuite.tasks.cards import DATA_DIR
from evalsuite.tasks.gsm8k.utils import GSM8KScorer
from evalsuite.validate import check_model_args, check_plans, check_sampling


def plan(task: str, proto_cls, limit: int = 4, data_dir=None) -> TaskPlan:
    card = catalog()[task]
    settings = Settings(max_tokens=8)
    return TaskPlan(card, load_docs(card, limit, data_dir=data_dir), proto_cls(card, settings), GSM8KScorer())


@pytest.mark.parametrize("args", ["batch_size=0", "dtype=float32,batch_size=-2", {"batch_size": 0}])
def test_batch_size_must_be_positive(args):
    with pytest.raises(UsageError, match="batch_size must be a positive number"):
        check_model_args(args)


@pytest.mark.parametrize("args", [None, "", "batch_size=1", "batch_size=abc", {"batch_size": 16}, "dtype=auto"])
def test_other_model_args_pass_through(args):
    check_model_args(args)  # a non-number is left to the backend's parser, which names the type


@pytest.mark.parametrize("t, p", [(float("nan"), 1.0), (float("inf"), 1.0), (0.0, float("nan"))])
def test_sampling_must_be_finite(t, p):
    with pytest.raises(UsageError, match="finite"):
        check_sampling(t, p)


def test_contamination_needs_membership_labels():
    with pytest.raises(UsageError, match="membership labels.*task gsm8k has none"):
        check_plans([plan("gsm8k", Contamination)], {})


def test_contamination_accepts_any_data_with_labels(tmp_path):
    """The rule reads the docs, not a list of task names: GSM8K with a `member` field qualifies."""
    rows = [json.loads(x) for x in (DATA_DIR / "gsm8k" / "test.jsonl").read_text().splitlines()[:4]]
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_text(
        "".join(json.dumps({**r, "member": i % 2 == 0}) + "\n" for i, r in enumerate(rows)))
    check_plans([plan("gsm8k", Contamination, data_dir=tmp_path)], {})


def test_contamination_on_rl_mia_passes(shared_data, monkeypatch):
    monkeypatch.setenv("EVALSUITE_DATA_DIR", str(shared_data()))
    check_plans([plan("rl_mia_gsm8k", Contamination)], {})


def test_observer_model_needs_a_self_prediction_task():
    with pytest.raises(UsageError, match="--observer-model applies to self_predict runs only"):
        check_plans([plan("gsm8k", Direct)], {"observer_model": "embedded"})
    check_plans([plan("self_predict_gsm8k", SelfPredict)], {"observer_model": "embedded"})
    with pytest.raises(UsageError, match="--observer-model: unknown model 'nope:x'"):
        check_plans([plan("self_predict_gsm8k", SelfPredict)], {"observer_model": "nope:x"})
    with pytest.raises(UsageError, match="--observer-model-args batch_size"):
        check_plans([plan("self_predict_gsm8k", SelfPredict)],
                    {"observer_model": "embedded", "observer_model_args": "batch_size=0"})


def test_observer_args_without_observer():
    with pytest.raises(UsageError, match="--observer-model-args needs --observer-model"):
        check_plans([plan("gsm8k", Direct)], {"observer_model_args": "batch_size=2"})


def test_given_roles_read_flags_and_aliases_and_refuse_what_cannot_work():
    from evalsuite.roles import RoleModel
    from evalsuite.validate import given_roles

    got = given_roles(["critic=mock:c"], ["critic=reply=No"], {"observer_model": "mock:o"})
    assert got == {"critic": RoleModel("mock:c", "reply=No", "--role critic"),
                   "observer": RoleModel("mock:o", None, "--observer-model")}
    assert given_roles({"judge": "self"}, {}) == {"judge": RoleModel("self", None, "--role judge")}
    with pytest.raises(UsageError, match="--role-args judge: the judge role is the run's own model"):
        given_roles(["judge=self"], ["judge=batch_size=2"])
    with pytest.raises(UsageError, match="--role-args critic batch_size must be a positive number"):
        given_roles(["critic=mock:c"], ["critic=batch_size=0"])
    with pytest.raises(UsageError, match="--role-args critic needs a model for the critic role; add --role critic="):
        given_roles([], ["critic=batch_size=2"])


def test_check_plans_returns_the_roles_the_run_uses():
    from evalsuite.roles import RoleModel

    assert check_plans([plan("gsm8k", Direct)], {}) == {}
    roles = check_plans([plan("self_predict_gsm8k", SelfPredict)], {}, {"observer": RoleModel("mock:o")})
    assert roles == {"observer": RoleModel("mock:o")}
    assert check_plans([plan("self_predict_gsm8k", SelfPredict)], {}) == {}  # an optional stage, not given
