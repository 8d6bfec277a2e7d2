"""Cards whose records each become several docs (a question with four model solutions -> four critique docs).

A card opts in with `data.expand: "package.module:function"`; the function takes (record, index) and returns
the list of records that replace it, in order. `--limit N` then counts the expanded docs.
"""
from __future__ import annotations

from typing import Any, Callable

from evalsuite.errors import UsageError
from evalsuite.tasks.card_code import resolve
from evalsuite.tasks.cards import TaskCard

Expander = Callable[[dict[str, Any], int], list[dict[str, Any]]]


def card_function(card: TaskCard, key: str) -> Callable[..., Any] | None:
    """The function a card names under `data.<key>` (expand, prepare) as `package.module:function` or
    `!function module.function` beside the card, or None."""
    ref = card.data.get(key)
    return resolve(ref, card.name, f"data.{key}") if ref else None


def expander(card: TaskCard) -> Expander | None:
    """The card's expand function, or None when it has none."""
    return card_function(card, "expand")


def expand_records(card: TaskCard, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every record replaced by what the card's expand function makes of it (unchanged without one)."""
    fn = expander(card)
    if fn is None:
        return records
    out: list[dict[str, Any]] = []
    for i, rec in enumerate(records):
        try:
            out.extend(fn(rec, i))
        except (KeyError, ValueError, TypeError) as e:
            raise UsageError(f"task {card.name} record {i} cannot be expanded ({type(e).__name__}: {e}); "
                             "check the data files") from e
    return out
