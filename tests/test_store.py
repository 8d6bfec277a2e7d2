"""The SQLite sample store: round trip, keys, corruption."""
from __future__ import annotations

import pytest

from evalsuite.errors import UsageError
from evalsuite.records import GenParams, Generation, Request
from evalsuite.store import SampleStore


def _gen(text: str) -> Generation:
    return Generation(text=text, token_ids=[1, 2], stats={"logprob": [-0.5, -1.25]}, finish_reason="stop",
                      backend="hf", model_id="m")


def test_round_trip_and_wal(tmp_path):
    store = SampleStore(tmp_path / "s.sqlite")
    req = Request(messages=(("user", "hi"),))
    key = req.key("hf", "m", "r", 0)
    store.put_many([(key, req.to_dict(), _gen("hello"))])
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    again = SampleStore(tmp_path / "s.sqlite")
    got = again.get_many([key, "missing"])
    assert list(got) == [key]
    assert got[key] == _gen("hello")
    assert len(again) == 1


def test_key_depends_on_everything_that_changes_the_reply():
    base = Request(messages=(("user", "hi"),))
    k = base.key("hf", "m", "r", 0)
    assert k == Request(messages=(("user", "hi"),)).key("hf", "m", "r", 0)
    others = [
        base.key("vllm", "m", "r", 0), base.key("hf", "m2", "r", 0), base.key("hf", "m", "r2", 0),
        base.key("hf", "m", "r", 1), Request(messages=(("user", "hi!"),)).key("hf", "m", "r", 0),
        Request(messages=(("user", "hi"),), gen=GenParams(max_tokens=7)).key("hf", "m", "r", 0),
    ]
    assert len({k, *others}) == 1 + len(others)


def test_corrupt_store_is_a_usage_error(tmp_path):
    path = tmp_path / "samples.sqlite"
    path.write_bytes(b"this is not a database" * 200)
    with pytest.raises(UsageError, match="corrupt"):
        SampleStore(path)



def _open_together(path: str, barrier, results) -> None:
    from evalsuite.store import SampleStore

    barrier.wait()
    try:
        SampleStore(path).close()
        results.put("ok")
    except Exception as e:  # noqa: BLE001 - the test reports whatever went wrong
        results.put(repr(e))


def test_processes_opening_one_new_store_at_once_all_succeed(tmp_path):
    """Data-parallel shards open the same fresh store together; switching it to WAL must not fail as 'locked'."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    results = ctx.Queue()
    outcomes = []
    for i in range(40):
        barrier = ctx.Barrier(3)
        procs = [ctx.Process(target=_open_together, args=(str(tmp_path / f"s{i}.sqlite"), barrier, results))
                 for _ in range(3)]
        for p in procs:
            p.start()
        outcomes += [results.get(timeout=120) for _ in procs]
        for p in procs:
            p.join()
    assert set(outcomes) == {"ok"}
