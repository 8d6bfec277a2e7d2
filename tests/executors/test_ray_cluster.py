"""Two Ray nodes on one machine (ray.cluster_utils.Cluster): replicas land on both; losing the worker node in the
middle of a round still finishes the run with nothing lost and the in-process run's samples."""
from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

pytestmark = pytest.mark.slow

TASK = dict(tasks="correctbench_gsm8k", limit=6, max_tokens=24, rounds=2, progress=False, log=lambda m: None)
NODE = {"num_cpus": 1, "object_store_memory": 100 * 1024 * 1024}
FAST_HEALTH = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 300,
               "health_check_timeout_ms": 300, "health_check_failure_threshold": 3}


@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray", reason='needs Ray: pip install -e ".[ray]"')
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False,
                                                      "_system_config": FAST_HEALTH})
    c.worker = c.add_node(**NODE)
    c.wait_for_nodes()
    ray.init(address=c.address, logging_level="warning")
    yield c
    ray.shutdown()
    c.shutdown()


def _stored(db) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return con.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_losing_a_node_mid_round_finishes_with_the_same_samples(cluster, same_outputs, tiny_model_dir, tmp_path):
    from evalsuite import evaluate

    kw = dict(model=f"hf:{tiny_model_dir}", model_args="batch_size=1", **TASK)
    local = evaluate(output_dir=tmp_path / "local", **kw)
    removed: list[int] = []

    def remove_worker_mid_round() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _stored(tmp_path / "ray" / "samples.sqlite") < 3:
            time.sleep(0.01)
        removed.append(_stored(tmp_path / "ray" / "samples.sqlite"))
        cluster.remove_node(cluster.worker, allow_graceful=False)

    watcher = threading.Thread(target=remove_worker_mid_round, daemon=True)
    watcher.start()
    res = evaluate(output_dir=tmp_path / "ray", executor="ray", replicas=2, **kw)
    watcher.join(timeout=60)
    assert removed and removed[0] < local.stats.generated  # the node went while work was left
    assert res.stats.generated + res.stats.from_store == local.stats.generated
    same_outputs(tmp_path / "local", tmp_path / "ray")
    ex = json.loads((tmp_path / "ray" / "results.json").read_text())["execution"]
    nodes = [r["node"] for r in ex["replica_info"]]
    assert len(set(nodes)) == 2  # one replica on each node
    restarts = sorted(r["restarts"] for r in ex["replica_info"])
    assert restarts[0] == 0 and restarts[1] >= 1  # the worker node's replica died; the head node's did not
