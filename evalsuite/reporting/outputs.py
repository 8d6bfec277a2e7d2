"""Run outputs: results.json, samples.jsonl, results.csv (tidy), and the summary table on stdout."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import secrets
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from evalsuite.metrics.base import PARAMS
from evalsuite.records import Sample, encode_with_chat
from evalsuite.results import MetricRow

CSV_COLUMNS = [
    "task", "subset", "protocol", "attempt", "metric", "variant", *(f"param_{k}" for k in PARAMS), "value", "ci_low",
    "ci_high", "n", "direction", "label", "note",
]
"""`metric` is the registered metric's name; its variant and each parameter (`param_N`, ...) are columns too."""


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""Text cells starting with these are formulas to a spreadsheet (OWASP CSV injection); they get a leading `'`."""


def atomic_write_text(path: Path, text: str) -> None:
    """Write `path` whole or not at all: a uniquely named temp file beside it, then os.replace.

    Two processes writing the same file never share (or delete) each other's temp file; umask applies as usual."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def csv_cell(v: Any) -> Any:
    """A CSV cell: numbers stay numbers (NaN/inf empty), text that a spreadsheet would run as a formula is quoted."""
    if isinstance(v, float) and not math.isfinite(v):
        return ""
    if isinstance(v, str) and v.startswith(FORMULA_START):
        return "'" + v
    return v


def csv_text(header: list[str], rows: Iterable[dict[str, Any]]) -> str:
    """The CSV file's text: a header row, then every row with its cells passed through `csv_cell`."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header)
    w.writeheader()
    for r in rows:
        w.writerow({k: csv_cell(v) for k, v in r.items()})
    return buf.getvalue()


def _clean(x: Any) -> Any:
    """JSON-safe floats: NaN and inf become null (their reason is kept beside them where there is one)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def json_row(r: MetricRow) -> dict[str, Any]:
    """A metric row as results.json holds it (NaN as null): the form the report's table and plots read."""
    return _clean(r.to_dict())


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def sample_record(s: Sample) -> dict[str, Any]:
    """One samples.jsonl line: the round's prompt, output, answer, target, correctness and token summaries."""
    return _clean(_record(s))


def _record(s: Sample) -> dict[str, Any]:
    g = s.generation
    st = g.stats
    return {
        "task": s.task, "doc_id": s.doc_id, "protocol": s.protocol, "round": s.round, "attempt": s.attempt,
        "sample_idx": s.sample_idx, "kind": s.kind, **({"role": s.request.role} if s.request.role else {}),
        "prompt": s.request.chat() if s.request.messages is not None else s.request.prompt,
        "output": g.text, "extracted": s.extracted, "target": s.target, "correct": s.correct,
        "conventions": s.conventions, "confidence": s.confidence, "member": s.member,
        "finish_reason": g.finish_reason, "n_tokens": len(g.token_ids),
        "token_stats": {
            "sum_logprob": sum(st["logprob"]) if st.get("logprob") else None,
            "mean_logprob": _mean(st.get("logprob", [])),
            "mean_entropy": _mean(st.get("entropy", [])),
            "self_certainty": _mean(st.get("sc_term", [])),
            "approximate": list(g.approximate),
        },
        "key": s.key, "info": s.info,
    }


_STRICT = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
_LOOSE = json.JSONEncoder(ensure_ascii=False)


def sample_line(s: Sample) -> str:
    """`json.dumps(sample_record(s), ensure_ascii=False)` plus a newline, without walking the record to clean it
    when it holds no NaN or infinity (the common case: the strict encoder refuses those, then the record is
    cleaned)."""
    return _line(_record(s), s.request.messages)[1]


def _line(rec: dict[str, Any], messages: Sequence[tuple[str, str]] | None = None) -> tuple[dict[str, Any], str]:
    """(the record as written, its line). With the request's chat `messages` (what `rec["prompt"]` lists), the
    prompt's JSON is spliced in from each turn's cached encoding (records.encode_with_chat), same bytes."""
    try:
        text = None if messages is None else encode_with_chat(_STRICT.encode, rec, rec, "prompt", messages)
        return rec, (_STRICT.encode(rec) if text is None else text) + "\n"
    except ValueError:
        rec = _clean(rec)
        return rec, _LOOSE.encode(rec) + "\n"


def write_samples(path: Path, samples: Iterable[Sample], chunk: int = 4096,
                  on_line: Callable[[dict[str, Any], str], None] | None = None) -> None:
    """Write samples.jsonl whole or not at all (temp file, then os.replace), a few thousand lines at a time so a
    million samples never become one string in memory; `on_line(record, line)` sees each line as it is written
    (the report's sample browser is built from them instead of reading the file back)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8", newline="") as fh:
            lines: list[str] = []
            for s in samples:
                rec, line = _line(_record(s), s.request.messages)
                if on_line is not None:
                    on_line(rec, line)
                lines.append(line)
                if len(lines) >= chunk:
                    fh.write("".join(lines))
                    lines.clear()
            fh.write("".join(lines))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_results_json(path: Path, payload: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(_clean(payload), indent=2, ensure_ascii=False) + "\n")


def write_results_csv(path: Path, rows: list[MetricRow]) -> None:
    """One row per metric; a row's `round` (the answer round) is the column users see as `attempt`."""
    atomic_write_text(path, csv_text(CSV_COLUMNS, (_csv_row(r) for r in rows)))


def _csv_row(r: MetricRow) -> dict:
    params = dict(r.metric.params)
    return {"task": r.task, "subset": r.subset, "protocol": r.protocol, "attempt": r.round, "metric": r.metric.name,
            "variant": r.metric.variant, **{f"param_{k}": params.get(k, "") for k in PARAMS}, "value": r.value,
            "ci_low": r.ci_low, "ci_high": r.ci_high, "n": r.n, "direction": r.direction, "label": r.label,
            "note": r.note}


def _fmt(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.3f}"


def print_summary(rows: list[MetricRow], console=None) -> None:
    """A short table: accuracy under each convention and the parse rate, per task, protocol and round."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="evalsuite results")
    for col in ("task", "protocol", "attempt", "metric", "value", "95% CI", "n"):
        table.add_column(col, justify="right" if col in ("value", "95% CI", "n", "attempt") else "left")
    for r in rows:
        if r.metric.name == "mean_tokens":
            continue
        arrow = {"higher": " ↑", "lower": " ↓"}.get(r.direction, "")
        task = r.task + (f" / {r.subset}" if r.subset else "")
        table.add_row(task, r.protocol, str(r.round), r.label + arrow, _fmt(r.value),
                      f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]", str(r.n))
    (console or Console(width=None if sys.stdout.isatty() else 160)).print(table)
