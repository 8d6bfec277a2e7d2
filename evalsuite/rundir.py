"""Read a run directory back (results.json, samples.jsonl) for reports, leaderboards and the critique matrix, with
one-line errors. `load_run` is the one reader of results.json: it parses it into the typed `evalsuite.results`
classes (whose fields are checked for their JSON types there), so a file of the wrong shape or an older schema is a
UsageError naming the file, the field and the fix, never a traceback further down."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import orjson

from evalsuite.errors import UsageError
from evalsuite.results import SCHEMA_VERSION, Results, SchemaError

_NONE = type(None)
_STR, _INT = (str, _NONE), (int, _NONE)
SAMPLE_FIELDS = {"task": (str,), "protocol": (str,), "doc_id": (str, int), "sample_idx": (int,), "round": (int,),
                 "attempt": _INT, "kind": (str,), "prompt": (str, list, _NONE), "output": _STR, "correct": (bool, _NONE),
                 "conventions": (dict, _NONE), "confidence": (dict, _NONE), "token_stats": (dict, _NONE)}
TOKEN_STATS = ("mean_logprob", "mean_entropy", "self_certainty")
_JSON_NAMES = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number",
               bool: "true/false", _NONE: "null"}


def _kind(v: Any) -> str:
    return _JSON_NAMES.get(type(v), type(v).__name__)


def shape_problem(obj: Any, fields: dict[str, tuple[type, ...]], where: str, required: tuple[str, ...] = ()) -> str:
    """The first field of `obj` whose JSON type is wrong (or that is missing though required), or ''."""
    if not isinstance(obj, dict):
        return f"{where or 'the top level'} is {_kind(obj)}, not an object"
    for k in required:
        if k not in obj:
            return f"{where or 'the top level'} lacks {k!r}"
    for k, types in fields.items():
        if k in obj and not isinstance(obj[k], types) or (bool not in types and isinstance(obj.get(k), bool)):
            want = " or ".join(dict.fromkeys(_JSON_NAMES[t] for t in types))
            return f"{where + '.' if where else ''}{k} is {_kind(obj[k])}, expected {want}"
    return ""


def _sample_problem(rec: Any) -> str:
    problem = shape_problem(rec, SAMPLE_FIELDS, "the record")
    if problem or not isinstance(rec.get("prompt"), list):
        return problem
    for i, m in enumerate(rec["prompt"]):
        problem = shape_problem(m, {"role": (str,), "content": (str,)}, f"prompt[{i}]", ("role", "content"))
        if problem:
            return problem
    return ""


@dataclass(frozen=True)
class RunDir:
    """A run dir: its path and its typed results."""

    path: Path
    results: Results

    @property
    def name(self) -> str:
        return self.path.resolve().name

    def samples(self) -> Iterator[dict[str, Any]]:
        """samples.jsonl records in file order (none when the file is absent); a bad line is a UsageError."""
        return read_samples(self.path)


def read_samples(run_dir: str | Path) -> Iterator[dict[str, Any]]:
    """The samples.jsonl records of a run dir in file order (none when the file is absent); a bad line is a
    UsageError. Needs no results.json, so a reader of samples alone (`--policy-run`) does not parse the results."""
    path = Path(run_dir)
    f = path / "samples.jsonl"
    if not f.is_file():
        return
    fix = f"re-run `evalsuite run` into {path} to rewrite it from the sample store"
    try:
        with open(f, "rb") as fh:
            for i, raw in enumerate(fh, 1):
                if raw.strip():
                    yield _record(f, i, raw, fix)
    except OSError as e:
        raise UsageError(f"cannot read {f} ({e.strerror or e}); {fix}") from None


def _record(f: Path, i: int, raw: bytes, fix: str) -> dict[str, Any]:
    """Line `i` of samples.jsonl `f` as a checked record; a bad line is a UsageError naming the file and line."""
    try:
        text = raw.decode("utf-8")
        try:
            rec = orjson.loads(text)  # the report reads every line of a million-sample run: the fast parser
        except orjson.JSONDecodeError:
            rec = json.loads(text)  # NaN / Infinity tokens of old files, or the error message below
    except UnicodeDecodeError as e:
        raise UsageError(f"{f} line {i} is not UTF-8 text (byte {e.start}); {fix}") from None
    except (json.JSONDecodeError, RecursionError) as e:
        why = e.msg if isinstance(e, json.JSONDecodeError) else "nested too deeply"
        raise UsageError(f"{f} line {i} is not JSON ({why}); {fix}") from None
    problem = _sample_problem(rec)
    if problem:
        raise UsageError(f"{f} line {i}: {problem}; {fix}")
    if rec.get("token_stats"):
        rec["token_stats"] = {**dict.fromkeys(TOKEN_STATS), **rec["token_stats"]}
    return rec


def load_run(path: str | Path) -> RunDir:
    """Open a directory written by `evalsuite run`; anything else is a UsageError naming what is wrong."""
    p = Path(path)
    if not p.is_dir():
        what = "is not a directory" if p.exists() else "does not exist"
        raise UsageError(f"run dir {p} {what}; pass a directory written by `evalsuite run`")
    f = p / "results.json"
    if not f.is_file():
        raise UsageError(f"{p} has no results.json; pass a directory written by `evalsuite run`")
    return RunDir(p, read_results(f))


def read_results(f: Path) -> Results:
    """The typed results of a results.json file (load_run's reader, also `--config RUN_DIR/results.json`'s): an
    unreadable file, one of the wrong shape or one from before schema 2 is a UsageError that says what to do."""
    p = f.parent
    try:
        results = json.loads(f.read_bytes().decode("utf-8"))
    except OSError as e:
        raise UsageError(f"cannot read {f} ({e.strerror or e}); check its permissions") from None
    except UnicodeDecodeError as e:
        raise UsageError(f"{f} is not UTF-8 text (byte {e.start}); re-run `evalsuite run` into {p} to rewrite it") \
            from None
    except (json.JSONDecodeError, RecursionError) as e:
        why = f"{e.msg}, line {e.lineno}" if isinstance(e, json.JSONDecodeError) else "nested too deeply"
        raise UsageError(f"{f} is not valid JSON ({why}); re-run `evalsuite run` into {p} to rewrite it") from None
    if isinstance(results, dict) and "schema_version" not in results:
        raise UsageError(f"{f} was written before results schema {SCHEMA_VERSION}; convert it with "
                         f"`evalsuite upgrade {p}`")
    try:
        return Results.from_dict(results)
    except SchemaError as e:
        raise UsageError(f"{f}: {e}; it was not written by this evalsuite's `evalsuite run` (re-run into {p} to "
                         "rewrite it)") from None
