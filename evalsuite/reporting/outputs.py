"""Run outputs: results.json, samples.jsonl, results.csv (tidy), and the summary table on stdout."""
from __future__ import annotations

import csv
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Iterable

from evalsuite.records import Sample
from evalsuite.summaries import MetricRow

CSV_COLUMNS = [
    "task", "subset", "protocol", "attempt", "metric", "value", "ci_low", "ci_high", "n", "direction", "label", "note",
]


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _clean(x: Any) -> Any:
    """JSON-safe floats: NaN and inf become null (their reason is kept beside them where there is one)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def sample_record(s: Sample) -> dict[str, Any]:
    """One samples.jsonl line: the round's prompt, output, answer, target, correctness and token summaries."""
    g = s.generation
    st = g.stats
    return _clean({
        "task": s.task, "doc_id": s.doc_id, "protocol": s.protocol, "round": s.round, "attempt": s.attempt,
        "sample_idx": s.sample_idx, "kind": s.kind,
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
    })


def write_samples(path: Path, samples: Iterable[Sample]) -> None:
    _atomic_write(path, "".join(json.dumps(sample_record(s), ensure_ascii=False) + "\n" for s in samples))


def write_results_json(path: Path, payload: dict[str, Any]) -> None:
    _atomic_write(path, json.dumps(_clean(payload), indent=2, ensure_ascii=False) + "\n")


def write_results_csv(path: Path, rows: list[MetricRow]) -> None:
    """One row per metric; a row's `round` (the answer round) is the column users see as `attempt`."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if isinstance(v, float) and not math.isfinite(v) else v) for k, v in _csv_row(r).items()})
    os.replace(tmp, path)


def _csv_row(r: MetricRow) -> dict:
    return {("attempt" if k == "round" else k): v for k, v in r.to_dict().items()}


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
        if r.metric == "mean_tokens":
            continue
        arrow = {"higher": " ↑", "lower": " ↓"}.get(r.direction, "")
        task = r.task + (f" / {r.subset}" if r.subset else "")
        table.add_row(task, r.protocol, str(r.round), r.label + arrow, _fmt(r.value),
                      f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]", str(r.n))
    (console or Console(width=None if sys.stdout.isatty() else 160)).print(table)
