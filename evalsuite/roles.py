"""Model roles: the named second models a protocol asks (`observer`, `critic`, `arguer`, `judge`).

A protocol declares the roles it needs (`Protocol.roles`), a request names the role that answers it
(`Request.role`; None is the run's main model), and a run gives each role a model (`--role NAME=SPEC`,
`--role-args NAME=K=V,...`, or `evaluate(roles=..., role_args=...)`). This module holds the contract and the checks
at the edge; the executors of a run's roles are in `executors/roles.py`. It imports nothing but errors, so every
layer may use it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from evalsuite.backends.base import split_model_spec
from evalsuite.errors import UsageError

SELF = "self"
"""A role's spec meaning the run's main model (its requests use the main model's executor and store key)."""
EMBEDDED = "embedded"
"""A role's spec meaning the embedded default model (what the run uses when `--model` is omitted)."""
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Role:
    """A model role a protocol declares: `default` SELF makes it the main model unless given; `optional` means the
    protocol runs without it (a stage it adds when given); otherwise a run without it is refused before any model
    call. `alias` names a run option that also sets it (`observer_model` for `--observer-model`)."""

    name: str
    default: str | None = None
    optional: bool = False
    alias: str | None = None
    help: str = ""


@dataclass(frozen=True)
class RoleModel:
    """The model a run gives a role: a backend spec (`hf:PATH`, `mock:NAME`, SELF or EMBEDDED) and its options."""

    spec: str
    args: str | Mapping[str, Any] | None = None
    flag: str = ""
    """How the user gave it (`--role critic`, `--observer-model`), for error messages."""

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "args": dict(self.args) if isinstance(self.args, Mapping) else self.args}


def declared(roles: Iterable["Role | str"]) -> dict[str, Role]:
    """A protocol's `roles` by name (a bare name is a required role with no default)."""
    return {r.name: r for r in (Role(r) if isinstance(r, str) else r for r in roles)}


def role_flag(name: str) -> str:
    return f"--role {name}"


def parse_role_specs(items: Sequence[str] | Mapping[str, str] | None, what: str = "--role") -> dict[str, str]:
    """`["critic=hf:PATH", ...]` (the CLI's repeated `--role`) or a dict -> {role: spec}, names checked."""
    if isinstance(items, Mapping):
        pairs = list(items.items())
    else:
        pairs = []
        for item in items or ():
            name, sep, value = str(item).partition("=")
            if not sep or not value.strip():
                example = "critic=hf:PATH" if what == "--role" else "critic=batch_size=4"
                raise UsageError(f"{what} {item!r} is not NAME=VALUE; write e.g. {what} {example}")
            pairs.append((name.strip(), value.strip()))
    out: dict[str, str] = {}
    for name, value in pairs:
        if not _NAME.match(name):
            raise UsageError(f"{what}: role name {name!r} must be lowercase letters, digits and _ (e.g. critic)")
        if name in out and out[name] != value:
            raise UsageError(f"{what} {name} is given twice ({out[name]!r} and {value!r}); give it once")
        out[name] = value
    return out


def check_role_spec(name: str, spec: str, flag: str) -> None:
    """A role's spec names a known backend, SELF or EMBEDDED (checked before any model is built)."""
    if spec in (SELF, EMBEDDED):
        return
    try:
        split_model_spec(spec)
    except UsageError as e:
        raise UsageError(f"{flag}: {e}; or {SELF} for the run's own model") from None


def resolve(needed: Mapping[str, Sequence[Role]], given: Mapping[str, RoleModel],
            declaring: Mapping[str, Sequence[str]]) -> dict[str, RoleModel]:
    """The roles a run uses: every role its protocols need (given, else its SELF default; a required role missing is
    refused), and nothing given that none of them declares. `needed`: protocol name -> its declared roles;
    `declaring`: role name -> every registered protocol that declares it (for the refusal's hint)."""
    out: dict[str, RoleModel] = {}
    wanted = {r.name for roles in needed.values() for r in roles}
    for name, model in given.items():
        if name not in wanted:
            flag = model.flag or role_flag(name)
            where = declaring.get(name, ())
            if where:
                hint = f"add --protocol {where[0]} (or a task whose protocol it is), or drop {flag}"
                raise UsageError(f"{flag} applies to {', '.join(where)} runs only; {hint}")
            raise UsageError(f"{flag}: no protocol of this run asks a {name!r} role; drop it (the protocols declare "
                             f"their roles in `Protocol.roles`)")
        out[name] = model
    for proto, roles in needed.items():
        for r in roles:
            if r.name in out or r.optional:
                continue
            if r.default is not None:
                out[r.name] = RoleModel(r.default, flag=role_flag(r.name))
                continue
            raise UsageError(f"protocol {proto} needs a model for its {r.name!r} role; add --role {r.name}=SPEC "
                             f"(e.g. --role {r.name}=hf:PATH, or --role {r.name}={SELF} for the run's own model)")
    return out
