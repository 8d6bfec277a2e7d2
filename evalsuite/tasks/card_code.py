"""Python a task card names: a scorer or data hook as `!function utils.name` (from `utils.py` in the folder of the
YAML file that says it, as lm-eval's cards do) or as `package.module:name` (anything importable).

A card's code is imported when its task is built, never when the catalog is listed, so `evalsuite tasks` does not
run a folder's Python.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evalsuite.errors import UsageError
from evalsuite.registry import SCORERS, declared_classes, lookup

TAG = "!function"


@dataclass(frozen=True)
class FunctionRef:
    """`!function utils.score` in a card: attribute `score` of `utils.py` beside the card file that wrote it."""

    module: str
    attr: str
    folder: Path

    def __str__(self) -> str:
        return f"{self.module}.{self.attr}"

    @property
    def file(self) -> Path:
        """The `.py` file the reference names, in the card's folder."""
        return self.folder / f"{self.module.replace('.', '/')}.py"

    def load(self) -> Any:
        file = self.file
        if not file.is_file():
            raise UsageError(f"{TAG} {self} names {file}, which does not exist; put {self.module}.py beside the card")
        shipped = _package_module(file)
        if shipped is not None:  # a shipped benchmark's code: the module other code imports and the registry holds
            module = importlib.import_module(shipped)
        else:
            module = _load_file(file)
        if not hasattr(module, self.attr):
            raise UsageError(f"{file} has no {self.attr!r}, which a card names as {TAG} {self}; define it there")
        return getattr(module, self.attr)


_PACKAGE = Path(__file__).resolve().parents[1]


def _package_module(file: Path) -> str | None:
    """`evalsuite.tasks.gsm8k.utils` for a file of the evalsuite package (a shipped task folder's code, imported
    under its own name so its classes are the ones `import` gives); None for a file elsewhere."""
    try:
        rel = file.resolve().relative_to(_PACKAGE)
    except ValueError:
        return None
    return ".".join(("evalsuite", *rel.with_suffix("").parts))


def _load_file(file: Path) -> Any:
    """The module of a `.py` file beside an out-of-tree card, imported once under a name derived from its path."""
    name = f"evalsuite_card_code_{hashlib.sha256(str(file).encode()).hexdigest()[:12]}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            del sys.modules[name]
            raise UsageError(f"{file} cannot be imported ({type(e).__name__}: {e}); fix it") from None
    return module


def card_loader(path: Path) -> type[yaml.SafeLoader]:
    """A safe YAML loader for the card at `path` that reads `!function module.attr` relative to its folder."""

    class Loader(yaml.SafeLoader):
        pass

    def function(loader: yaml.SafeLoader, node: yaml.Node) -> FunctionRef:
        text = str(loader.construct_scalar(node)).strip()
        module, dot, attr = text.rpartition(".")
        if not dot or not module or not attr.isidentifier():
            raise yaml.constructor.ConstructorError(None, None, f"{TAG} needs module.name, got {text!r}",
                                                    node.start_mark)
        return FunctionRef(module, attr, path.parent.resolve())

    Loader.add_constructor(TAG, function)
    return Loader


def resolve(ref: Any, card_name: str, what: str) -> Any:
    """The object a card names under `what`: a FunctionRef's attribute, or `package.module:name` imported."""
    if isinstance(ref, FunctionRef):
        return ref.load()
    module, _, name = str(ref).partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as e:
        raise UsageError(f"task card {card_name} names {what} {ref!r}, which cannot be imported ({e}); write it "
                         f"as package.module:function or {TAG} module.function (a .py beside the card)") from None


def scorer_class(card: Any) -> type:
    """The class that scores a card's task: a registered scorer name, or a Scorer subclass the card names."""
    from evalsuite.scoring.base import Scorer  # local: scoring loads numpy, which `evalsuite tasks` must not

    if not isinstance(card.scorer, FunctionRef):
        return lookup(SCORERS, "scorer", card.scorer)
    cls = card.scorer.load()
    if not (isinstance(cls, type) and issubclass(cls, Scorer)):
        raise UsageError(f"task {card.name}: scorer {TAG} {card.scorer} is not a subclass of "
                         "evalsuite.scoring.base.Scorer; see docs/extending.md")
    return cls


def build_scorer(card: Any) -> Any:
    """The scorer instance of a card's task (built from the card, for declarative scorers such as `regex`)."""
    return scorer_class(card).for_card(card)


def scorer_label(ref: Any) -> str:
    """How `evalsuite tasks` names a card's scorer: a `!function` class registered with `@scorer("name")` by its
    registered name (read from its file's source, so listing runs no task code), anything else as the card says."""
    if isinstance(ref, FunctionRef):
        try:
            source = ref.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return str(ref)
        return declared_classes(source, "scorer").get(ref.attr, str(ref))
    return str(ref)
