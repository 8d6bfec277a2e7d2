"""The engine stores whole batches: one transaction for the replies of a batch (or several fast ones), never part of
one, and a slow backend's every batch as it arrives."""
from __future__ import annotations

from evalsuite import engine
from evalsuite.engine import RunStats, _Arrivals
from evalsuite.records import Generation, Request


class _Store:
    def __init__(self):
        self.transactions: list[list[str]] = []

    def put_many(self, rows):
        self.transactions.append([k for k, _, _ in rows])


class _Bar:
    def finished(self, tokens, requests=1):
        pass


def _arrivals(n: int) -> tuple[_Arrivals, _Store]:
    items = [(None, Request(prompt=str(i)), f"k{i}") for i in range(n)]
    store = _Store()
    return _Arrivals(items, list(range(n)), store, {}, RunStats(), _Bar(), 0.0), store


def _gen() -> Generation:
    return Generation("a", [97], {"logprob": [-0.5]}, "stop", "mock", "m")


def test_fast_batches_share_a_transaction_and_the_round_end_stores_the_rest(monkeypatch):
    monkeypatch.setattr(engine, "FLUSH_SECONDS", 3600.0)
    arr, store = _arrivals(6)
    arr.many([(0, _gen()), (1, _gen())])  # the first batch: no transaction yet this round, stored at once
    arr.many([(2, _gen()), (3, _gen())])  # 2 more batches within the interval wait...
    arr.many([(4, _gen()), (5, _gen())])
    assert store.transactions == [["k0", "k1"]]
    arr.flush()  # ...until the round ends
    assert store.transactions == [["k0", "k1"], ["k2", "k3", "k4", "k5"]]
    assert set(arr.got) == {f"k{i}" for i in range(6)} and arr.stats.generated == 6


def test_slow_batches_are_each_stored_as_they_arrive(monkeypatch):
    monkeypatch.setattr(engine, "FLUSH_SECONDS", 0.0)
    arr, store = _arrivals(4)
    arr.many([(0, _gen()), (1, _gen())])
    arr.many([(2, _gen()), (3, _gen())])
    assert store.transactions == [["k0", "k1"], ["k2", "k3"]]


def test_many_waiting_rows_are_stored_without_waiting_for_the_interval(monkeypatch):
    monkeypatch.setattr(engine, "FLUSH_SECONDS", 3600.0)
    monkeypatch.setattr(engine, "FLUSH_ROWS", 3)
    arr, store = _arrivals(5)
    arr.many([(0, _gen())])
    arr.many([(1, _gen()), (2, _gen())])
    arr.many([(3, _gen()), (4, _gen())])  # 4 waiting >= 3: stored now, whole batches only
    assert store.transactions == [["k0"], ["k1", "k2", "k3", "k4"]]


def test_a_row_reported_alone_mid_batch_is_stored_at_once(monkeypatch):
    monkeypatch.setattr(engine, "FLUSH_SECONDS", 3600.0)
    arr, store = _arrivals(2)
    arr.many([(0, _gen())])
    arr(1, _gen())
    assert store.transactions == [["k0"], ["k1"]]


def test_the_heap_is_kept_from_the_collector_only_inside_the_outermost_block(monkeypatch):
    """long_lived_heap freezes what is alive at entry and at each keep(); only the outermost block (none frozen at
    its entry) unfreezes, so the runner's block (engine rounds, then final outputs) spans the engine's own. The
    collector is a recording stand-in: the real one's freeze count is the whole process's (libraries freeze too)."""

    class Collector:
        def __init__(self):
            self.frozen, self.calls = 0, []

        def get_freeze_count(self):
            return self.frozen

        def freeze(self):
            self.frozen += 1
            self.calls.append("freeze")

        def unfreeze(self):
            self.frozen = 0
            self.calls.append("unfreeze")

    fake = Collector()
    monkeypatch.setattr(engine, "gc", fake)
    with engine.long_lived_heap() as keep:
        with engine.long_lived_heap():
            keep()
        assert fake.calls == ["freeze", "freeze", "freeze"]  # the inner block left the outer's freeze alone
    assert fake.calls[-1] == "unfreeze" and fake.frozen == 0
    with engine.long_lived_heap():  # a run in another thread ends first
        with engine.long_lived_heap() as inner_keep:
            fake.unfreeze()  # the outer block's end
            inner_keep()
        assert fake.calls[-2:] == ["freeze", "unfreeze"], "the inner block kept nothing after the outer ended"
    fake.frozen, fake.calls = 5, []  # frozen by someone else before the run: theirs stays frozen
    with engine.long_lived_heap():
        pass
    assert fake.calls == ["freeze"]
