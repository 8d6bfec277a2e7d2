"""The ray executor on a local Ray: 2 replicas of the hf backend give the in-process run's samples, byte for byte."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

TASK = dict(tasks="correctbench_gsm8k", limit=4, max_tokens=8, rounds=2, progress=False, log=lambda m: None)


@pytest.fixture(scope="module")
def in_process(tiny_model_dir, tmp_path_factory):
    from evalsuite import evaluate

    out = tmp_path_factory.mktemp("local")
    evaluate(model=f"hf:{tiny_model_dir}", model_args="batch_size=3", output_dir=out, **TASK)
    return out


def test_two_replicas_equal_the_in_process_run(local_ray, in_process, same_outputs, tiny_model_dir, tmp_path):
    from evalsuite import evaluate

    res = evaluate(model=f"hf:{tiny_model_dir}", model_args="batch_size=3", output_dir=tmp_path, executor="ray",
                   replicas=2, **TASK)
    same_outputs(in_process, tmp_path)
    assert len({s.round for s in res.samples}) == 5  # answer, then (critique, improved answer) twice
    ex = json.loads((tmp_path / "results.json").read_text())["execution"]
    assert ex["executor"] == "ray" and ex["replicas"] == 2 and ex["chunking"] == "batch"
    assert len(ex["rounds"]) == 5
    for rep in ex["replica_info"]:
        assert rep["requests"] > 0 and rep["tokens"] > 0 and rep["device"] == "cpu"
        assert rep["engines_built"] == 1 and rep["restarts"] == 0  # one warm engine for every round
    assert sum(r["requests"] for r in ex["replica_info"]) == res.stats.generated


def test_one_request_chunks_keep_every_chain_on_its_replica(local_ray, same_outputs, tiny_model_dir, tmp_path):
    from evalsuite import evaluate

    local = evaluate(model=f"hf:{tiny_model_dir}", model_args="batch_size=1", output_dir=tmp_path / "a", **TASK)
    evaluate(model=f"hf:{tiny_model_dir}", model_args="batch_size=1", output_dir=tmp_path / "b", executor="ray",
             replicas=2, **TASK)
    same_outputs(tmp_path / "a", tmp_path / "b")
    ex = json.loads((tmp_path / "b" / "results.json").read_text())["execution"]
    assert ex["chains_moved"] == 0 and ex["chunks_stolen"] == 0
    assert [r["requests"] for r in ex["replica_info"]] == [local.stats.generated // 2] * 2


def test_resume_with_another_replica_count_makes_no_model_call(local_ray, in_process, same_outputs, tiny_model_dir,
                                                               tmp_path):
    import shutil

    from evalsuite import evaluate

    shutil.copytree(in_process, tmp_path, dirs_exist_ok=True)
    res = evaluate(model=f"hf:{tiny_model_dir}", model_args="batch_size=3", output_dir=tmp_path, executor="ray",
                   replicas=2, **TASK)
    assert res.stats.generated == 0 and res.stats.from_store > 0
    same_outputs(in_process, tmp_path)


def test_a_backend_error_in_a_replica_is_its_own_one_line_error(local_ray, tiny_model_dir, tmp_path):
    from evalsuite import evaluate
    from evalsuite.errors import UsageError

    with pytest.raises(UsageError, match="no CUDA device is visible") as err:
        evaluate(model=f"hf:{tiny_model_dir}", model_args="device=cuda", output_dir=tmp_path, executor="ray",
                 replicas=1, **TASK)
    assert "\n" not in str(err.value) and "Ray" not in type(err.value).__name__
