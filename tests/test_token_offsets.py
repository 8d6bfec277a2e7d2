"""Token offsets travel with the reply (`Generation.token_offsets`): filled where the tokenizer is, for requests
that want them, kept compactly in the store, and computed again only for replies stored without them."""
from __future__ import annotations

import base64
import json
import math
import sqlite3
import struct

import pytest

from evalsuite import evaluate
from evalsuite.backends.mock import MockBackend, _distribution
from evalsuite.executors.local import LocalExecutor, call_backend
from evalsuite.protocols.base import reply_offsets
from evalsuite.records import Generation, Request
from evalsuite.store import SampleStore
from evalsuite.store_codec import decode_offsets, encode_offsets


def _gen(offsets=None) -> Generation:
    return Generation(text="abc", token_ids=[5, 6], stats={"logprob": [-0.5, -0.25]}, finish_reason="stop",
                      backend="mock", model_id="m", token_offsets=offsets)


def test_offsets_are_stored_as_each_tokens_length_in_one_byte():
    # ends 1, 3, 3, 7 -> lengths 1, 2, 0, 4 -> bytes 01 02 00 04 -> base64 "AQIABA=="
    assert encode_offsets([1, 3, 3, 7]) == ["<u1", "AQIABA=="]
    assert list(decode_offsets(["<u1", "AQIABA=="])) == [1, 3, 3, 7]


def test_a_token_longer_than_a_byte_switches_to_int32():
    dtype, b64 = encode_offsets([300, 301])  # lengths 300 and 1
    assert dtype == "<i4" and base64.b64decode(b64) == struct.pack("<2i", 300, 1)
    assert list(decode_offsets([dtype, b64])) == [300, 301]


def test_wanting_offsets_does_not_change_the_request_or_its_key():
    plain = Request(messages=(("user", "q"),))
    wants = Request(messages=(("user", "q"),), want_offsets=True)
    assert wants.to_dict() == plain.to_dict()
    assert wants.key("mock", "m", "r", 0) == plain.key("mock", "m", "r", 0)


def test_the_store_keeps_offsets_and_reads_rows_without_them(tmp_path):
    store = SampleStore(tmp_path / "s.db")
    req = Request(messages=(("user", "q"),)).to_dict()
    store.put_many([("with", req, _gen([1, 3])), ("without", req, _gen())])
    got = store.get_many(["with", "without"])
    assert list(got["with"].token_offsets) == [1, 3]
    assert got["without"].token_offsets is None  # as a row written before offsets were kept reads
    assert got["with"] == _gen() and got["with"].to_dict()["token_offsets"] == [1, 3]
    store.close()
    with sqlite3.connect(tmp_path / "s.db") as db:
        rows = dict(db.execute("SELECT key, generation FROM generations"))
    assert json.loads(rows["with"])["token_ends"] == ["<u1", "AQI="]  # lengths 1, 2
    assert "token_ends" not in json.loads(rows["without"])


def test_the_backend_call_fills_offsets_only_where_asked():
    be = MockBackend("m", "reply=#### 7")
    asked, plain = call_backend(be, [Request(messages=(("user", "q"),), want_offsets=True),
                                     Request(messages=(("user", "q"),))])
    assert list(asked.token_offsets) == [1, 2, 3, 4, 5, 6]  # the mock: one character a token
    assert plain.token_offsets is None


def test_a_reply_without_offsets_falls_back_to_computing_them():
    calls = []

    def compute(ids):
        calls.append(list(ids))
        return [2, 3]

    assert list(reply_offsets(_gen([1, 3]), compute)) == [1, 3] and calls == []
    assert reply_offsets(_gen(), compute) == [2, 3] and calls == [[5, 6]]
    assert reply_offsets(Generation("", [], {}, "stop", "mock", "m"), compute) is None


def test_tokenprob_reads_the_offsets_the_reply_carries(tmp_path, monkeypatch):
    """No call back to the executor for offsets (on Ray that was one blocking RPC per finished chain)."""
    def refuse(self, ids):
        raise AssertionError("the reply should carry its offsets")

    monkeypatch.setattr(LocalExecutor, "token_offsets", refuse)
    res = evaluate("gsm8k", model=MockBackend("m", "reply=#### 7"), limit=1, output_dir=tmp_path, max_tokens=16,
                   options={"confidence": "tokenprob"}, progress=False, log=lambda m: None)
    answer = next(s for s in res.samples if s.attempt == 0)
    assert answer.extracted == "7"
    # the answer "7" is the reply's sixth token; the mock emits a character with log-probability outcome 0
    assert answer.confidence["tokenprob"] == pytest.approx(math.exp(_distribution("7")[0]))
