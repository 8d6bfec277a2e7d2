"""report.html: one self-contained page per run (inline CSS, SVG plots as data URIs, no external assets).

Every piece of model or dataset text goes through jinja2 autoescaping; the page's only script toggles the sample
filter by reading computed attributes and never touches model text.
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

import jinja2

from evalsuite.errors import UsageError
from evalsuite.metrics.base import spec
from evalsuite.reporting import plots
from evalsuite.reporting.browser import DEFAULT_MAX_CHAINS, TaskSamples, group_chains
from evalsuite.reporting.glossary import Glossary, base_name
from evalsuite.reporting.outputs import atomic_write_text, json_row
from evalsuite.reporting.pushback_control import control_figures
from evalsuite.results import GroupResult, MetricRow
from evalsuite.rundir import RunDir, load_run

ARROWS = {"higher": "↑", "lower": "↓"}
SCRIPT = """
document.documentElement.dataset.js = "on";
function applyFilter(bar, value) {
  const pick = [...bar.querySelectorAll("button[data-filter]")].find((b) => b.dataset.filter === value);
  if (!pick) return;
  bar.closest(".browser").dataset.filter = value;
  for (const b of bar.querySelectorAll("button[data-filter]")) b.setAttribute("aria-pressed", String(b === pick));
}
const start = /(?:^#|&)filter=(\\w+)/.exec(location.hash);
for (const bar of document.querySelectorAll(".filters")) {
  bar.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-filter]");
    if (b) applyFilter(bar, b.dataset.filter);
  });
  if (start) applyFilter(bar, start[1]);
}
"""
"""The page's only script: it switches a computed attribute and never reads or writes model text."""


def content_security_policy(script: str | None = SCRIPT) -> str:
    """No network, no plugins; images only as data URIs; only the page's own script (by hash) may run, if any."""
    src = "'none'"
    if script is not None:
        src = "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
    return (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src {src}; "
            "base-uri 'none'; form-action 'none'")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def visible(text: Any) -> str:
    """Text safe to show: C0 controls become their Unicode control pictures (␟), lone surrogates become �.

    Escaping for HTML is jinja2's job (autoescape); this only keeps invisible bytes from vanishing silently."""
    if text is None:
        return ""
    s = text if isinstance(text, str) else str(text)
    s = _SURROGATE.sub("\ufffd", s)
    return _CONTROL.sub(lambda m: "␡" if m.group() == "\x7f" else chr(0x2400 + ord(m.group())), s)


def fmt_value(value: Any, metric: str = "", fmt: str | None = None) -> str:
    """A metric value in `fmt` (default: the registered metric's format); missing or undefined values read `n/a`."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if not isinstance(value, (int, float)):
        return str(value)
    if fmt is None:
        meta = spec(metric) if metric else None
        fmt = meta.fmt if meta else ".3f"
    return format(value, fmt)


def environment() -> jinja2.Environment:
    """The templates' jinja2 environment: autoescape always on (templates are `*.html.j2`), strict undefined."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["visible"] = visible
    env.filters["fmt"] = fmt_value
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False, sort_keys=True)
    return env


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def metric_table(metric_rows: list[MetricRow], gl: Glossary | None = None) -> dict[str, Any]:
    """A task's metrics pivoted to one line per metric (and protocol, subset) with a column per attempt (the answer
    round: 0 is the first answer, 1 the first revision, ...).

    Each cell holds the value, its 95% CI and n; within a line the best attempt is marked (by the metric's
    direction) when the values differ. Round -1 (not per attempt) is the column "all attempts"."""
    gl = gl or Glossary(legacy=True)
    rows = [json_row(r) for r in metric_rows]
    rounds = sorted({int(r.get("round", 0)) for r in rows}, key=lambda x: (x < 0, x))
    lines: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        fmt = gl.fmt(base_name(r))
        key = (r["metric"], r.get("protocol", ""), r.get("subset", ""))
        line = lines.setdefault(key, {
            "metric": r["metric"], "label": r.get("label", r["metric"]), "protocol": key[1], "subset": key[2],
            "explain": explain(r, gl),
            "direction": r.get("direction", "none"), "arrow": ARROWS.get(r.get("direction", ""), ""),
            "cells": {}, "notes": []})
        ci = (f"[{fmt_value(r['ci_low'], fmt=fmt)}, {fmt_value(r['ci_high'], fmt=fmt)}]"
              if _finite(r.get("ci_low")) and _finite(r.get("ci_high")) else "")
        line["cells"][int(r.get("round", 0))] = {"shown": fmt_value(r.get("value"), fmt=fmt), "ci": ci,
                                                  "n": r.get("n"), "value": r.get("value"), "best": False}
        if r.get("note") and r["note"] not in line["notes"]:
            line["notes"].append(r["note"])
    for line in lines.values():
        vals = {k: c["value"] for k, c in line["cells"].items() if _finite(c["value"])}
        if line["direction"] in ARROWS and len(vals) > 1 and len(set(vals.values())) > 1:
            best = (max if line["direction"] == "higher" else min)(vals.values())
            for k, v in vals.items():
                line["cells"][k]["best"] = v == best
    heads = ["all attempts" if x < 0 else f"attempt {x}" for x in rounds]
    return {"rounds": rounds, "heads": heads, "lines": list(lines.values()),
            "has_subset": any(k[2] for k in lines), "has_protocols": len({k[1] for k in lines}) > 1,
            "ns": sorted({r["n"] for r in rows if isinstance(r.get("n"), int)})}


def explain(row: dict[str, Any], gl: Glossary) -> str:
    """The hover text of a metric row: its definition and source, then its variant's, if declared."""
    parts = []
    meta = gl.metric(base_name(row))
    if meta is not None and meta.definition:
        parts.append(f"{meta.definition} Source: {meta.source}.")
    t = gl.variants.get(str(row.get("variant") or ""))
    if t is not None:
        parts.append(f"{t.label}: {t.definition} Source: {t.source}.")
    return " ".join(parts)


def glossary(gl: Glossary) -> list[dict[str, str]]:
    """One entry per metric and per declared variant of the run, sorted by what the report shows."""
    entries = {name: {"name": m.label, "definition": m.definition, "source": m.source}
               for name, m in gl.metrics.items() if m.definition}
    entries.update({"term:" + t.key: {"name": t.label, "definition": t.definition, "source": t.source}
                    for t in gl.variants.values()})
    return sorted(entries.values(), key=lambda e: e["name"].lower())


def _hms(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "n/a"
    m, s = divmod(float(seconds), 60)
    h, m = divmod(int(m), 60)
    return f"{h}h {m:02d}m {s:04.1f}s" if h else (f"{m}m {s:04.1f}s" if m else f"{s:.1f}s")


def stored_generations(run_dir: Path) -> int | None:
    """How many generations the run's sample store holds now (read-only; None when there is no readable store),
    so the report of a run still going, or killed, says how far generation got beyond its last finished round."""
    import sqlite3

    path = run_dir / "samples.sqlite"
    if not path.is_file():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM generations").fetchone()[0])
    except sqlite3.Error:
        return None


def report_context(run: RunDir, max_chains: int | None, control: str | Path | None = None,
                   chains: dict[str, TaskSamples] | None = None) -> dict[str, Any]:
    """Everything the report template shows, computed from the run dir alone (its glossary included: the report
    never asks the installed code what a metric means), plus a pushback control run's figures beside each task's.
    `chains`: the sample browser's chains when the caller grouped them as it wrote samples.jsonl (a run does)."""
    res = run.results
    gl = Glossary.from_dict(res.glossary)
    if chains is None:
        chains = group_chains(run.samples(), max_chains)
    tasks = [_group_entry(name, g, gl) for name, g in res.groups.items()]
    for name, t in res.tasks.items():
        figures, notes = plots.task_figures(t, gl)
        more, more_notes = control_figures(run, name, control)
        protocols = sorted({r.protocol for r in t.metrics} - {""})
        tasks.append({
            "name": name, "is_group": False, "source": t.source, "files": t.files, "n_docs": t.n_docs,
            "protocol": t.protocol or ", ".join(protocols), "oracle": t.oracle,
            "primary_convention": t.primary_convention, "metrics": metric_table(t.metrics, gl),
            "figures": figures + more, "plot_notes": notes + more_notes, "samples": chains.get(name), "members": []})
    run_info = res.run or {}
    tps = run_info.get("tokens_per_s")
    return {
        "title": f"evalsuite report: {res.model.get('model_id') or res.model.get('spec', '')}",
        "run_name": run.name, "model": res.model, "config": res.config, "versions": res.versions,
        "git_hash": res.git_hash, "created": res.created, "run": run_info,
        "wall": _hms(run_info.get("wall_seconds")), "gen_time": _hms(run_info.get("gen_seconds")),
        "tokens_per_s": f"{tps:.1f}" if isinstance(tps, (int, float)) else "n/a",
        "tasks": tasks, "max_chains": max_chains, "script": SCRIPT, "csp": content_security_policy(),
        "partial": res.partial is True, "rounds_done": res.rounds_done,
        "glossary": glossary(gl),
        "stored": stored_generations(run.path) if res.partial is True else None,
        "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _group_entry(name: str, g: GroupResult, gl: Glossary) -> dict[str, Any]:
    """What the report shows of a task group: its rows and plots, over its member tasks."""
    figures, notes = plots.task_figures(g, gl)
    return {"name": name, "is_group": True, "source": "", "files": {}, "n_docs": None,
            "protocol": ", ".join(sorted({r.protocol for r in g.metrics} - {""})), "oracle": False,
            "primary_convention": "", "metrics": metric_table(g.metrics, gl), "figures": figures,
            "plot_notes": notes, "samples": None, "members": sorted(g.tasks)}


def render_report(run: RunDir, max_chains: int | None = DEFAULT_MAX_CHAINS, control: str | Path | None = None,
                  chains: dict[str, TaskSamples] | None = None) -> str:
    return environment().get_template("report.html.j2").render(**report_context(run, max_chains, control, chains))


def write_report(run_dir: str | Path, out: str | Path | None = None,
                 max_chains: int | None = DEFAULT_MAX_CHAINS, control: str | Path | None = None,
                 chains: dict[str, TaskSamples] | None = None) -> Path:
    """Build report.html for a run dir (default: `RUN_DIR/report.html`) and return its path; `control` names a
    pushback control run drawn beside it (default: the run's own --pushback-control, if any)."""
    run = load_run(run_dir)
    target = Path(out) if out is not None else run.path / "report.html"
    html = render_report(run, max_chains, control, chains)
    try:
        atomic_write_text(target, html)
    except OSError as e:
        raise UsageError(f"cannot write {target} ({e.strerror or e}); choose another --out") from None
    return target
