"""Task cards: YAML files that say where a benchmark's data is, how to prompt it and how to score it.

Each benchmark has a folder under evalsuite/tasks/ with its card(s), data, SOURCES.md, LICENSE and README.md.
Parsing is pure (files in, dataclasses out); whether a task can run here is asked of `TaskCard.unavailable`.
A card may `include:` another file (a path relative to itself) and override keys of it: mappings merge key by key,
anything else replaces, and `null` removes a key. Files named `_*.yaml` are include-only templates, not tasks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from evalsuite.errors import UsageError
from evalsuite.tasks.availability import unavailable_reason
from evalsuite.tasks.card_code import card_loader
from evalsuite.tasks.roots import DATA_DIR, TASKS_DIR, search_path

__all__ = ["DATA_DIR", "TASKS_DIR", "GroupCard", "TaskCard", "catalog", "expand_card", "parse_card", "resolve_tasks"]

MAX_INCLUDE_DEPTH = 8


@dataclass(frozen=True)
class TaskCard:
    """One benchmark as data: source files or hub id, prompt templates, answer type, scorer, defaults."""

    name: str
    description: str
    size: int
    answer_type: str
    scorer: Any
    """A registered scorer name, or a `!function module.Class` beside the card (tasks/card_code.py)."""
    protocol: str
    data: dict[str, Any]
    prompts: dict[str, str]
    doc_id: str = "index"
    metrics: tuple[str, ...] = ()
    default_limit: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    home: Path = field(default=TASKS_DIR, compare=False)
    """The catalog folder the card was found in: its relative data files resolve there when no --data-dir is set."""

    @property
    def unavailable(self) -> str | None:
        """Why the task cannot run here right now (gated or hub-only data out of reach), else None; asked each time."""
        return unavailable_reason(self.data, self.home)


@dataclass(frozen=True)
class GroupCard:
    """A named list of tasks (e.g. `correctbench`) and the group summarizers (`aggregate:`) whose results over the
    member tasks a run of the group adds to results.json's `groups` (none declared: per-task results only)."""

    name: str
    description: str
    tasks: tuple[str, ...]
    aggregate: tuple[str, ...] = ()


REQUIRED = ("name", "description", "size", "answer_type", "scorer", "protocol", "data", "prompts")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def expand_card(path: Path, depth: int = 0) -> dict[str, Any]:
    """The card file as one mapping, its `include:` chain merged in (the including file's keys win)."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=card_loader(path))
    except (OSError, yaml.YAMLError) as e:
        raise UsageError(f"task card {path} cannot be read ({e}); fix or remove it") from e
    if not isinstance(raw, dict):
        raise UsageError(f"task card {path} is not a YAML mapping; fix or remove it")
    inc = raw.pop("include", None)
    if inc is None:
        return raw
    if depth >= MAX_INCLUDE_DEPTH:
        raise UsageError(f"task card {path} includes more than {MAX_INCLUDE_DEPTH} levels deep (a cycle?); fix it")
    target = (path.parent / str(inc)).resolve()
    if not target.is_file():
        raise UsageError(f"task card {path} includes {inc}, which is not a file next to it; fix the include: path")
    return _merge(expand_card(target, depth + 1), raw)


def parse_card(path: Path, home: Path = TASKS_DIR) -> TaskCard | GroupCard:
    """One card file -> its card, includes expanded; reads nothing but the YAML files."""
    raw = expand_card(path)
    if "tasks" in raw:
        agg = raw.get("aggregate", [])
        agg = [agg] if isinstance(agg, str) else agg
        if not (isinstance(agg, list) and all(isinstance(a, str) for a in agg)):
            raise UsageError(f"group card {path}: aggregate must name group summarizers (a name or a list of "
                             "names, e.g. `aggregate: [self_correction]`); fix it")
        return GroupCard(raw["name"], raw.get("description", ""), tuple(raw["tasks"]), tuple(agg))
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise UsageError(f"task card {path} lacks {', '.join(missing)}; add them (see docs/extending.md)")
    known = {f for f in TaskCard.__dataclass_fields__ if f not in ("extra", "home")}
    kw = {k: v for k, v in raw.items() if k in known}
    kw["metrics"] = tuple(kw.get("metrics", ()))
    return TaskCard(**kw, extra={k: v for k, v in raw.items() if k not in known}, home=home)


@lru_cache(maxsize=None)
def _catalog(roots: tuple[Path, ...]) -> dict[str, TaskCard | GroupCard]:
    cards: dict[str, TaskCard | GroupCard] = {}
    where: dict[str, Path] = {}
    for root in roots:
        for path in sorted(root.rglob("*.yaml")):
            if path.name.startswith("_") or "__pycache__" in path.parts:
                continue
            card = parse_card(path, root)
            if card.name in cards:
                raise UsageError(f"task {card.name!r} is defined twice ({where[card.name]} and {path}); rename one")
            cards[card.name], where[card.name] = card, path
    return cards


def catalog() -> dict[str, TaskCard | GroupCard]:
    """Every card shipped with the package or found under $EVALSUITE_TASKS_PATH, by name (parsed once per path)."""
    return _catalog(search_path())


def resolve_tasks(names: list[str] | str) -> list[TaskCard]:
    """Expand task and group names into task cards, in order, without duplicates."""
    if isinstance(names, str):
        names = [n for n in names.split(",")]
    cards = catalog()
    out: list[TaskCard] = []
    for name in (n.strip() for n in names):
        if not name:
            continue
        if name not in cards:
            raise UsageError(f"unknown task {name!r}; run `evalsuite tasks` to list them")
        card = cards[name]
        subs = [cards[t] for t in card.tasks] if isinstance(card, GroupCard) else [card]
        out.extend(c for c in subs if c not in out)
    if not out:
        raise UsageError("no task given; pass --tasks NAME[,NAME...] (see `evalsuite tasks`)")
    return out
