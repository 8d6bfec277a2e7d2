"""Checks at the edge of a run: settings that cannot work are refused before any model is loaded or called.

A protocol that reads a doc field (e.g. contamination's membership labels) says so in `needs_doc_fields`; the check
looks at the docs actually loaded, so a user's own data with those fields passes and a task without them does not."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from evalsuite.errors import UsageError
from evalsuite.options import RunOptions
from evalsuite.registry import PROTOCOLS
from evalsuite.roles import SELF, RoleModel, check_role_spec, declared, parse_role_specs, resolve, role_flag


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


def check_plans(plans: Sequence[Any], options: RunOptions | Mapping[str, Any],
                roles: Mapping[str, RoleModel] | None = None) -> dict[str, RoleModel]:
    """Every protocol fits its task's docs and gets the model roles it needs; return the run's roles. `roles` are
    the ones given (`given_roles`; None: only those the options' aliases give, e.g. `--observer-model`)."""
    options = RunOptions.parse(options)
    for p in plans:
        needs: Mapping[str, str] = p.protocol.needs_doc_fields
        for field, what in needs.items():
            if not any(d.fields.get(field) is not None for d in p.docs):
                name = p.protocol.registry_name
                raise UsageError(f"protocol {name} needs docs with {what} (field {field!r}) and task {p.card.name} "
                                 f"has none; run it on tasks that have them (e.g. rl_mia, see `evalsuite tasks`) "
                                 f"or choose another --protocol than {name}")
    given = given_roles(options=options) if roles is None else roles
    needed = {p.protocol.registry_name: list(declared(p.protocol.roles).values()) for p in plans}
    return resolve(needed, given, _declaring())


def _declaring() -> dict[str, list[str]]:
    """Role name -> the registered protocols that declare it."""
    out: dict[str, list[str]] = {}
    for name, cls in sorted(PROTOCOLS.items()):
        for role in declared(getattr(cls, "roles", ())):
            out.setdefault(role, []).append(name)
    return out


def role_aliases() -> dict[str, str]:
    """Run option -> the role it is an alias of (`observer_model` -> `observer`), from the protocols' roles."""
    return {r.alias: r.name for cls in PROTOCOLS.values() for r in declared(getattr(cls, "roles", ())).values()
            if r.alias}


def given_roles(roles: Sequence[str] | Mapping[str, str] | None = None,
                role_args: Sequence[str] | Mapping[str, Any] | None = None,
                options: RunOptions | Mapping[str, Any] | None = None) -> dict[str, RoleModel]:
    """The roles a run gives, from `--role NAME=SPEC`, `--role-args NAME=K=V,...` and the options that are aliases of
    a role (`--observer-model SPEC`, `--observer-model-args`); each spec and its batch size checked."""
    specs = parse_role_specs(roles, "--role")
    args = parse_role_specs(role_args, "--role-args") if not _is_arg_dicts(role_args) else dict(role_args)
    flags = {name: role_flag(name) for name in specs}
    arg_flags = {name: f"--role-args {name}" for name in args}
    given = RunOptions.parse(options).given if options is not None else {}
    for option, name in role_aliases().items():
        if given.get(option) is None:
            continue
        flag = "--" + option.replace("_", "-")
        if name in specs and specs[name] != given[option]:
            raise UsageError(f"{flag} {given[option]!r} and --role {name}={specs[name]} name two models for one "
                             f"role; give only one of them")
        specs[name], flags[name] = str(given[option]), flag
        if given.get(option + "_args") is not None:
            args[name], arg_flags[name] = given[option + "_args"], flag + "-args"
    out = {}
    for name, spec in specs.items():
        check_role_spec(name, spec, flags[name])
        if name in args:
            if spec == SELF:
                raise UsageError(f"{arg_flags[name]}: the {name} role is the run's own model ({SELF}), which "
                                 "--model-args configures; drop the role's args or give it a model of its own")
            check_model_args(args[name], arg_flags[name])
        out[name] = RoleModel(spec, args.get(name), flags[name])
    for name in args.keys() - specs.keys():
        raise UsageError(f"{arg_flags[name]} needs a model for the {name} role; add --role {name}=SPEC")
    return out


def _is_arg_dicts(role_args: Any) -> bool:
    """`evaluate(role_args={"critic": {"batch_size": 4}})`: each role's args already a dict."""
    return isinstance(role_args, Mapping) and all(isinstance(v, Mapping) for v in role_args.values())
