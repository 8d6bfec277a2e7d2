"""The `@executor` registry (executors/factory.py): the shipped kinds are declared without importing Ray, a kind
checks its own settings, and an executor a plugin registers runs a whole run, its model roles included."""
from __future__ import annotations

import pytest

from evalsuite import evaluate
from evalsuite.backends.mock import MockBackend
from evalsuite.errors import UsageError
from evalsuite.executors.factory import check_execution, make_executor
from evalsuite.executors.local import LocalExecutor
from evalsuite.registry import EXECUTORS, executor, load_plugins


@pytest.fixture
def counting():
    """A plugin executor: the local one, counting the rounds it ran (unregistered afterwards)."""

    @executor("counting")
    class Counting(LocalExecutor):
        name = "counting"
        made: list["Counting"] = []

        @classmethod
        def create(cls, backend, settings, log):
            ex = cls(backend)
            cls.made.append(ex)
            return ex

        def run_round(self, items, on_result):
            self.rounds = getattr(self, "rounds", 0) + 1
            super().run_round(items, on_result)

    yield Counting
    dict.pop(EXECUTORS, "counting", None)


def test_the_shipped_kinds_are_declared_lazily():
    load_plugins()
    assert {"local", "ray"} <= set(EXECUTORS)
    assert EXECUTORS["local"] is LocalExecutor and LocalExecutor.registry_name == "local"
    assert dict.get(EXECUTORS, "ray") in ("evalsuite.executors.ray:RayExecutor", EXECUTORS["ray"])


def test_each_kind_checks_its_settings():
    assert check_execution(None) == "local" and check_execution(None, replicas=2) == "ray"
    with pytest.raises(UsageError, match="--replicas, --ray-address and --replica-env need --executor ray"):
        check_execution("local", replica_env=["HF_HOME"])
    with pytest.raises(UsageError, match="unknown executor 'dask'; choose one of: local, ray"):
        check_execution("dask")


def test_a_plugin_executor_runs_the_main_model_and_each_role(counting, tmp_path):
    assert isinstance(make_executor("counting", MockBackend("m")), counting)
    counting.made.clear()
    subject = MockBackend("subject", script=lambda r: "Yes" if "predict" in r.messages[0][1].lower() else "#### 7")
    res = evaluate("self_predict_gsm8k", model=subject, limit=2, output_dir=tmp_path, max_tokens=16,
                   executor="counting", roles={"observer": "mock:observer"}, role_args={"observer": "reply=No"},
                   progress=False, log=lambda m: None)
    assert [ex.backend.model_id for ex in counting.made] == ["subject", "observer"]  # the role's too
    assert all(ex.rounds == 1 for ex in counting.made)
    assert res.info["execution"]["executor"] == "counting"
    assert {s.info["observer"] for s in res.samples if "observer" in s.info} == {"mock:observer"}
