"""`RunConfig`: a run's settings as one frozen, typed record (tasks, the model and its roles, generation, samples,
rounds, data, executor, protocol options, output). The CLI and `evaluate()` both build it, it is checked once (here,
on construction), written verbatim as results.json's `config` and read back from it (`evalsuite run --config
RUN_DIR/results.json`, or a YAML file with the same keys), so a finished run can be rerun.

Every setting has its one default here (generation defaults are `GenParams`'); the CLI's flag defaults and
`evaluate()`'s keywords come from these fields."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from evalsuite import validate
from evalsuite.backends.base import EMBEDDED_SPECS
from evalsuite.errors import UsageError
from evalsuite.options import RunOptions, TaskOptions, implied_protocols
from evalsuite.records import STATS, GenParams
from evalsuite.registry import PLUGINS_VAR, PROTOCOLS, load_external_plugins, lookup
from evalsuite.roles import EMBEDDED

_GEN = GenParams()
DATA_SOURCES = ("local", "hub")


@dataclass(frozen=True)
class RunConfig:
    """One run's settings; see `evalsuite run --help` for what each does (a field is the flag without `--`)."""

    tasks: tuple[str, ...]
    """Task and group names as given (a group's rows need its name)."""
    model: str | None = None
    """Backend spec (`hf:PATH`, `vllm:ID`, `openai:M@URL`, `mock:NAME`); None: the embedded model."""
    model_args: str | dict | None = None
    limit: int | None = None
    protocol: str | None = None
    """None: each task card's own protocol."""
    max_tokens: int = _GEN.max_tokens
    temperature: float = _GEN.temperature
    top_p: float = _GEN.top_p
    seed: int = _GEN.seed
    samples: int = 1
    rounds: int = 1
    data_source: str = "local"
    token_stats: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)
    """Protocol, metric and stage options as given (`borda_p` for `--borda-p`), parsed into typed `Options`."""
    threads: int | None = None
    """torch CPU threads of the hf backend (results.json records the count the run used)."""
    roles: Mapping[str, str] = field(default_factory=dict)
    """Model role -> backend spec, `self` (the run's model) or `embedded`."""
    role_args: Mapping[str, Any] = field(default_factory=dict)
    data_dir: str | None = None
    executor: str | None = None
    replicas: int | None = None
    ray_address: str | None = None
    replica_env: tuple[str, ...] = ()
    output_dir: str | None = None
    include_path: tuple[str, ...] = ()
    """More task card folders (`--include-path`), recorded as absolute paths."""
    plugins: tuple[str, ...] = ()
    """Plugin modules imported before the config is checked (`--plugins`; its protocols, options, backends)."""

    def __post_init__(self) -> None:
        _normalise(self)
        _check(self)

    @property
    def run_options(self) -> RunOptions:
        """The options parsed into every registered options class (once, on construction)."""
        return self.__dict__["_run_options"]

    @property
    def role_models(self) -> dict[str, Any]:
        """The roles given, as `RoleModel`s (with the flag each came from, for error messages)."""
        return self.__dict__["_role_models"]

    def settings(self) -> Any:
        """The protocols' run-wide `Settings`."""
        from evalsuite.protocols.base import Settings  # local: protocols load jinja2, which `--help` must not

        return Settings(max_tokens=self.max_tokens, temperature=self.temperature, top_p=self.top_p, seed=self.seed,
                        rounds=self.rounds, want=STATS[:3] if self.token_stats else (), options=self.run_options)

    def to_dict(self) -> dict[str, Any]:
        """results.json's `config`: every field as plain JSON (the embedded model written as "embedded")."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d.update(tasks=list(self.tasks), model=self.model or EMBEDDED, options=dict(self.options),
                 roles=dict(self.roles), role_args=dict(self.role_args), replica_env=list(self.replica_env),
                 include_path=list(self.include_path), plugins=list(self.plugins))
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "the config") -> "RunConfig":
        """A config as written by `to_dict` (or by hand, in YAML); an unknown key is refused, naming the known."""
        if not isinstance(d, Mapping):
            raise UsageError(f"{where} is not a mapping of settings (e.g. tasks: [gsm8k]); see `evalsuite run --help`")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise UsageError(f"{where} has unknown key(s) {', '.join(unknown)}; known keys: {', '.join(names)}")
        if "tasks" not in d:
            raise UsageError(f"{where} names no tasks; add tasks: [NAME, ...]")
        _check_types(d, where)
        return cls(**{k: v for k, v in d.items()})

    @classmethod
    def build(cls, base: "RunConfig | None" = None, **given: Any) -> "RunConfig":
        """A config from keyword settings (the fields), over `base` when given (its values for the rest)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(given) - names)
        if unknown:
            raise TypeError(f"unknown run setting(s) {', '.join(unknown)}; RunConfig fields: {', '.join(sorted(names))}")
        if base is None:
            if given.get("tasks") is None:
                raise UsageError("no task given; pass --tasks NAME[,NAME...] (see `evalsuite tasks`)")
            return cls(**given)
        if "options" in given:  # options given over a base add to (or change) the base's
            more = given["options"]
            given["options"] = {**base.options, **(more.given if isinstance(more, RunOptions) else more or {})}
        new = dataclasses.replace(base, **given) if given else base
        if (new.roles, new.role_args) == (base.roles, base.role_args):  # keep the flags the roles came from
            object.__setattr__(new, "_role_models", base.role_models)
        return new


def default(name: str) -> Any:
    """The one default of a setting (for the CLI's flags)."""
    f = next(f for f in fields(RunConfig) if f.name == name)
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def load_config(path: str | Path) -> RunConfig:
    """The config of `path`: a run's results.json (its `config`), a run directory, or a YAML/JSON file of settings."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "results.json"
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        why = getattr(e, "strerror", None) or type(e).__name__
        raise UsageError(f"--config {path}: cannot be read ({why}); give a run's results.json or a YAML file of "
                         "settings") from None
    try:
        if p.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as e:  # json.JSONDecodeError, yaml.YAMLError
        raise UsageError(f"--config {path}: not valid {'JSON' if p.suffix == '.json' else 'YAML'} "
                         f"({' '.join(str(e).split())[:120]})") from None
    if isinstance(data, Mapping) and isinstance(data.get("config"), Mapping):  # a results.json: the one reader
        from evalsuite.rundir import read_results  # local: the results reader loads numpy, which `--help` must not

        data = read_results(p).config
    return RunConfig.from_dict(data, f"--config {path}")


def _normalise(cfg: RunConfig) -> None:
    """One spelling per value: tasks as a tuple of names, paths as strings, `embedded` as None, the protocol an
    option implies (`--confidence`), and the role aliases (`--observer-model`) moved from the options into `roles`."""
    def put(name: str, value: Any) -> None:
        object.__setattr__(cfg, name, value)  # frozen: each value is set once, here

    tasks = cfg.tasks.split(",") if isinstance(cfg.tasks, str) else list(cfg.tasks or ())
    put("tasks", tuple(t.strip() for t in tasks if str(t).strip()))
    put("include_path", tuple(str(Path(p).expanduser().resolve()) for p in cfg.include_path or ()))
    plugins = cfg.plugins.split(",") if isinstance(cfg.plugins, str) else list(cfg.plugins or ())
    put("plugins", tuple(dict.fromkeys(m.strip() for m in plugins if m.strip())))
    _import_plugins(cfg.plugins)
    put("model", None if cfg.model is None or cfg.model in EMBEDDED_SPECS else cfg.model)
    for name in ("data_dir", "output_dir"):
        if isinstance(getattr(cfg, name), Path):
            put(name, str(getattr(cfg, name)))
    options = cfg.options.given if isinstance(cfg.options, RunOptions) else dict(cfg.options or {})
    options = {k: v for k, v in options.items() if v is not None}
    roles = validate.given_roles(cfg.roles or None, cfg.role_args or None, options)
    for alias in _role_aliases():
        options.pop(alias, None)
        options.pop(alias + "_args", None)
    put("roles", {n: m.spec for n, m in roles.items()})
    put("role_args", {n: m.args for n, m in roles.items() if m.args is not None})
    put("options", options)
    put("replica_env", tuple(cfg.replica_env or ()))
    put("_run_options", RunOptions.parse(options))
    put("_role_models", roles)
    implied = set(implied_protocols(options).values())
    if cfg.protocol is None and len(implied) == 1:
        put("protocol", implied.pop())


def _import_plugins(modules: tuple[str, ...]) -> None:
    """Import the config's plugin modules now (as `--plugins` does, also for Ray replicas through the env)."""
    if not modules:
        return
    import os

    old = [m for m in os.environ.get(PLUGINS_VAR, "").split(",") if m]
    os.environ[PLUGINS_VAR] = ",".join(dict.fromkeys([*old, *modules]))
    load_external_plugins()


def _role_aliases() -> list[str]:
    return list(validate.role_aliases())



def _check(cfg: RunConfig) -> None:
    """Refuse settings that cannot work, before any model is loaded (one line naming the flag and the fix)."""
    from evalsuite.executors.factory import check_execution  # local: the executors stay off --help (4 ms)

    if not cfg.tasks:
        raise UsageError("no task given; pass --tasks NAME[,NAME...] (see `evalsuite tasks`)")
    if cfg.limit is not None and cfg.limit <= 0:
        raise UsageError(f"--limit must be a positive number of docs, got {cfg.limit}; omit it to run every doc")
    if cfg.limit is not None and cfg.run_options.of(TaskOptions).full:
        raise UsageError("--full and --limit contradict each other; pass only one of them")
    for name, val in (("--samples", cfg.samples), ("--rounds", cfg.rounds), ("--max-tokens", cfg.max_tokens)):
        if val <= 0:
            raise UsageError(f"{name} must be positive, got {val}")
    validate.check_sampling(cfg.temperature, cfg.top_p)
    if cfg.temperature < 0 or not 0 < cfg.top_p <= 1:
        raise UsageError("--temperature must be >= 0 and --top-p in (0, 1]")
    if cfg.data_source not in DATA_SOURCES:
        raise UsageError(f"--data-source must be local or hub, got {cfg.data_source!r}")
    if cfg.threads is not None and cfg.threads <= 0:
        raise UsageError(f"--threads must be a positive number of CPU threads, got {cfg.threads}")
    for name, proto in implied_protocols(cfg.options).items():
        if cfg.protocol != proto:
            raise UsageError(f"{name} works with --protocol {proto}, not {cfg.protocol}; drop one of the two")
    if cfg.protocol is not None:
        lookup(PROTOCOLS, "protocol", cfg.protocol)
    validate.check_model_args(cfg.model_args)
    check_execution(cfg.executor, cfg.replicas, cfg.ray_address, cfg.replica_env)


_KINDS = {"tasks": (list, tuple, str), "model": (str,), "model_args": (str, dict), "protocol": (str,),
          "data_source": (str,), "options": (dict,), "roles": (dict,), "role_args": (dict,), "data_dir": (str,),
          "executor": (str,), "ray_address": (str,), "replica_env": (list, tuple), "output_dir": (str,),
          "include_path": (list, tuple), "plugins": (list, tuple, str),
          "token_stats": (bool,), "temperature": (int, float), "top_p": (int, float)}
_INTS = ("limit", "max_tokens", "seed", "samples", "rounds", "threads", "replicas")


def _check_types(d: Mapping[str, Any], where: str) -> None:
    """Each value of a read config has its field's type (a hand-written file may say `limit: "3"`)."""
    for k, v in d.items():
        if v is None and k not in ("tasks", "token_stats", "options", "roles", "role_args", "replica_env",
                                   "include_path", "plugins"):
            continue
        ok = (isinstance(v, int) and not isinstance(v, bool)) if k in _INTS else (
            isinstance(v, _KINDS[k]) and not (isinstance(v, bool) and bool not in _KINDS[k]))
        if not ok:
            raise UsageError(f"{where}: {k} is {type(v).__name__} {v!r:.40}, which is not a valid {k}")
