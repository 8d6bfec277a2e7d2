"""Read a run directory back (results.json, samples.jsonl) for reports and leaderboards, with one-line errors.

Run dirs come from users and other machines, so every field the readers use is checked for its JSON type here;
a file of the wrong shape is a UsageError naming the file and the field, never a traceback further down."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import orjson

from evalsuite.errors import UsageError

REQUIRED_KEYS = ("model", "config", "tasks")

_NONE = type(None)
_STR, _INT, _NUM = (str, _NONE), (int, _NONE), (int, float, _NONE)
MODEL_FIELDS = {"spec": _STR, "backend": _STR, "model_id": _STR, "revision": _STR}
TOP_FIELDS = {"model": (dict,), "config": (dict,), "tasks": (dict,), "groups": (dict, _NONE), "versions": (dict,),
              "run": (dict,), "created": _STR, "git_hash": _STR}
SECTION_FIELDS = {"metrics": (list,), "extras": (dict, _NONE), "files": (dict, _NONE), "n_docs": _INT,
                  "protocol": _STR, "source": _STR, "primary_convention": _STR}
ROW_FIELDS = {"metric": (str,), "round": (int,), "value": _NUM, "ci_low": _NUM, "ci_high": _NUM, "n": _INT,
              "protocol": _STR, "subset": _STR, "label": _STR, "direction": _STR, "note": _STR}
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


def _results_problem(res: Any) -> str:
    """What is wrong with a results.json payload for the report and leaderboard readers, or ''."""
    problem = shape_problem(res, TOP_FIELDS, "", REQUIRED_KEYS)
    if problem:
        return problem
    problem = shape_problem(res["model"], MODEL_FIELDS, "model", tuple(MODEL_FIELDS))
    if problem or not isinstance(res["config"].get("temperature"), _NUM):
        return problem or f"config.temperature is {_kind(res['config']['temperature'])}, expected a number"
    sections = [("tasks", n, s) for n, s in res["tasks"].items()]
    sections += [("groups", n, s) for n, s in (res.get("groups") or {}).items()]
    for part, name, sec in sections:
        where = f"{part}.{name}"
        problem = shape_problem(sec, SECTION_FIELDS, where)
        for i, row in enumerate([] if problem else sec.get("metrics", [])):
            problem = shape_problem(row, ROW_FIELDS, f"{where}.metrics[{i}]", ("metric",))
            if problem:
                break
        if problem:
            return problem
    return ""


def _normalise_rows(res: dict[str, Any]) -> None:
    """Fill the metric-row fields the readers index directly, for rows written by an older or newer version."""
    for sec in [*res["tasks"].values(), *(res.get("groups") or {}).values()]:
        for row in sec.get("metrics", []):
            row.setdefault("label", row["metric"])
            row.setdefault("protocol", "")
            row.setdefault("round", 0)


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
    """A finished run: its directory and the results.json payload."""

    path: Path
    results: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.resolve().name

    def samples(self) -> Iterator[dict[str, Any]]:
        """samples.jsonl records in file order (none when the file is absent); a bad line is a UsageError."""
        f = self.path / "samples.jsonl"
        if not f.is_file():
            return
        fix = f"re-run `evalsuite run` into {self.path} to rewrite it from the sample store"
        try:
            with open(f, "rb") as fh:
                for i, raw in enumerate(fh, 1):
                    if raw.strip():
                        yield self._record(f, i, raw, fix)
        except OSError as e:
            raise UsageError(f"cannot read {f} ({e.strerror or e}); {fix}") from None

    @staticmethod
    def _record(f: Path, i: int, raw: bytes, fix: str) -> dict[str, Any]:
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
    problem = _results_problem(results)
    if problem:
        raise UsageError(f"{f}: {problem}; it was not written by `evalsuite run` (re-run into {p} to rewrite it)")
    _normalise_rows(results)
    return RunDir(p, results)
