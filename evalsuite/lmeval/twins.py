"""Which evalsuite tasks get an lm-eval twin, and the single request a twin sends for a doc.

A twin is a task card asked the way its default protocol asks in round 0, so lm-eval and evalsuite send the same
text; for a single-round protocol that is the whole task, for a multi-round one it is the first answer (later
rounds need evalsuite, since lm-eval makes one call per request). Variants in `cards/variants.yaml` add a second twin
per task (verbalized confidence).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from evalsuite.errors import UsageError
from evalsuite.protocols.base import Protocol, Settings
from evalsuite.records import Doc, Kind, Request
from evalsuite.registry import PROTOCOLS, lookup
from evalsuite.tasks.card_code import build_scorer
from evalsuite.tasks.cards import GroupCard, TaskCard, catalog

PREFIX = "evalsuite_"
VARIANTS_FILE = Path(str(resources.files("evalsuite.lmeval") / "cards" / "variants.yaml"))
NETWORK_DATA = ("download", "gated")
"""Card data keys of data fetched from the network: no twin, so `lm-eval-path` stays offline."""
PLAIN_DATA = {"files", "format", "required_fields", "license", "hub"}
"""Card data keys of records used as they are in the files; any other key (expand, prepare, subsets, ...) means
evalsuite's loader transforms them, and the twin loads its docs through that loader."""


@dataclass(frozen=True)
class Variant:
    """Another twin per task: round 0 of another protocol (with options), and the confidence it reports."""

    name: str
    description: str
    protocol: str
    options: dict[str, Any] = field(default_factory=dict)
    confidence: str | None = None


@dataclass(frozen=True)
class Twin:
    """An lm-eval task that mirrors round 0 of `card` under `protocol` (with `options`)."""

    name: str
    card: TaskCard
    protocol: str
    options: dict[str, Any] = field(default_factory=dict)
    variant: str = ""
    confidence: str | None = None

    @property
    def key(self) -> str:
        """The twin's name without the `evalsuite_` prefix (its hook functions are named with it)."""
        return self.name[len(PREFIX):]

    @property
    def unsafe_code(self) -> bool:
        """Code-answer tasks execute model output (in evalsuite's sandbox); lm-eval asks the user to confirm."""
        return self.card.answer_type == "code"


@dataclass(frozen=True)
class Skipped:
    """A task (or task variant) without a twin, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class Plan:
    twins: tuple[Twin, ...]
    skipped: tuple[Skipped, ...]
    groups: dict[str, tuple[str, ...]]


def load_variants(path: Path = VARIANTS_FILE) -> list[Variant]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [Variant(name, v.get("description", ""), v["protocol"], dict(v.get("options") or {}),
                    v.get("confidence")) for name, v in raw.items()]


def _unsupported(card: TaskCard) -> str | None:
    if card.unavailable:
        return f"unavailable: {card.unavailable}"
    if any(card.data.get(k) for k in NETWORK_DATA):
        return "its data is fetched from the network, not shipped with the package"
    if not card.data.get("files"):
        return "it ships no data files"
    if card.protocol not in PROTOCOLS:
        return f"its protocol {card.protocol!r} is not installed"
    return None


@lru_cache(maxsize=1)
def plan() -> Plan:
    """Every candidate twin in the catalog, with the catalog's groups restricted to them."""
    lookup(PROTOCOLS, "protocol", "direct")  # imports the plugins
    cards = catalog()
    twins: list[Twin] = []
    skipped: list[Skipped] = []
    variants = load_variants()
    for card in sorted((c for c in cards.values() if isinstance(c, TaskCard)), key=lambda c: c.name):
        reason = _unsupported(card)
        if reason:
            skipped.append(Skipped(PREFIX + card.name, reason))
            continue
        twins.append(Twin(PREFIX + card.name, card, card.protocol))
        for v in variants:
            name = f"{PREFIX}{card.name}_{v.name}"
            if v.protocol in PROTOCOLS:
                twins.append(Twin(name, card, v.protocol, dict(v.options), v.name, v.confidence))
            else:
                skipped.append(Skipped(name, f"its protocol {v.protocol!r} is not installed"))
    names = {t.name for t in twins}
    clash = names & {PREFIX + n for n, c in cards.items() if isinstance(c, GroupCard)}
    if clash:
        raise UsageError(f"lm-eval twin name(s) {', '.join(sorted(clash))} clash with a group name; rename a card")
    groups = {}
    for gname, g in sorted(cards.items()):
        if isinstance(g, GroupCard):
            members = tuple(PREFIX + t for t in g.tasks if PREFIX + t in names)
            if members:
                groups[PREFIX + gname] = members
    return Plan(tuple(twins), tuple(skipped), groups)


def twin_named(name: str) -> Twin:
    """The twin called `name` (with or without the `evalsuite_` prefix)."""
    full = name if name.startswith(PREFIX) else PREFIX + name
    for t in plan().twins:
        if t.name == full:
            return t
    known = ", ".join(t.name for t in plan().twins)
    raise UsageError(f"no lm-eval twin named {name!r}; choose one of: {known}")


def twin_for_task(task: str) -> Twin:
    """The plain twin of evalsuite task `task`, or the twin named `task` (e.g. `evalsuite_gsm8k_conf`)."""
    for t in plan().twins:
        if (t.card.name == task and not t.variant) or t.name == task:
            return t
    return twin_named(task)


_PROTOCOLS: dict[str, Protocol] = {}


def protocol_of(twin: Twin) -> Protocol:
    if twin.name not in _PROTOCOLS:
        _PROTOCOLS[twin.name] = PROTOCOLS[twin.protocol](twin.card, Settings(options=dict(twin.options)))
    return _PROTOCOLS[twin.name]


@lru_cache(maxsize=64)
def scorer_for(card_name: str):
    card = catalog()[card_name]
    return build_scorer(card)


def plain_files(card: TaskCard) -> bool:
    """Whether the card's docs are its files' records as they are (lm-eval can then read the files itself)."""
    return set(card.data) <= PLAIN_DATA


def make_doc(card: TaskCard, index: int, record: dict[str, Any]) -> Doc:
    """The evalsuite Doc of the `index`-th record of a `plain_files` card, as `load_docs` builds it."""
    if not plain_files(card):
        raise UsageError(f"task {card.name} transforms its records while loading; rescore samples of its "
                         "evalsuite twin, which carry evalsuite's docs")
    missing = [f for f in card.data.get("required_fields", []) if f not in record]
    if missing:
        raise UsageError(f"task {card.name} record {index} lacks field(s) {', '.join(missing)}; check the data files")
    doc_id = str(index) if card.doc_id == "index" else str(record[card.doc_id])
    return Doc(task=card.name, doc_id=doc_id, fields=record, target=scorer_for(card.name).gold(record))


@dataclass(frozen=True)
class Prompt:
    """The one request of a twin for a doc, split the way lm-eval takes it (system text and user text)."""

    text: str
    system: str
    request: Request


def first_request(twin: Twin, doc: Doc) -> Prompt:
    """The twin's request for `doc`; a UsageError when round 0 is not one generated answer lm-eval can send."""
    reqs = protocol_of(twin).first(doc)
    if len(reqs) != 1 or reqs[0].kind != Kind.ANSWER or reqs[0].continuation is not None:
        raise UsageError(f"protocol {twin.protocol!r} opens with {len(reqs)} request(s) per doc, not one "
                         "generated answer")
    req = reqs[0]
    if req.messages is None:
        return Prompt(req.prompt or "", "", req)
    roles = [r for r, _ in req.messages]
    if roles not in (["user"], ["system", "user"]):
        raise UsageError(f"protocol {twin.protocol!r} opens with a {'/'.join(roles)} conversation; lm-eval sends "
                         "a system turn and one user turn")
    return Prompt(req.messages[-1][1], req.messages[0][1] if len(roles) == 2 else "", req)


def single_round(twin: Twin, doc: Doc, prompt: Prompt) -> bool:
    """Whether the protocol stops after the first reply, as it declares (`Protocol.single_round`)."""
    return protocol_of(twin).single_round
