"""Task cards: YAML files that say where a benchmark's data is, how to prompt it and how to score it."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from evalsuite.errors import UsageError

CARD_DIR = Path(str(resources.files("evalsuite.tasks") / "cards"))
DATA_DIR = Path(str(resources.files("evalsuite.tasks") / "data"))


@dataclass(frozen=True)
class TaskCard:
    """One benchmark as data: source files or hub id, prompt templates, answer type, scorer, defaults."""

    name: str
    description: str
    size: int
    answer_type: str
    scorer: str
    protocol: str
    data: dict[str, Any]
    prompts: dict[str, str]
    doc_id: str = "index"
    metrics: tuple[str, ...] = ()
    default_limit: int | None = None
    unavailable: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupCard:
    """A named list of tasks (e.g. `correctbench`)."""

    name: str
    description: str
    tasks: tuple[str, ...]


def _parse(path: Path) -> TaskCard | GroupCard:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise UsageError(f"task card {path} is not valid YAML ({e}); fix or remove it") from e
    if "tasks" in raw:
        return GroupCard(raw["name"], raw.get("description", ""), tuple(raw["tasks"]))
    known = {f for f in TaskCard.__dataclass_fields__ if f != "extra"}
    extra = {k: v for k, v in raw.items() if k not in known}
    kw = {k: v for k, v in raw.items() if k in known}
    kw["metrics"] = tuple(kw.get("metrics", ()))
    if kw.get("data", {}).get("gated") and not kw.get("unavailable"):
        from evalsuite.tasks.gated import hub_access_reason

        kw["unavailable"] = hub_access_reason(kw["data"]["hub"])
    if kw.get("data", {}).get("hub_only") and not kw.get("unavailable"):
        from evalsuite.tasks.hub_only import hub_only_reason

        kw["unavailable"] = hub_only_reason(kw["data"])
    return TaskCard(**kw, extra=extra)


@lru_cache(maxsize=None)
def catalog() -> dict[str, TaskCard | GroupCard]:
    """Every card shipped with the package, by name."""
    cards: dict[str, TaskCard | GroupCard] = {}
    for path in sorted(CARD_DIR.glob("*.yaml")):
        card = _parse(path)
        cards[card.name] = card
    return cards


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
