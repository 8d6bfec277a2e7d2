"""The critic x generator matrix: `critique_correct` runs (with `--policy-run GEN_RUN`, or without: self-critique on
the diagonal) read back from their results.json and laid out per task and metric, critic rows, generator columns.

Each cell is a metric row the run itself wrote (nothing is recomputed here): critique F1 (wrong = positive, Lin's Q)
over the generator's first answers, accuracy after critique-and-correction (RealCritic's closed-loop score, Lin's C),
its Δ over the generator's own answer, and c→i / i→c, all at the run's last correction round. A pair that was not
run is a missing cell. Written as matrix.csv (one line per cell, missing ones included) and matrix.html (a heatmap
per task and metric, readable offline, every model name escaped).
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalsuite.errors import UsageError
from evalsuite.reporting.outputs import atomic_write_text, csv_text, json_row
from evalsuite.results import MetricRow
from evalsuite.rundir import RunDir, load_run

CELLS = (  # (metric row name, round: "first" = 0 or "last", label)
    ("critique_f1", "first", "Critique F1 (wrong = positive)"),
    ("correction_accuracy", "last", "Accuracy after critique and correction"),
    ("delta", "last", "Δ accuracy over the generator's answer"),
    ("delta_c2i", "last", "Δ c→i"),
    ("delta_i2c", "last", "Δ i→c"),
    ("generation_accuracy", "first", "Generator's own accuracy (as scored in the run)"),
)
HEADER = ["task", "metric", "critic", "generator", "value", "ci_low", "ci_high", "n", "round", "run"]


@dataclass(frozen=True)
class Entry:
    """One run placed in the matrix."""

    critic: str
    generator: str
    run: RunDir


def model_name(run: RunDir) -> str:
    """How a run's model is named in the matrix: its spec as given (`hf:embedded`, `mock:a`), else its model id."""
    m = run.results.model
    return str(m.get("spec") or m.get("model_id") or run.name)


def _generator(run: RunDir) -> str:
    """The generator of a critique_correct run: the model of its --policy-run, or the critic itself."""
    policy = (run.results.config.get("options") or {}).get("policy_run")
    if not policy:
        return model_name(run)
    for base in (Path(policy).expanduser(), run.path / policy, run.path.parent / Path(policy).name):
        if (base / "results.json").is_file():
            return model_name(load_run(base))
    raise UsageError(f"{run.path}: its --policy-run {policy} has no results.json here; keep the generator run "
                     "beside it (or pass the matrix from the directory the runs were made in)")


def entries(run_dirs: list[str]) -> list[Entry]:
    """The runs as matrix entries; a run that is not critique_correct, or a (critic, generator) pair given twice,
    is refused with one line."""
    out: list[Entry] = []
    seen: dict[tuple[str, str], str] = {}
    for d in run_dirs:
        run = load_run(d)
        proto = run.results.config.get("protocol")
        if proto != "critique_correct":
            raise UsageError(f"{d} is a {proto or 'task-default'} run; the matrix reads `--protocol critique_correct` "
                             "runs (with --policy-run GEN_RUN for a cross pair)")
        e = Entry(model_name(run), _generator(run), run)
        key = (e.critic, e.generator)
        if key in seen:
            raise UsageError(f"critic {e.critic} x generator {e.generator} is in two runs ({seen[key]} and {d}); "
                             "pass one of them")
        seen[key] = d
        out.append(e)
    if not out:
        raise UsageError("matrix needs at least one RUN_DIR written by `evalsuite run --protocol critique_correct`")
    return out


def _row(metrics: list[MetricRow], name: str, which: str) -> MetricRow | None:
    """The run's row of metric `name` (no variant) at round 0 or at its last round."""
    rows = [r for r in metrics if r.metric == name]
    if not rows:
        return None
    return min(rows, key=lambda r: r.round) if which == "first" else max(rows, key=lambda r: r.round)


def cells(es: list[Entry]) -> list[dict[str, Any]]:
    """Every (task, metric, critic, generator) cell, missing pairs with an empty value."""
    critics = list(dict.fromkeys(e.critic for e in es))
    generators = list(dict.fromkeys(e.generator for e in es))
    tasks = list(dict.fromkeys(t for e in es for t in e.run.results.tasks))
    by_pair = {(e.critic, e.generator): e for e in es}
    out = []
    for task in tasks:
        for name, which, _ in CELLS:
            for c in critics:
                for g in generators:
                    e = by_pair.get((c, g))
                    sec = e.run.results.tasks.get(task) if e else None
                    r = json_row(row) if sec and (row := _row(sec.metrics, name, which)) else {}
                    out.append({"task": task, "metric": name, "critic": c, "generator": g,
                                **{k: r.get(k) for k in ("value", "ci_low", "ci_high", "n", "round")},
                                "run": str(e.run.path) if e else ""})
    return out


def _color(value: float | None, metric: str) -> str:
    """A light background for a cell: green high, red low (Δ and c→i/i→c on [-1, 1], the rest on [0, 1])."""
    if value is None or value != value:
        return "#eee"
    lo = -1.0 if metric.startswith("delta") else 0.0
    x = max(0.0, min(1.0, (value - lo) / (1.0 - lo)))
    if metric == "delta_c2i":
        x = 1 - x
    return f"hsl({int(120 * x)}, 60%, 85%)"


def matrix_html(rows: list[dict[str, Any]]) -> str:
    """A self-contained page: one heatmap table per task and metric, critics as rows, generators as columns."""
    esc = html.escape
    labels = {n: lab for n, _, lab in CELLS}
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>Critic x generator matrix</title><style>"
             "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:0 0 1.5em}"
             "td,th{border:1px solid #999;padding:.3em .6em;text-align:center}th{background:#f4f4f4}"
             "</style></head><body><h1>Critic × generator matrix</h1><p>Rows: critic; columns: generator; the "
             "diagonal is self-critique. Each cell is the run's own metric row (95% CI below); — : pair not run.</p>"]
    for task in dict.fromkeys(r["task"] for r in rows):
        parts.append(f"<h2>{esc(task)}</h2>")
        for name, _, _ in CELLS:
            sub = [r for r in rows if r["task"] == task and r["metric"] == name]
            gens = list(dict.fromkeys(r["generator"] for r in sub))
            crit = list(dict.fromkeys(r["critic"] for r in sub))
            parts.append(f"<h3>{esc(labels[name])}</h3><table><tr><th>critic \\ generator</th>"
                         + "".join(f"<th>{esc(g)}</th>" for g in gens) + "</tr>")
            for c in crit:
                tds = []
                for g in gens:
                    r = next(x for x in sub if x["critic"] == c and x["generator"] == g)
                    v = r["value"]
                    text = "—" if v is None else (f"{v:.3f}<br><small>[{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
                                                   f" n={r['n']}</small>" if r["ci_low"] is not None
                                                   and r["ci_low"] == r["ci_low"] else f"{v:.3f}")
                    tds.append(f"<td style='background:{_color(v, name)}'>{text}</td>")
                parts.append(f"<tr><th>{esc(c)}</th>{''.join(tds)}</tr>")
            parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def write_matrix(run_dirs: list[str], out: str | Path) -> list[Path]:
    """matrix.csv and matrix.html in `out` from the given critique_correct runs; returns the paths written."""
    rows = cells(entries(run_dirs))
    d = Path(out)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create --out {d} ({e.strerror or e}); choose a writable folder") from None
    csv_path, html_path = d / "matrix.csv", d / "matrix.html"
    atomic_write_text(csv_path, csv_text(HEADER, rows))
    atomic_write_text(html_path, matrix_html(rows))
    return [csv_path, html_path]
