"""Read lm-eval's `--log_samples` files back as evalsuite Samples, rescored by evalsuite without regenerating.

A file `samples_<task>_<date>.jsonl` holds one line per doc and filter: the doc, lm-eval's request arguments, the
raw replies (`resps`) and lm-eval's per-sample metric values. The raw reply is rescored (never the filtered one):
that is what evalsuite's scorer reads in a run.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalsuite.errors import UsageError
from evalsuite.lmeval.hooks import DOC_ID, doc_of
from evalsuite.lmeval.replies import reply_generation, score_reply
from evalsuite.lmeval.twins import Twin, make_doc, twin_for_task, twin_named
from evalsuite.records import GenParams, Request, Sample

FILE_RE = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[\d.\-]+)\.jsonl$")


@dataclass
class LoggedTask:
    """The rescored samples of one lm-eval task, with what lm-eval itself reported for comparison."""

    twin: Twin
    files: list[Path]
    samples: list[Sample] = field(default_factory=list)
    model: str = "lm-eval"
    lm_eval_metrics: dict[str, float] = field(default_factory=dict)
    agree: int = 0
    compared: int = 0


def _twin_of(path: Path, task: str | None) -> Twin:
    m = FILE_RE.match(path.name)
    if task:
        twin = twin_for_task(task)
        if m and m.group("task").startswith("evalsuite_") and m.group("task") != twin.name:
            raise UsageError(f"{path.name} holds lm-eval task {m.group('task')}, not {twin.name}; drop --task "
                             "or pass that task's files")
        return twin
    if not m:
        raise UsageError(f"cannot tell the task of {path.name} (lm-eval names them samples_<task>_<date>.jsonl); "
                         "pass --task NAME")
    name = m.group("task")
    if not name.startswith("evalsuite_"):
        raise UsageError(f"{path.name} is lm-eval task {name!r}, not an evalsuite twin; pass --task with the "
                         "evalsuite task whose scorer should read it")
    return twin_named(name)


def _results_json(path: Path) -> dict[str, Any] | None:
    """lm-eval's results_<date>.json written beside a samples file in the same run, when it is there."""
    m = FILE_RE.match(path.name)
    if not m:
        return None
    found = path.with_name(f"results_{m.group('date')}.json")
    try:
        return json.loads(found.read_text(encoding="utf-8")) if found.is_file() else None
    except (OSError, json.JSONDecodeError):
        return None


def _lines(path: Path):
    try:
        fh = open(path, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot read lm-eval samples file {path} ({e.strerror}); pass the files "
                         "lm_eval --log_samples wrote") from None
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise UsageError(f"{path} line {n} is not JSON ({e.msg}); pass an lm-eval samples_*.jsonl") from None
            if not isinstance(rec, dict) or "doc" not in rec or "resps" not in rec:
                raise UsageError(f"{path} line {n} has no 'doc' and 'resps'; pass an lm-eval samples_*.jsonl")
            yield n, rec


def _request(rec: dict[str, Any]) -> Request:
    """The request lm-eval sent: its context string as a raw prompt, with its generation settings."""
    args = (rec.get("arguments") or {}).get("gen_args_0") or {}
    context = args.get("arg_0", "")
    kw = args.get("arg_1") or {}
    temperature = float(kw.get("temperature", 0.0) or 0.0) if kw.get("do_sample") else 0.0
    gen = GenParams(temperature=temperature, top_p=float(kw.get("top_p", 1.0) or 1.0),
                    max_tokens=int(kw.get("max_gen_toks", 256)), stop=tuple(kw.get("until") or ()))
    return Request(prompt=str(context), gen=gen, want=())


def _rescore_line(twin: Twin, path: Path, n: int, rec: dict[str, Any], model: str) -> list[Sample]:
    raw = rec["doc"]
    try:
        doc = doc_of(twin, raw) if DOC_ID in raw else make_doc(twin.card, int(rec["doc_id"]), raw)
    except (KeyError, ValueError, TypeError) as e:
        raise UsageError(f"{path} line {n}: its doc does not fit task {twin.card.name} ({type(e).__name__}: {e}); "
                         "pass --task with the matching evalsuite task") from None
    request = _request(rec)
    resps = rec["resps"][0] if rec["resps"] else []
    out = []
    for j, text in enumerate(resps):
        text = text if isinstance(text, str) else str(text)
        scored = score_reply(twin, doc, request, reply_generation(text, model))
        sc = scored.score
        key = hashlib.sha256(json.dumps([twin.name, doc.doc_id, rec.get("prompt_hash"), j, text]).encode()).hexdigest()
        out.append(Sample(
            task=twin.card.name, doc_id=doc.doc_id, protocol=twin.protocol, round=0, sample_idx=j, key=key,
            request=request, generation=reply_generation(text, model), kind="answer", attempt=0, target=doc.target,
            extracted=sc.extracted, correct=sc.correct, conventions=dict(sc.conventions),
            confidence=dict(scored.confidence),
            info={**sc.info, "lm_eval": {"file": path.name, "line": n, "doc_id": rec.get("doc_id")}},
        ))
    return out


def read_logged(paths: list[str | Path], task: str | None = None) -> list[LoggedTask]:
    """Rescore every sample in lm-eval samples files, grouped by twin (one doc is read once per file)."""
    if not paths:
        raise UsageError("no lm-eval samples file given; pass --lm-eval-samples samples_*.jsonl")
    by_twin: dict[str, LoggedTask] = {}
    for p in map(Path, paths):
        twin = _twin_of(p, task)
        results = _results_json(p) or {}
        model = str(results.get("model_name") or (results.get("config") or {}).get("model_args") or "lm-eval")
        logged = by_twin.setdefault(twin.name, LoggedTask(twin, [], model=model))
        logged.files.append(p)
        logged.lm_eval_metrics.update({k.split(",")[0]: v for k, v in ((results.get("results") or {})
                                       .get(twin.name) or {}).items() if k.endswith(",none")
                                       and isinstance(v, (int, float))})
        seen: set[Any] = set()
        for n, rec in _lines(p):
            if rec.get("doc_id") in seen:
                continue
            seen.add(rec.get("doc_id"))
            got = _rescore_line(twin, p, n, rec, model)
            logged.samples.extend(got)
            if "accuracy" in rec and len(got) == 1:
                logged.compared += 1
                logged.agree += float(rec["accuracy"]) == float(got[0].correct)
    for logged in by_twin.values():
        if not logged.samples:
            raise UsageError(f"{', '.join(map(str, logged.files))} holds no samples; pass non-empty lm-eval files")
    return list(by_twin.values())
