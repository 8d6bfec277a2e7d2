"""The sample store's compact encodings: token ids, per-token statistics, reply JSON and content-addressed turns.

Statistics (`generations.stats`), read with numpy::

    raw = blob if blob[:1] == b"[" else zlib.decompress(blob)   # zlib only when an array is float64
    head, _, body = raw.partition(b"\\n")          # head: JSON [[name, dtype, length], ...]
    arrays, at = {}, 0
    for name, dtype, n in json.loads(head):       # dtype "<f4" or "<f8" (little-endian float32 / float64)
        arrays[name] = np.frombuffer(body, dtype, n, at); at += n * np.dtype(dtype).itemsize

Each array is float32 when every value survives float32 exactly (statistics computed in float32 on a GPU), else
float64, so reading back always gives the values that were generated, bit for bit. Token ids
(`generations.token_ids`) are raw little-endian int32: `np.frombuffer(blob, "<i4")`. A reply stored with its token
offsets has `token_ends` in its JSON: [dtype, base64] of each token's length in characters ("<u1" when all fit a
byte, else "<i4"), so `np.cumsum(np.frombuffer(base64.b64decode(b64), dtype))` gives each token's end offset.
"""
from __future__ import annotations

import base64
import json
import math
import sys
import zlib
from array import array
from hashlib import blake2b
from typing import Any, Mapping, Sequence

import orjson

from evalsuite.records import Generation

_SWAP = sys.byteorder != "little"
_CODES = {"<f4": "f", "<f8": "d"}


def _le(a: array) -> bytes:
    if _SWAP:
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


def _from_le(code: str, raw: bytes) -> array:
    a = array(code)
    a.frombytes(raw)
    if _SWAP:
        a.byteswap()
    return a


def compact(vals: Sequence[float]) -> array:
    """Per-token values as a float32 array when every value survives float32 exactly, else float64: what the
    store keeps, and 4-8 bytes a value in memory instead of a list's 32 (a pointer and a float object)."""
    if isinstance(vals, array):
        return vals
    f4 = array("f", vals)
    return f4 if f4.tolist() == list(vals) else array("d", vals)


def compact_generation(gen: Generation) -> Generation:
    """`gen` with its token ids and statistics as typed arrays (same values): what the driver holds per reply
    until the run's summaries, so a million replies do not keep a million lists of float objects."""
    if isinstance(gen.token_ids, array):
        return gen
    offsets = None if gen.token_offsets is None else array("i", gen.token_offsets)
    return Generation(gen.text, array("i", gen.token_ids), {k: compact(v) for k, v in gen.stats.items()},
                      gen.finish_reason, gen.backend, gen.model_id, gen.seconds, gen.prompt_tokens, gen.approximate,
                      gen.choice_logprobs, offsets)


def encode_ids(ids: Sequence[int]) -> bytes:
    """Token ids as little-endian int32 bytes."""
    return _le(ids if isinstance(ids, array) and ids.typecode == "i" else array("i", ids))


def decode_ids(raw: bytes) -> array:
    return _from_le("i", raw)


def encode_stats(stats: Mapping[str, Sequence[float]]) -> bytes:
    """Per-token statistics as one blob: a JSON header line, then each array (float32 where exact). When every
    array is float32 (what a GPU computes) the blob is stored as is, 4 bytes a value: zlib would save a few bytes
    a token for most of the store's encoding time. Float64 arrays (which compress by a quarter) are zlibbed."""
    head, body, wide = [], [], False
    for name, vals in stats.items():
        a = compact(vals)
        wide = wide or a.typecode == "d"
        head.append([name, "<f4" if a.typecode == "f" else "<f8", len(a)])
        body.append(_le(a))
    raw = orjson.dumps(head) + b"\n" + b"".join(body)
    if not wide:
        return raw
    # a 512-byte window (wbits 9): a quarter of the time of the default 32 KiB one on a reply's few KiB, and
    # zlib.decompress with its defaults reads it; compressobj because zlib.compress takes wbits only from 3.11
    z = zlib.compressobj(1, zlib.DEFLATED, 9)
    return z.compress(raw) + z.flush()


def decode_stats(blob: bytes) -> dict[str, array]:
    """`encode_stats` back: an uncompressed blob opens with its JSON header's `[`, a zlib stream never does."""
    raw = blob if blob[:1] == b"[" else zlib.decompress(blob)
    head, _, body = raw.partition(b"\n")
    out, at = {}, 0
    for name, dtype, n in orjson.loads(head):
        size = n * (4 if dtype == "<f4" else 8)
        out[name] = _from_le(_CODES[dtype], body[at : at + size])
        at += size
    return out


def generation_json(gen: Generation) -> str:
    """A reply's JSON without its arrays (those go to the binary columns)."""
    d = {"text": gen.text, "finish_reason": gen.finish_reason, "backend": gen.backend, "model_id": gen.model_id,
         "seconds": gen.seconds, "prompt_tokens": gen.prompt_tokens, "approximate": list(gen.approximate),
         "choice_logprobs": gen.choice_logprobs}
    if gen.token_offsets is not None:
        d["token_ends"] = encode_offsets(gen.token_offsets)
    if gen.choice_logprobs and not all(math.isfinite(v) for v in gen.choice_logprobs.values()):
        return json.dumps(d, ensure_ascii=False)  # -Infinity: orjson would write null
    return orjson.dumps(d).decode()


def read_generation_json(text: str) -> dict[str, Any]:
    """A stored reply's JSON as `Generation` keywords (its token offsets decoded; absent in older rows)."""
    try:
        d = orjson.loads(text)
    except orjson.JSONDecodeError:  # -Infinity / NaN, written by json.dumps
        d = json.loads(text)
    ends = d.pop("token_ends", None)
    if ends is not None:
        d["token_offsets"] = decode_offsets(ends)
    return d


def encode_offsets(offsets: Sequence[int]) -> list[str]:
    """Token end offsets as [dtype, base64] of each token's length: one byte a token when every length fits
    ("<u1"), else signed int32 ("<i4")."""
    lengths, prev = [], 0
    for end in offsets:
        lengths.append(end - prev)
        prev = end
    if all(0 <= n < 256 for n in lengths):
        return ["<u1", base64.b64encode(bytes(lengths)).decode()]
    return ["<i4", base64.b64encode(_le(array("i", lengths))).decode()]


def decode_offsets(ends: Sequence[str]) -> array:
    """`encode_offsets`'s [dtype, base64] back to the end offsets, as an int32 array."""
    dtype, b64 = ends
    raw = base64.b64decode(b64)
    lengths = array("B", raw) if dtype == "<u1" else _from_le("i", raw)
    out, at = array("i"), 0
    for n in lengths:
        at += n
        out.append(at)
    return out


def turn_id(parent: str | None, role: str, content: str) -> str:
    """A turn's content address: the hash of its parent's id, its role and its content."""
    h = blake2b(digest_size=12)
    h.update(f"{parent or ''}\0{role}\0".encode())
    h.update(content.encode())
    return h.hexdigest()


def turn_chain(messages: Sequence[Mapping[str, str] | tuple[str, str]], turns: dict[str, tuple[str | None, str, str]],
               ids: dict[tuple[str | None, str, str], str] | None = None) -> str | None:
    """The id of a conversation's last turn; every turn along it is added to `turns` (id -> parent, role, content).
    A message is a {"role", "content"} dict or a (role, content) pair, as `Request.messages` holds them.
    `ids`, when given, remembers (parent, role, content) -> id, so the turns a conversation shares with earlier
    ones (its question, every earlier round) are not hashed again (a lookup hashes the string once, cached)."""
    parent = None
    for m in messages:
        role, content = (m["role"], m["content"]) if isinstance(m, Mapping) else m
        tid = ids.get((parent, role, content)) if ids is not None else None
        if tid is None:
            tid = turn_id(parent, role, content)
            if ids is not None:
                ids[(parent, role, content)] = tid
        turns[tid] = (parent, role, content)
        parent = tid
    return parent
