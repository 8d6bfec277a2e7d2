"""Plots of a run written before summaries returned typed plot specs (results.json without `plots`): the extras
shapes those versions wrote are translated, once, to plot entries (`{"plot": KIND, ...}`, see plot_specs.py), by
`evalsuite upgrade` only (commands/upgrade.py). No reader goes through here; the report draws stored specs.

The shapes, as the older summarizers wrote them:

* self-correction flips, any depth; a list of them is one figure::
      {"from": 0, "to": 1, "right→right": 5, "right→wrong": 1, "wrong→right": 2, "wrong→wrong": 4}
* calibration reliability, one figure per confidence method and round::
      {"width": [bin, ...], "mass": [bin, ...], "n": 30, "label": "verbalized"}
      with bin = {"lo", "hi", "count", "mean_confidence", "accuracy"}
* best-of-N table; CIs come from the task's `bon_accuracy[SELECTOR, N=n]` and `oracle_pass[N=n]` rows::
      {"n": [1, 2, 4], "accuracy": {"majority": [..], "oracle pass@N": [..]}, ...}
* critique judgements: a gold × verdict matrix with the unparsed column::
      {"confusion": {"exclude": {"tp", "fp", "fn", "tn"}, ...}, "unparsed": {"response_correct", "response_wrong"}}
* ready plot dicts (`{"plot": "roc", ...}`) anywhere in the extras.
"""
from __future__ import annotations

import re
from typing import Any, Iterator

from evalsuite.plot_specs import KINDS

FLIP_KEYS = ("right→right", "right→wrong", "wrong→right", "wrong→wrong")
_BON_ROW = re.compile(r"^bon_accuracy\[(?P<sel>.+), N=(?P<n>\d+)\]$|^oracle_pass\[N=(?P<on>\d+)\]$")


def _flip(d: dict[str, Any]) -> dict[str, Any] | None:
    if not all(k in d for k in FLIP_KEYS) or "from" not in d or "to" not in d:
        return None
    return {"plot": "flip_matrix", "from_round": d["from"], "to_round": d["to"],
            "counts": [[d["right→right"], d["right→wrong"]], [d["wrong→right"], d["wrong→wrong"]]]}


def _flip_title(path: str, flips: list) -> str:
    if path.endswith("flips_from_first"):
        return "Flips from attempt 0 to each later attempt"
    return "Flips between consecutive attempts" if len(flips) > 1 else f"Flips from attempt {flips[0]['from_round']} to " \
        f"attempt {flips[0]['to_round']}"


def _is_bins(x: Any) -> bool:
    return isinstance(x, list) and bool(x) and all(isinstance(b, dict) and "accuracy" in b and "count" in b for b in x)


def _reliability(d: dict[str, Any], path: str) -> dict[str, Any] | None:
    binnings = {name: d[key] for key, name in (("width", "equal-width"), ("mass", "equal-mass"))
                if _is_bins(d.get(key))}
    if not binnings:
        return None
    parts = path.split(".")
    rnd = parts[-1] if parts and parts[-1].isdigit() else ""
    label = d.get("label") or (parts[-2] if len(parts) >= 2 else "")
    title = f"Reliability: {label}" + (f", attempt {rnd}" if rnd else "")
    return {"plot": "reliability", "method": label, "bins": binnings, "title": title}


def _best_of_n(d: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    n, acc = d.get("n"), d.get("accuracy")
    if not (isinstance(n, list) and n and isinstance(acc, dict) and acc
            and all(isinstance(v, list) and len(v) == len(n) for v in acc.values())):
        return None
    ci: dict[tuple[str, int], tuple[float, float]] = {}
    for r in rows:
        m = _BON_ROW.match(str(r.get("metric", "")))
        if m and r.get("ci_low") is not None and r.get("ci_high") is not None:
            sel = m.group("sel") or "oracle pass@N"
            ci[(sel, int(m.group("n") or m.group("on")))] = (r["ci_low"], r["ci_high"])
    selectors = {}
    for name, vals in acc.items():
        s: dict[str, Any] = {"n": n, "accuracy": vals}
        if all((name, k) in ci for k in n):
            s["ci_low"] = [ci[(name, k)][0] for k in n]
            s["ci_high"] = [ci[(name, k)][1] for k in n]
        selectors[name] = s
    p = d.get("borda_p")
    title = "Best-of-N accuracy by selector" + (f" (Borda p={p:g})" if isinstance(p, (int, float)) else "")
    return {"plot": "accuracy_vs_n", "selectors": selectors, "title": title}


def _critique(d: dict[str, Any], path: str) -> dict[str, Any] | None:
    conf, unparsed = d.get("confusion"), d.get("unparsed")
    ex = conf.get("exclude") if isinstance(conf, dict) else None
    if not (isinstance(ex, dict) and all(k in ex for k in ("tp", "fp", "fn", "tn"))):
        return None
    rows = [[ex["tn"], ex["fp"]], [ex["fn"], ex["tp"]]]
    cols = ["judged correct", "judged wrong"]
    if isinstance(unparsed, dict) and "response_correct" in unparsed and "response_wrong" in unparsed:
        rows[0].append(unparsed["response_correct"])
        rows[1].append(unparsed["response_wrong"])
        cols.append("no verdict")
    parts = path.split(".")
    attempt = f", answer {parts[-1]} judged" if parts and parts[-1].isdigit() else ""
    return {"plot": "confusion", "row_labels": ["response correct", "response wrong"], "col_labels": cols,
            "counts": rows, "title": f"Critique verdicts{attempt}"}


def recognise(node: Any, path: str, rows: list[dict[str, Any]], kinds: set[str]) -> Iterator[tuple[str, dict]]:
    """Every plot dict under `node`, ready-made (a `plot` key naming one of `kinds`) or translated from a known
    summarizer shape, with its path in the extras (e.g. `calibration.reliability.verbal.0`)."""
    if isinstance(node, dict):
        if isinstance(node.get("plot"), str) and node["plot"] in kinds:
            yield path, node
            return
        for make in (lambda: _flip(node), lambda: _reliability(node, path), lambda: _best_of_n(node, rows),
                     lambda: _critique(node, path)):
            got = make()
            if got is not None:
                yield path, got
                return
        for k, v in node.items():
            if k == "flips_from_first" and isinstance(v, list):
                v = [x for x in v if not (isinstance(x, dict) and x.get("to") == 1)]
            yield from recognise(v, f"{path}.{k}" if path else str(k), rows, kinds)
    elif isinstance(node, list):
        flips = [_flip(v) if isinstance(v, dict) else None for v in node]
        if flips and all(flips):
            yield path, {"plot": "flip_matrix", "panels": flips, "title": _flip_title(path, flips)}
            return
        for i, v in enumerate(node):
            yield from recognise(v, f"{path}[{i}]", rows, kinds)


def legacy_plots(extras: Any, rows: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path in the extras, plot entry) for every plot an old run's extras hold."""
    yield from recognise(extras, "", rows, set(KINDS))
