"""Load a task's docs through `datasets`: from the files shipped with the package, or from the hub copy."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from evalsuite.errors import UsageError
from evalsuite.records import Doc
from evalsuite.tasks.card_code import build_scorer
from evalsuite.tasks.cards import TaskCard
from evalsuite.tasks.expand import card_function, expand_records
from evalsuite.tasks.roots import data_root
from evalsuite.tasks.subsets import arrange, read_subsets


def data_files(card: TaskCard, data_dir: str | Path | None = None) -> list[Path]:
    if card.data.get("download"):
        from evalsuite.tasks.download import fetch_files  # local: urllib and ssl (11 ms) load only to download

        return fetch_files(card, data_dir)
    files = card.data.get("files", [])
    files = [files] if isinstance(files, str) else files
    root = data_root(data_dir, card.home)
    paths = [root / f for f in files]
    for p in paths:
        if not p.is_file():
            what = "is not a file" if p.exists() else "is missing"
            raise UsageError(f"data file {p} for task {card.name} {what}; point --data-dir at a folder that has it")
    return paths


def file_hashes(paths: list[Path]) -> dict[str, str]:
    return {p.name if len(paths) == 1 else str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def _first_bad_line(path: Path) -> str | None:
    """Where a JSON Lines file stops parsing, as 'line N (reason)'."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                return f"line {n} ({e.msg})"
            if not isinstance(obj, dict):
                return f"line {n} (not a JSON object)"
    return None


def load_records(card: TaskCard, source: str = "local", data_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """The raw records of a task, in file order."""
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)
    if source == "hub" or card.data.get("gated"):
        hub = card.data.get("hub")
        if not hub:
            raise UsageError(f"task {card.name} has no hub copy; drop --data-source hub")
        try:
            ds = datasets.load_dataset(hub["path"], hub.get("name"), split=hub.get("split", "test"))
        except Exception as e:  # the hub client raises many types; all mean "cannot get it"
            raise UsageError(
                f"could not load {hub['path']} from the hub ({type(e).__name__}); use --data-source local offline"
            ) from e
        return ds.to_list()
    paths = data_files(card, data_dir)
    if card.data.get("subsets"):
        return read_subsets(card, paths)
    fmt = card.data.get("format", "json")
    try:
        ds = datasets.load_dataset(fmt, data_files=[str(p) for p in paths], split="train")
    except Exception as e:  # datasets wraps parse errors in several types; locate the bad line ourselves
        for p in paths:
            where = _first_bad_line(p) if fmt == "json" else None
            if where:
                raise UsageError(f"data file {p} is corrupt at {where}; restore it from the package or source") from e
        raise UsageError(f"could not read data files {', '.join(map(str, paths))} ({type(e).__name__}: {e})") from e
    return ds.to_list()


def load_docs(
    card: TaskCard,
    limit: int | None = None,
    source: str = "local",
    data_dir: str | Path | None = None,
) -> list[Doc]:
    """The first `limit` docs of a task (all when None), with their gold targets."""
    records = load_records(card, source, data_dir)
    records = expand_records(card, records)
    if card.data.get("subsets"):
        records, limit = arrange(card, records, limit), None
    required = card.data.get("required_fields", [])
    scorer = build_scorer(card)
    prepare = card_function(card, "prepare")
    docs = []
    for i, rec in enumerate(records[:limit] if limit else records):
        missing = [f for f in required if f not in rec]
        if missing:
            raise UsageError(f"task {card.name} record {i} lacks field(s) {', '.join(missing)}; check the data files")
        rec = prepare(rec) if prepare else rec
        doc_id = str(i) if card.doc_id == "index" else str(rec[card.doc_id])
        docs.append(Doc(task=card.name, doc_id=doc_id, fields=rec, target=scorer.gold(rec)))
    return docs
