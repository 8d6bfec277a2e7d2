"""Tasks made of several files with different columns (RL-MIA): each file is one subset, read on its own.

`data.subsets` maps each file to its subset name. Every record gets `subset`, its `row` within the file and a
`doc_key` ("gsm8k/17"). `--limit N` keeps N docs of every subset, and `data.balance: member` interleaves the
classes first, so the first N of a subset sorted by label still hold both classes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from evalsuite.errors import UsageError
from evalsuite.tasks.cards import TaskCard

ADDED = ("subset", "row", "doc_key")


def read_subsets(card: TaskCard, paths: list[Path]) -> list[dict[str, Any]]:
    """Every record of every subset file, in file order, tagged with its subset and row."""
    import datasets

    files = card.data.get("files", [])
    files = [files] if isinstance(files, str) else list(files)
    names = card.data["subsets"]
    fmt = card.data.get("format", "json")
    out = []
    for f, path in zip(files, paths):
        if f not in names:
            raise UsageError(f"task card {card.name} names no subset for {f}; add it under data.subsets")
        try:
            rows = datasets.load_dataset(fmt, data_files=[str(path)], split="train").to_list()
        except Exception as e:  # datasets wraps parse errors in several types
            raise UsageError(f"could not read data file {path} ({type(e).__name__}); restore it from the source") from e
        for i, rec in enumerate(rows):
            clash = [k for k in ADDED if k in rec]
            if clash:
                raise UsageError(f"data file {path} already has field(s) {', '.join(clash)}; rename them")
            out.append({**rec, "subset": names[f], "row": i})
    return out


def interleave(records: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """Round-robin over the values of `field` (in order of first appearance), keeping order within a value."""
    buckets: dict[Any, list[dict[str, Any]]] = {}
    for r in records:
        buckets.setdefault(r.get(field), []).append(r)
    queues = list(buckets.values())
    out = []
    for i in range(max((len(q) for q in queues), default=0)):
        out.extend(q[i] for q in queues if i < len(q))
    return out


def arrange(card: TaskCard, records: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """Subsets in card order, classes interleaved when `data.balance` is set, the first `limit` of each."""
    by_subset: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_subset.setdefault(r["subset"], []).append(r)
    balance = card.data.get("balance")
    out = []
    for recs in by_subset.values():
        recs = interleave(recs, balance) if balance else recs
        out.extend(recs[:limit] if limit else recs)
    return [{**r, "doc_key": f"{r['subset']}/{r['row']}"} for r in out]
