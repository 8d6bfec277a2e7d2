"""Chunking and sticky placement (pure functions, no Ray), and choosing an executor."""
from __future__ import annotations

import sys

import pytest

from evalsuite.errors import UsageError
from evalsuite.executors.base import WorkItem
from evalsuite.executors.placement import Chunk, Placement, spread, steal
from evalsuite.records import Request


def _items(chains: list[str]) -> list[WorkItem]:
    return [WorkItem(Request(prompt=f"q {c}"), c) for c in chains]


def _flat(queues) -> list[list[int]]:
    return sorted(c.index for q in queues.values() for c in q)


@pytest.mark.parametrize("replicas", [[0], [0, 1], [0, 1, 2]])
def test_batch_chunks_are_the_in_process_batches_whatever_the_replica_count(replicas):
    items = _items([f"t/{d}/0" for d in range(7)])
    queues = Placement().plan(items, replicas, "batch", 3)
    assert _flat(queues) == [[0, 1, 2], [3, 4, 5], [6]]


def test_batch_chunk_follows_most_of_its_chains():
    p = Placement()
    items = _items(["a", "b", "c", "d"])
    p.ran(Chunk([0, 1], ["a", "b"]), 1)
    p.ran(Chunk([2], ["c"]), 0)
    queues = p.plan(items, [0, 1], "batch", 3)
    assert [c.index for c in queues[1]] == [[0, 1, 2]]  # a, b lived on 1, c on 0: two votes to one
    assert [c.index for c in queues[0]] == [[3]]  # the new chain goes to the less loaded replica


def test_chain_mode_keeps_every_chain_on_its_replica_across_rounds():
    p = Placement()
    round0 = _items([f"t/{d}/0" for d in range(6)])
    q0 = p.plan(round0, [0, 1], "chain", 2)
    assert [len(q) for q in q0.values()] == [2, 2]  # three chains each, chunks of two
    for r, q in q0.items():
        for c in q:
            p.ran(c, r)
    first = dict(p.home)
    round1 = _items([f"t/{d}/0" for d in (5, 3, 1, 0)])  # fewer chains, another order
    for r, q in p.plan(round1, [0, 1], "chain", 2).items():
        for c in q:
            assert all(first[ch] == r for ch in c.chains)
            p.ran(c, r)
    assert p.moved() == 0
    assert sorted(first.values()) == [0, 0, 0, 1, 1, 1]


def test_lost_replica_chains_find_a_new_home():
    p = Placement()
    p.ran(Chunk([0, 1], ["a", "b"]), 1)
    p.forget(1)
    queues = p.plan(_items(["a", "b"]), [0], "chain", 8)
    assert [c.chains for c in queues[0]] == [["a", "b"]]
    p.ran(queues[0][0], 0)
    assert p.moved() == 2


def test_idle_replica_steals_the_last_chunk_of_the_longest_queue():
    from collections import deque

    a, b, c = Chunk([0], ["x"]), Chunk([1], ["y"]), Chunk([2], ["z"])
    queues = {0: deque(), 1: deque([a]), 2: deque([b, c])}
    assert steal(queues, 0) is c
    assert steal(queues, 0) is a  # queues 1 and 2 now tie at one: the lower id gives
    assert steal(queues, 0) is b and steal(queues, 0) is None


def test_a_lost_replicas_chunks_go_to_the_shortest_queues():
    from collections import deque

    queues = {0: deque([Chunk([0], ["x"])]), 1: deque()}
    spread(queues, [Chunk([1], ["y"]), Chunk([2], ["z"])], [0, 1])
    assert [len(queues[0]), len(queues[1])] == [2, 1]


def test_executor_choice(tiny_model_dir):
    from evalsuite.backends.hf import HFBackend
    from evalsuite.executors.factory import make_executor
    from evalsuite.executors.local import LocalExecutor

    be = HFBackend(str(tiny_model_dir))
    assert isinstance(make_executor(None, be), LocalExecutor)
    with pytest.raises(UsageError, match="unknown executor 'dask'; choose one of: local, ray"):
        make_executor("dask", be)
    with pytest.raises(UsageError, match="need --executor ray"):
        make_executor("local", be, replicas=2)
    with pytest.raises(UsageError, match="at least 1"):
        make_executor("ray", be, replicas=0)


def test_ray_missing_is_one_line_with_the_install_command(cli, monkeypatch, tmp_path, tiny_model_dir):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError, as without it installed
    res = cli("run", "--tasks", "gsm8k", "--limit", "1", "--model", f"hf:{tiny_model_dir}", "--executor", "ray",
              "--output-dir", str(tmp_path / "out"), "--no-progress")
    assert res.returncode == 2
    last = res.stderr.strip().splitlines()[-1]
    assert last == 'evalsuite: error: the ray executor needs Ray: pip install -e ".[ray]" (or pip install "ray>=2.43")'
    assert "Traceback" not in res.stderr
