"""A run's executors by model role (evalsuite/executors/roles.py) under the engine, with scripted models: each
request goes to its role's model and is stored under that model's identity, a `self` role is the main model, a
role with no request is never made, and a rerun reads every role's replies from the one store."""
from __future__ import annotations

import pytest

from evalsuite import engine
from evalsuite.backends.mock import MockBackend
from evalsuite.engine import TaskPlan
from evalsuite.errors import UsageError
from evalsuite.executors.local import LocalExecutor
from evalsuite.executors.roles import RoleExecutors
from evalsuite.protocols.base import Protocol, Settings
from evalsuite.records import Kind, Request
from evalsuite.roles import SELF, Role, RoleModel
from evalsuite.store import SampleStore
from evalsuite.tasks.card_code import build_scorer
from evalsuite.tasks.cards import resolve_tasks
from evalsuite.tasks.loader import load_docs


class AskTheCritic(Protocol):
    """Round 0: the main model answers; round 1: the critic and the arguer (by default the main model) each reply."""

    registry_name = "ask_the_critic"
    roles = ("critic", Role("arguer", default=SELF), Role("judge", optional=True))

    def first(self, doc):
        return [Request(messages=(("user", f"Q{doc.doc_id}"),), gen=self.settings.gen(), want=())]

    def next(self, doc, history):
        if len(history) > 1:
            return None
        answer = history[0][0].generation.text
        return [Request(messages=(("user", f"review {doc.doc_id}: {answer}"),), gen=self.settings.gen(), want=(),
                        kind=Kind.FEEDBACK, role="critic"),
                Request(messages=(("user", f"argue {doc.doc_id}: {answer}"),), gen=self.settings.gen(), want=(),
                        kind=Kind.FEEDBACK, role="arguer")]


def _plan() -> TaskPlan:
    (card,) = resolve_tasks("gsm8k")
    return TaskPlan(card, load_docs(card, 2), AskTheCritic(card, Settings(max_tokens=8)), build_scorer(card))


def _models():
    main = MockBackend("main", "reply=#### 7")
    critic = MockBackend("critic", "reply=No")
    judge = MockBackend("judge", "reply=Yes")
    roles = {"critic": RoleModel("mock:critic"), "arguer": RoleModel(SELF), "judge": RoleModel("mock:judge")}
    execs = RoleExecutors(LocalExecutor(main), roles, {"critic": critic, "judge": judge})
    return main, critic, judge, execs


def test_each_request_goes_to_its_roles_model_under_that_models_key(tmp_path):
    main, critic, judge, execs = _models()
    store = SampleStore(tmp_path / "s.sqlite")
    out, stats = engine.run([_plan()], execs, store, progress=False, log=lambda m: None)
    by = {(s.doc_id, s.request.role): s for s in out}
    assert [r.messages[0][1] for r in critic.calls] == ["review 0: #### 7", "review 1: #### 7"]
    assert sorted(r.messages[0][1] for r in main.calls) == ["Q0", "Q1", "argue 0: #### 7", "argue 1: #### 7"]
    assert by["0", "critic"].generation.text == "No" and by["0", "arguer"].generation.text == "#### 7"
    review = by["0", "critic"]
    assert review.key == review.request.key("mock", "critic", "scripted", 0)  # the critic model's identity
    assert by["0", "arguer"].key == by["0", "arguer"].request.key("mock", "main", "scripted", 0)
    assert stats.generated == 6 and "judge" not in execs.made and judge.calls == []  # never asked: never made
    assert set(execs.made) == {"critic"}

    main2, critic2, _, execs2 = _models()
    again, stats2 = engine.run([_plan()], execs2, store, progress=False, log=lambda m: None)
    assert (stats2.generated, stats2.from_store, main2.calls, critic2.calls) == (0, 6, [], [])
    assert [s.generation.text for s in again] == [s.generation.text for s in out]
    store.close()


def test_a_role_requests_key_differs_from_the_same_request_to_the_main_model():
    req = Request(messages=(("user", "hi"),))
    assert "role" not in req.to_dict()  # a main-model request's dict and key do not know roles exist
    critic = Request(messages=(("user", "hi"),), role="critic")
    assert critic.to_dict()["role"] == "critic"
    assert critic.key("mock", "m", "r", 0) != req.key("mock", "m", "r", 0)


def test_identities_describe_and_an_unknown_role():
    main, critic, judge, execs = _models()
    assert execs.identity(None) == execs.identity("arguer") == execs.main.identity
    assert execs.executor("arguer") is execs.main and execs.made == {}
    assert execs.identities()["critic"] == {"spec": "mock:critic", "args": None, "backend": "mock",
                                            "model_id": "critic", "revision": "scripted"}
    assert execs.identities()["arguer"]["model_id"] == "main"
    with pytest.raises(UsageError, match="a request asks the 'critic2' role and the run gives it no model"):
        execs.executor("critic2")
    execs.executor("critic")
    assert set(execs.describe()["roles"]) == {"critic"}
    execs.close()


@pytest.mark.slow
def test_a_role_runs_on_ray_replicas_of_its_own_model_like_the_main_one(local_ray, tmp_path):
    import json

    from evalsuite import evaluate

    run = dict(tasks="self_predict_gsm8k", model="mock:subject", model_args="reply=Yes", limit=2, max_tokens=16,
               roles={"observer": "mock:observer"}, role_args={"observer": "reply=No"}, progress=False,
               log=lambda m: None)
    local = evaluate(output_dir=tmp_path / "local", **run)
    res = evaluate(output_dir=tmp_path / "ray", executor="ray", replicas=1, **run)
    ex = json.loads((tmp_path / "ray" / "results.json").read_text())["execution"]
    assert ex["executor"] == "ray" and ex["roles"]["observer"]["executor"] == "ray"
    assert ex["roles"]["observer"]["replicas"] == 1
    assert {s.generation.text for s in res.samples if "observer" in s.info} == {"No"}
    assert (tmp_path / "local" / "samples.jsonl").read_bytes() == (tmp_path / "ray" / "samples.jsonl").read_bytes()
    assert local.stats.generated == res.stats.generated


def test_a_role_naming_the_main_model_with_its_options_shares_the_main_executor():
    main = MockBackend("m", "reply=7")
    roles = {"arguer": RoleModel("mock:m", "reply=7"), "critic": RoleModel("mock:m", "reply=8"),
             "judge": RoleModel("mock:j", "reply=7")}
    backends = {"arguer": MockBackend("m", "reply=7"), "critic": MockBackend("m", "reply=8"),
                "judge": MockBackend("j", "reply=7")}
    execs = RoleExecutors(LocalExecutor(main), roles, backends, main_args="reply=7")
    assert execs.executor("arguer") is execs.main  # same model, same options: loaded once
    assert execs.executor("critic") is not execs.main and execs.executor("judge") is not execs.main
    assert set(execs.made) == {"critic", "judge"}
    unknown = RoleExecutors(LocalExecutor(main), roles, backends)  # without main_args nothing is shared
    assert unknown.executor("arguer") is not unknown.main


def test_a_shared_observer_gives_the_replies_a_model_of_its_own_gives(tiny_model_dir, tmp_path):
    from evalsuite import evaluate

    run = dict(tasks="self_predict_gsm8k", model=f"hf:{tiny_model_dir}", limit=2, max_tokens=8, progress=False,
               log=lambda m: None)
    shared = evaluate(output_dir=tmp_path / "shared", roles={"observer": f"hf:{tiny_model_dir}"}, **run)
    own = evaluate(output_dir=tmp_path / "own", roles={"observer": f"hf:{tiny_model_dir}"},
                   role_args={"observer": "batch_size=8"}, **run)  # the default, spelled out: a second copy
    assert "roles" not in shared.info["execution"] and "observer" in own.info["execution"]["roles"]
    assert (tmp_path / "shared" / "samples.jsonl").read_bytes() == (tmp_path / "own" / "samples.jsonl").read_bytes()
