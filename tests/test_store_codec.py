"""The sample store's compact layout: statistics as float32 where exact, turns stored once, schema-1 stores."""
from __future__ import annotations

import json
import math
import sqlite3
import struct
import zlib

from evalsuite.records import Generation, Request
from evalsuite.store import SampleStore, read_generations
from evalsuite.store_codec import compact_generation, decode_stats, encode_ids, encode_stats, turn_chain


def test_stats_exact_in_float32_are_stored_as_float32_uncompressed():
    # -0.5 and -1.25 are sums of powers of two: float32 holds them exactly, so 4 bytes each, and a blob of only
    # float32 arrays is not zlibbed: the header line, then the 8 bytes.
    blob = encode_stats({"logprob": [-0.5, -1.25]})
    assert blob == b'[["logprob","<f4",2]]\n' + struct.pack("<2f", -0.5, -1.25)
    assert list(decode_stats(blob)["logprob"]) == [-0.5, -1.25]


def test_a_zlibbed_stats_blob_of_float32_arrays_still_reads():
    """Stores written before float32 blobs went uncompressed hold them zlibbed; they read the same."""
    raw = b'[["logprob","<f4",2]]\n' + struct.pack("<2f", -0.5, -1.25)
    assert list(decode_stats(zlib.compress(raw))["logprob"]) == [-0.5, -1.25]


def test_stats_float32_cannot_hold_stay_float64_bit_for_bit():
    vals = [0.1, -2.0]  # 0.1 is not a float32 value
    raw = zlib.decompress(encode_stats({"entropy": vals}))
    head, _, body = raw.partition(b"\n")
    assert json.loads(head) == [["entropy", "<f8", 2]]
    assert body == struct.pack("<2d", 0.1, -2.0)
    back = decode_stats(encode_stats({"a": [-math.inf, 0.5], "b": [math.nan], "c": []}))
    assert list(back["a"]) == [-math.inf, 0.5] and math.isnan(back["b"][0]) and list(back["c"]) == []


def test_the_driver_holds_replies_as_typed_arrays_with_the_same_values():
    gen = Generation(text="ab", token_ids=[7, 70000], stats={"logprob": [-0.5, 0.1], "entropy": [1.0, 2.0]},
                     finish_reason="stop", backend="mock", model_id="m")
    small = compact_generation(gen)
    assert small.token_ids.typecode == "i" and list(small.token_ids) == [7, 70000]
    assert small.stats["logprob"].typecode == "d"  # 0.1 is not a float32 value
    assert small.stats["entropy"].typecode == "f"  # 1.0 and 2.0 are
    assert small == gen and small.to_dict() == gen.to_dict()
    assert compact_generation(small) is small


def test_token_ids_are_little_endian_int32():
    assert encode_ids([1, 258]) == b"\x01\x00\x00\x00\x02\x01\x00\x00"


def test_a_conversation_stores_each_turn_once():
    turns: dict = {}
    q = {"role": "user", "content": "2+2?"}
    a = {"role": "assistant", "content": "4"}
    r = {"role": "user", "content": "Review your answer."}
    first = turn_chain([q], turns)
    second = turn_chain([q, a, r], turns)
    assert len(turns) == 3  # q once, then a and r
    assert turns[second][0] == turn_chain([q, a], {}) and turns[turn_chain([q, a], {})][0] == first
    # the same words after a different history are a different turn
    assert turn_chain([a], {}) != turn_chain([q, a], {})


def _gen(text: str, stats=None) -> Generation:
    return Generation(text=text, token_ids=[ord(c) for c in text], stats=stats or {"logprob": [-0.5] * len(text)},
                      finish_reason="stop", backend="mock", model_id="m", choice_logprobs={"Yes": -math.inf})


def test_store_round_trip_and_requests_rebuilt_from_turns(tmp_path):
    store = SampleStore(tmp_path / "s.sqlite")
    r0 = Request(messages=(("user", "2+2?"),))
    r1 = Request(messages=(("user", "2+2?"), ("assistant", "4"), ("user", "Review your answer.")))
    g0, g1 = _gen("4"), _gen("ok", {"logprob": [0.1, -0.25], "entropy": [1.0, 2.0]})
    store.put_many([("k0", r0.to_dict(), g0), ("k1", r1.to_dict(), g1)])
    assert store.get_many(["k0", "k1"]) == {"k0": g0, "k1": g1}
    assert store.request("k1") == json.loads(json.dumps(r1.to_dict()))
    assert store.db.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 3
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == 2
    store.close()
    assert [g["text"] for g in read_generations(tmp_path / "s.sqlite")] == ["4", "ok"]


def test_a_schema_1_store_is_upgraded_and_its_rows_still_read(tmp_path):
    path = tmp_path / "old.sqlite"
    old = _gen("hi")
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE generations (key TEXT PRIMARY KEY, request TEXT NOT NULL, generation TEXT NOT NULL, "
               "created REAL NOT NULL DEFAULT (julianday('now')))")
    db.execute("INSERT INTO generations (key, request, generation) VALUES (?, ?, ?)",
               ("old", json.dumps(Request(prompt="x").to_dict()), json.dumps(old.to_dict())))
    db.commit()
    db.close()
    store = SampleStore(path)
    assert store.get_many(["old"]) == {"old": old}
    store.put_many([("new", Request(prompt="y").to_dict(), _gen("yo"))])
    assert set(store.get_many(["old", "new"])) == {"old", "new"} and len(store) == 2
    store.close()


def test_a_store_from_a_newer_evalsuite_is_refused_in_one_line(tmp_path):
    import pytest

    from evalsuite.errors import UsageError

    path = tmp_path / "new.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(UsageError, match="newer evalsuite"):
        SampleStore(path)
