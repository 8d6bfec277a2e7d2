"""Checks at the edge of a run: settings that cannot work are refused before any model is loaded or called.

A protocol that reads a doc field (e.g. contamination's membership labels) says so in `needs_doc_fields`; the check
looks at the docs actually loaded, so a user's own data with those fields passes and a task without them does not."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from evalsuite.errors import UsageError
from evalsuite.protocols.options import RunOptions


def _model_arg(model_args: str | Mapping[str, Any] | None, key: str) -> Any:
    if isinstance(model_args, Mapping):
        return model_args.get(key)
    found = None
    for part in (model_args or "").split(","):
        k, sep, v = part.partition("=")
        if sep and k.strip() == key:
            found = v.strip()
    return found


def check_model_args(model_args: str | Mapping[str, Any] | None, flag: str = "--model-args") -> None:
    """A batch size must be a positive count; zero or less would send nothing or loop forever."""
    raw = _model_arg(model_args, "batch_size")
    try:
        size = int(raw) if raw is not None and not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        return  # not a number: the backend's own parser names the type it wants
    if size is not None and size <= 0:
        raise UsageError(f"{flag} batch_size must be a positive number of requests per batch, got {raw}; "
                         "omit it for the backend's default")


def check_sampling(temperature: float, top_p: float) -> None:
    """NaN or infinite sampling settings slip past range checks (`nan < 0` is false), so refuse them by name."""
    for flag, v in (("--temperature", temperature), ("--top-p", top_p)):
        if not math.isfinite(v):
            raise UsageError(f"{flag} must be a finite number, got {v}")


def check_plans(plans: Sequence[Any], options: RunOptions | Mapping[str, Any]) -> None:
    """Every protocol fits its task's docs, and stage options have a task to act on."""
    options = RunOptions.parse(options)
    for p in plans:
        needs: Mapping[str, str] = p.protocol.needs_doc_fields
        for field, what in needs.items():
            if not any(d.fields.get(field) is not None for d in p.docs):
                name = p.protocol.registry_name
                raise UsageError(f"protocol {name} needs docs with {what} (field {field!r}) and task {p.card.name} "
                                 f"has none; run it on tasks that have them (e.g. rl_mia, see `evalsuite tasks`) "
                                 f"or choose another --protocol than {name}")
    from evalsuite.protocols.self_predict import SelfPredictOptions

    observer = options.of(SelfPredictOptions)
    if observer.observer_model:
        if not any(p.protocol.observer() is not None for p in plans):
            raise UsageError("--observer-model applies to self_predict runs only; add --tasks self_predict or "
                             "--protocol self_predict, or drop --observer-model")
        check_model_args(observer.observer_model_args, "--observer-model-args")
        spec = observer.observer_model
        if spec != "embedded":
            from evalsuite.backends.base import split_model_spec

            try:
                split_model_spec(spec)
            except UsageError as e:
                raise UsageError(f"--observer-model: {e}") from None

