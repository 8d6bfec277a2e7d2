"""Read lm-eval's `--log_samples` files back as evalsuite Samples, rescored by evalsuite without regenerating.

A file `samples_<task>_<date>.jsonl` holds one line per doc and filter: the doc, lm-eval's request arguments, the
raw replies (`resps`) and lm-eval's per-sample metric values. The raw reply is rescored (never the filtered one):
that is what evalsuite's scorer reads in a run. Files of an evalsuite twin (`evalsuite_*`) are read through the
twin's protocol; files of lm-eval's own tasks (e.g. `gsm8k`) are read by the evalsuite task's scorer as they are,
and each of lm-eval's filters is compared sample by sample with the evalsuite metric that applies the same rule.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from evalsuite.errors import UsageError
from evalsuite.lmeval.hooks import DOC_ID, doc_of
from evalsuite.lmeval.replies import reply_generation, score_reply
from evalsuite.lmeval.twins import PREFIX, Twin, make_doc, scorer_for, twin_for_task, twin_named
from evalsuite.records import Doc, GenParams, Kind, Request, Sample
from evalsuite.tasks.cards import TaskCard, catalog

FILE_RE = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[\d.\-]+)\.jsonl$")

NATIVE_FILTERS: dict[str, dict[str, str]] = {
    "gsm8k": {"strict-match": "official", "flexible-extract": "flexible"},
}
"""lm-eval's own tasks read without --task (by the evalsuite task of the same name), and the evalsuite scorer
convention that applies the same rule as each of their filters: per-sample agreement is reported per filter."""


@dataclass
class FilterAgreement:
    """How often one lm-eval filter's per-sample score equals the evalsuite metric that follows the same rule."""

    filter: str
    lm_eval_metric: str | None = None
    metric: str | None = None
    agree: int = 0
    compared: int = 0
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoggedTask:
    """The rescored samples of one lm-eval task, with what lm-eval itself reported for comparison.

    `twin` is None for lm-eval's own task (`source`, e.g. `gsm8k`), read by the scorer of evalsuite task `card`."""

    card: TaskCard
    source: str
    protocol: str
    files: list[Path]
    twin: Twin | None = None
    samples: list[Sample] = field(default_factory=list)
    model: str = "lm-eval"
    lm_eval_metrics: dict[str, float] = field(default_factory=dict)
    filters: dict[str, FilterAgreement] = field(default_factory=dict)

    @property
    def native(self) -> bool:
        return self.twin is None

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.twin.options) if self.twin else {}

    @property
    def primary(self) -> FilterAgreement:
        """The filter compared with evalsuite's `accuracy` (an empty one when no filter is)."""
        return next((f for f in self.filters.values() if f.metric == "accuracy"), FilterAgreement("none"))


def _twin_file(path: Path, name: str | None, task: str | None) -> Twin:
    if task:
        twin = twin_for_task(task)
        if name and name.startswith(PREFIX) and name != twin.name:
            raise UsageError(f"{path.name} holds lm-eval task {name}, not {twin.name}; drop --task "
                             "or pass that task's files")
        return twin
    if name is None:
        raise UsageError(f"cannot tell the task of {path.name} (lm-eval names them samples_<task>_<date>.jsonl); "
                         "pass --task NAME")
    return twin_named(name)


def _native_card(path: Path, name: str, task: str | None) -> TaskCard:
    """The evalsuite task whose scorer reads lm-eval's own task `name`."""
    if task:
        card = twin_for_task(task).card
        if name in NATIVE_FILTERS and card.name != name:
            raise UsageError(f"{path.name} holds lm-eval's own task {name}, read by evalsuite task {name}; "
                             "drop --task or pass that task's files")
        return card
    if name not in NATIVE_FILTERS:
        raise UsageError(f"{path.name} is lm-eval task {name!r}, not an evalsuite twin; pass --task with the "
                         "evalsuite task whose scorer should read it")
    return catalog()[name]


def _source_of(path: Path, task: str | None) -> tuple[str, Twin | None, TaskCard]:
    """(lm-eval task name, the twin or None for lm-eval's own task, the evalsuite task card) of a samples file."""
    m = FILE_RE.match(path.name)
    name = m.group("task") if m else None
    if name is None or name.startswith(PREFIX):
        twin = _twin_file(path, name, task)
        return twin.name, twin, twin.card
    return name, None, _native_card(path, name, task)


def _results_json(path: Path) -> dict[str, Any] | None:
    """lm-eval's results_<date>.json written beside a samples file in the same run, when it is there."""
    m = FILE_RE.match(path.name)
    if not m:
        return None
    found = path.with_name(f"results_{m.group('date')}.json")
    try:
        return json.loads(found.read_text(encoding="utf-8")) if found.is_file() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    hint = "pass an lm-eval samples_*.jsonl (JSON lines written by lm_eval --log_samples)"
    try:
        fh = open(path, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot read lm-eval samples file {path} ({e.strerror}); pass the files "
                         "lm_eval --log_samples wrote") from None
    with fh:
        n = 0
        try:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise UsageError(f"{path} line {n} is not JSON ({e.msg}); {hint}") from None
                if not isinstance(rec, dict) or "doc" not in rec or "resps" not in rec:
                    raise UsageError(f"{path} line {n} has no 'doc' and 'resps'; {hint}")
                if not isinstance(rec["doc"], dict) or not isinstance(rec["resps"], list) or not all(
                        isinstance(r, list) for r in rec["resps"]):
                    raise UsageError(f"{path} line {n}: 'doc' is not an object or 'resps' not a list of lists; {hint}")
                yield n, rec
        except UnicodeDecodeError:
            raise UsageError(f"{path} is not UTF-8 text (after line {n}); {hint}") from None


def _request(rec: dict[str, Any]) -> Request:
    """The request lm-eval sent: its context string as a raw prompt, with its generation settings."""
    args = (rec.get("arguments") or {}).get("gen_args_0") or {}
    context = args.get("arg_0", "")
    kw = args.get("arg_1") or {}
    temperature = float(kw.get("temperature", 0.0) or 0.0) if kw.get("do_sample") else 0.0
    gen = GenParams(temperature=temperature, top_p=float(kw.get("top_p", 1.0) or 1.0),
                    max_tokens=int(kw.get("max_gen_toks", 256)), stop=tuple(kw.get("until") or ()))
    return Request(prompt=str(context), gen=gen, want=())


def _doc(lt: LoggedTask, path: Path, n: int, rec: dict[str, Any]) -> Doc:
    raw = rec["doc"]
    try:
        if lt.twin is not None and DOC_ID in raw:
            return doc_of(lt.twin, raw)
        return make_doc(lt.card, int(rec["doc_id"]), raw)
    except (KeyError, ValueError, TypeError) as e:
        raise UsageError(f"{path} line {n}: its doc does not fit task {lt.card.name} ({type(e).__name__}: {e}); "
                         "pass --task with the matching evalsuite task") from None


def _rescore_line(lt: LoggedTask, path: Path, n: int, rec: dict[str, Any]) -> list[Sample]:
    """Every raw reply of one logged line, scored by evalsuite (through the twin's protocol for a twin)."""
    doc = _doc(lt, path, n, rec)
    request = _request(rec)
    out = []
    for j, text in enumerate(rec["resps"][0] if rec["resps"] else []):
        text = text if isinstance(text, str) else str(text)
        gen = reply_generation(text, lt.model)
        if lt.twin is not None:
            scored = score_reply(lt.twin, doc, request, gen)
            sc, confidence = scored.score, dict(scored.confidence)
        else:
            sc, confidence = scorer_for(lt.card.name).score(text, doc.target, doc.fields), {}
        key = hashlib.sha256(json.dumps([lt.source, doc.doc_id, rec.get("prompt_hash"), j, text]).encode()).hexdigest()
        out.append(Sample(
            task=lt.card.name, doc_id=doc.doc_id, protocol=lt.protocol, round=0, sample_idx=j, key=key,
            request=request, generation=gen, kind=Kind.ANSWER, attempt=0, target=doc.target,
            extracted=sc.extracted, correct=sc.correct, conventions=dict(sc.conventions), confidence=confidence,
            info={**sc.info, "lm_eval": {"task": lt.source, "file": path.name, "line": n, "doc_id": rec.get("doc_id")}},
        ))
    return out


def _pairing(lt: LoggedTask, rec: dict[str, Any], filt: str) -> FilterAgreement:
    """Which lm-eval per-sample metric of filter `filt` is compared with which evalsuite metric."""
    if lt.twin is not None:
        return FilterAgreement(filt, "accuracy", "accuracy")
    convention = NATIVE_FILTERS.get(lt.source, {}).get(filt)
    if convention is None:
        return FilterAgreement(filt)
    metrics = [m for m in rec.get("metrics") or [] if isinstance(m, str)]
    metric = "accuracy" if convention == scorer_for(lt.card.name).primary else f"accuracy[{convention}]"
    return FilterAgreement(filt, metrics[0] if metrics else "exact_match", metric)


def _compare(lt: LoggedTask, rec: dict[str, Any], got: list[Sample]) -> None:
    """Count one logged line's lm-eval score against evalsuite's score of the same reply."""
    filt = str(rec.get("filter") or "none")
    fa = lt.filters.setdefault(filt, _pairing(lt, rec, filt))
    if fa.metric is None or fa.lm_eval_metric not in rec or len(got) != 1:
        return
    s = got[0]
    mine = bool(s.correct) if fa.metric == "accuracy" else bool(s.conventions.get(fa.metric[len("accuracy["):-1]))
    theirs = float(rec[fa.lm_eval_metric])
    fa.compared += 1
    if theirs == float(mine):
        fa.agree += 1
    else:
        fa.disagreements.append({"doc_id": s.doc_id, "lm_eval": theirs, "evalsuite": mine,
                                 "lm_eval_filtered": rec.get("filtered_resps"), "evalsuite_extracted": s.extracted,
                                 "official_extracted": s.info.get("official_extracted")})


def _lm_eval_metrics(results: dict[str, Any], lt: LoggedTask) -> dict[str, float]:
    """lm-eval's own aggregate values for the task: `metric` for a twin, `metric,filter` for lm-eval's own task."""
    raw = (results.get("results") or {}).get(lt.source) or {}
    nums = {k: v for k, v in raw.items() if isinstance(v, (int, float)) and "," in k}
    if lt.twin is not None:
        return {k.split(",")[0]: v for k, v in nums.items() if k.endswith(",none")}
    return {k: v for k, v in nums.items() if "_stderr" not in k}


def read_logged(paths: list[str | Path], task: str | None = None) -> list[LoggedTask]:
    """Rescore every sample in lm-eval samples files, grouped by source task (one doc is scored once per file)."""
    if not paths:
        raise UsageError("no lm-eval samples file given; pass --lm-eval-samples samples_*.jsonl")
    by_source: dict[str, LoggedTask] = {}
    for p in map(Path, paths):
        source, twin, card = _source_of(p, task)
        results = _results_json(p) or {}
        model = str(results.get("model_name") or (results.get("config") or {}).get("model_args") or "lm-eval")
        protocol = twin.protocol if twin else f"lm-eval:{source}"
        lt = by_source.setdefault(f"{protocol}/{source}", LoggedTask(card, source, protocol, [], twin, model=model))
        lt.files.append(p)
        lt.lm_eval_metrics.update(_lm_eval_metrics(results, lt))
        scored: dict[Any, list[Sample]] = {}
        for n, rec in _lines(p):
            doc_key = rec.get("doc_id")
            if doc_key not in scored:
                scored[doc_key] = _rescore_line(lt, p, n, rec)
                lt.samples.extend(scored[doc_key])
            _compare(lt, rec, scored[doc_key])
    for lt in by_source.values():
        if not lt.samples:
            raise UsageError(f"{', '.join(map(str, lt.files))} holds no samples; pass non-empty lm-eval files")
    return list(by_source.values())
