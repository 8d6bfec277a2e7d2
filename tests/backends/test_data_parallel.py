"""`--data-parallel N`: shard processes fill one sample store; the result equals a single-process run."""
from __future__ import annotations

import pytest

from evalsuite.errors import UsageError


def test_gpu_sets_are_disjoint_blocks_of_the_visible_gpus():
    from evalsuite.backends.data_parallel import gpu_sets

    assert gpu_sets(2, 2, ["0", "1", "2", "3"]) == ["0,1", "2,3"]
    assert gpu_sets(3, 1, ["4", "6", "7"]) == ["4", "6", "7"]
    assert gpu_sets(2, 4, []) == ["", ""]
    with pytest.raises(UsageError, match="needs 4 GPUs, 3 visible"):
        gpu_sets(2, 2, ["0", "1", "2"])


def test_shards_partition_every_task_s_docs(tiny_model_dir):
    from evalsuite.backends.data_parallel import shard_plans
    from evalsuite.engine import TaskPlan
    from evalsuite.records import Doc

    docs = [Doc("t", str(i), {}, "") for i in range(5)]
    plans = [TaskPlan(None, docs, None, None), TaskPlan(None, docs[:1], None, None)]
    shards = [shard_plans(plans, i, 3) for i in range(3)]
    assert [[d.doc_id for p in s for d in p.docs] for s in shards] == [["0", "3", "0"], ["1", "4"], ["2"]]


@pytest.mark.slow
def test_two_shard_processes_match_a_single_process_run(tiny_model_dir, tmp_path):
    from evalsuite.api import evaluate

    kw = dict(tasks="gsm8k", model=f"hf:{tiny_model_dir}", limit=4, protocol="cot", max_tokens=10, progress=False,
              log=lambda m: None)
    single = evaluate(output_dir=tmp_path / "one", **kw)
    logs: list[str] = []
    dp = evaluate(output_dir=tmp_path / "dp", options={"data_parallel": 2}, **{**kw, "log": logs.append})
    assert dp.stats.generated == 0 and dp.stats.from_store == 4, "the parent only replays the shards' store"
    assert sum("data-parallel: shard" in m for m in logs) == 2
    for i in range(2):
        assert "shard done: 2 generated" in (tmp_path / "dp" / "shards" / f"shard-{i}.log").read_text()
    texts = lambda r: {(s.doc_id, s.round): s.generation.text for s in r.samples}  # noqa: E731
    assert texts(dp) == texts(single)
    assert dp.metric("gsm8k").value == single.metric("gsm8k").value


@pytest.mark.slow
def test_a_failed_shard_is_one_line_naming_its_log(tmp_path):
    from evalsuite.api import evaluate

    broken = tmp_path / "not-a-model"
    broken.mkdir()
    with pytest.raises(UsageError) as err:
        evaluate(tasks="gsm8k", model=f"hf:{broken}", limit=2, output_dir=tmp_path / "run", progress=False,
                 options={"data_parallel": 2}, log=lambda m: None)
    msg = str(err.value)
    assert "\n" not in msg and "shard 1/2 failed" in msg and "shard-0.log" in msg and "could not load" in msg
