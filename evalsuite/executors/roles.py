"""A run's executors: the main model's and one per model role, every role run by the same executor kind and
settings (`local` or `ray`) and keyed in the one sample store by its own model identity.

A role's backend is built when the run starts (so its identity is known and a bad path fails before any model
call) but its executor, and so its model, is made on first use: a role with no request in a run is never loaded.
A role given as `self` is the main model (same executor, same store keys)."""
from __future__ import annotations

from typing import Any, Callable, Mapping

from evalsuite.backends.base import Backend, load_backend
from evalsuite.errors import UsageError
from evalsuite.executors.base import Executor, Identity
from evalsuite.executors.local import LocalExecutor
from evalsuite.roles import SELF, RoleModel

Build = Callable[[Backend], Executor]
"""Makes a role's executor from its (unloaded) backend, with the run's executor kind and settings."""


def role_backends(roles: Mapping[str, RoleModel], threads: int | None = None) -> dict[str, Backend]:
    """Build (not load) the backend of every role that is not the main model; `--threads` applies to those that
    run torch on this CPU."""
    out: dict[str, Backend] = {}
    for name, model in roles.items():
        if model.spec == SELF:
            continue
        backend = load_backend(model.spec, model.args)  # type: ignore[arg-type]  (`embedded` is the embedded model)
        if threads is not None and backend.threads is not None:
            backend.set_threads(threads, "--threads")
        out[name] = backend
    return out


_UNKNOWN = object()


class RoleExecutors:
    """The main executor and the roles' executors, each role's made on first use by `build`.

    Given the main model's backend options (`main_args`), a role whose model has the main model's identity and
    the same options runs on the main executor: the same model is not loaded twice (its replies are the same)."""

    def __init__(self, main: Executor, roles: Mapping[str, RoleModel] | None = None,
                 backends: Mapping[str, Backend] | None = None, build: Build | None = None,
                 main_args: Any = _UNKNOWN):
        self.main = main
        self.roles = dict(roles or {})
        self.backends = dict(backends or {})
        self.build = build
        self.main_args = main_args
        self.made: dict[str, Executor] = {}
        missing = [n for n, m in self.roles.items() if m.spec != SELF and n not in self.backends]
        if missing:
            raise ValueError(f"no backend for role(s) {', '.join(missing)}")

    def has(self, role: str) -> bool:
        """Whether the run gives `role` a model."""
        return role in self.roles

    def _check(self, role: str) -> None:
        if role not in self.roles:
            given = ", ".join(sorted(self.roles)) or "none"
            raise UsageError(f"a request asks the {role!r} role and the run gives it no model (roles: {given}); "
                             f"declare it in the protocol's `roles` and add --role {role}=SPEC")

    def executor(self, role: str | None) -> Executor:
        """The executor of `role` (None: the main model's); a role's is made now if this is its first use."""
        if role is None:
            return self.main
        self._check(role)
        if self.roles[role].spec == SELF or self._is_main(role):
            return self.main
        if role not in self.made:
            if self.build is None:
                self.made[role] = LocalExecutor(self.backends[role])
            else:
                self.made[role] = self.build(self.backends[role])
        return self.made[role]

    def _is_main(self, role: str) -> bool:
        """Whether `role`'s model is the main model: the same identity and the same backend options."""
        if self.main_args is _UNKNOWN:
            return False
        same_args = (self.roles[role].args or None) == (self.main_args or None)
        return same_args and self.identity(role) == self.main.identity

    def identity(self, role: str | None) -> Identity:
        """What the store keys `role`'s requests on (its backend's identity; the main one for None and `self`)."""
        if role is None:
            return self.main.identity
        self._check(role)
        backend = self.backends.get(role)
        return self.main.identity if backend is None else Identity(backend.name, backend.model_id, backend.revision)

    def identities(self) -> dict[str, dict[str, Any]]:
        """results.json's record of each role: its spec and the identity its replies are stored under."""
        out = {}
        for name, model in sorted(self.roles.items()):
            ident = self.identity(name)
            out[name] = {**model.to_dict(), "backend": ident.backend, "model_id": ident.model_id,
                         "revision": ident.revision}
        return out

    def describe(self) -> dict[str, Any]:
        """The main executor's description, plus each role executor that ran (results.json's `execution`)."""
        d = self.main.describe()
        if self.made:
            d = {**d, "roles": {name: ex.describe() for name, ex in sorted(self.made.items())}}
        return d

    def close(self) -> None:
        """Close every role executor made and release every role backend, then close the main executor."""
        try:
            for ex in self.made.values():
                ex.close()
            for backend in self.backends.values():
                backend.close()
        finally:
            self.main.close()
