"""Typed run options: a protocol (or a stage: tasks, code execution, a summary) declares its `evalsuite run` flags
as one frozen dataclass, registered with `@run_options(group)`. The CLI and `evaluate()` parse the user's values
into every registered class once (`RunOptions.parse`), so a bad value is refused before any model is loaded, and
protocols and summaries read typed fields, never a dict of strings.

Declaring options imports nothing heavy: `evalsuite run --help` lists each class's flags under its group."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, TypeVar

from evalsuite.errors import UsageError
from evalsuite.registry import RUN_OPTION_CLASSES, RUN_OPTION_GROUPS, RUN_OPTIONS, load_plugins

O = TypeVar("O", bound="Options")


def flag(default: Any, help: str, parse: Callable[[Any], Any] | None = None, protocol: str | None = None,
         **argparse_kwargs: Any) -> Any:
    """A dataclass field that is also the `evalsuite run` flag `--<field-name-with-dashes>`.

    `parse` turns a given value (a string from the CLI, any value from `evaluate(options=...)`) into the field's
    type; `protocol` names the protocol the flag implies (given alone, it selects it; with another, it is refused);
    `argparse_kwargs` (metavar, choices, action, type) shape the flag in `--help`."""
    return field(default=default, metadata={"help": help, "parse": parse, "protocol": protocol,
                                            "argparse": argparse_kwargs})


def implied_protocols(given: Mapping[str, Any]) -> dict[str, str]:
    """{flag: protocol} for each given option whose flag implies a protocol (`flag(..., protocol=NAME)`)."""
    out = {}
    for cls in RUN_OPTION_CLASSES:
        for f in dataclasses.fields(cls):
            if f.metadata.get("protocol") and given.get(f.name) is not None:
                out[cls.flag_name(f.name)] = f.metadata["protocol"]
    return out


@dataclass(frozen=True)
class Options:
    """Base of every options class; `check` refuses values that cannot work (raise UsageError naming the flag)."""

    group: ClassVar[str] = ""

    def check(self) -> None:
        """Validate field values together (called once, after parsing)."""

    @classmethod
    def flag_name(cls, name: str) -> str:
        return "--" + name.replace("_", "-")

    @classmethod
    def from_values(cls: type[O], values: Mapping[str, Any]) -> O:
        """This class's fields from `values` (option name -> value; None or absent keeps the default)."""
        kw = {}
        for f in dataclasses.fields(cls):
            value = values.get(f.name)
            if value is None:
                continue
            parse = f.metadata.get("parse")
            try:
                kw[f.name] = parse(value) if parse else value
            except (TypeError, ValueError):
                raise UsageError(f"{cls.flag_name(f.name)} {value!r} is not a valid value; see "
                                 "`evalsuite run --help`") from None
        opts = cls(**kw)
        opts.check()
        return opts


def run_options(group: str) -> Callable[[type[O]], type[O]]:
    """Register an options class: its fields become `evalsuite run` flags under the heading `group` (a field an
    earlier class already declared, e.g. one a subclass inherits, keeps its first heading)."""

    def deco(cls: type[O]) -> type[O]:
        cls.group = group
        RUN_OPTION_CLASSES.append(cls)
        for f in dataclasses.fields(cls):
            name = cls.flag_name(f.name)
            if name in RUN_OPTIONS:
                continue
            kw = {"help": f.metadata.get("help", ""), **f.metadata.get("argparse", {})}
            RUN_OPTIONS[name] = kw
            RUN_OPTION_GROUPS[name] = group
        return cls

    return deco


def option_names() -> set[str]:
    """Every declared option name (flag without dashes, `-` as `_`)."""
    return {flag[2:].replace("-", "_") for flag in RUN_OPTIONS}


@dataclass(frozen=True)
class RunOptions:
    """A run's options: the values as given (recorded in results.json) and one parsed instance per class."""

    given: Mapping[str, Any] = field(default_factory=dict)
    parsed: Mapping[type, Options] = field(default_factory=dict)

    @classmethod
    def parse(cls, values: "Mapping[str, Any] | RunOptions | None") -> "RunOptions":
        """Parse and check every registered options class from `values`; an unknown option is refused."""
        if isinstance(values, RunOptions):
            return values
        load_plugins()
        given = {k: v for k, v in (values or {}).items() if v is not None}
        unknown = sorted(set(given) - option_names())
        if unknown:
            known = ", ".join(sorted(option_names()))
            raise UsageError(f"unknown run option(s) {', '.join(unknown)}; known options: {known}")
        return cls(given, {c: c.from_values(given) for c in RUN_OPTION_CLASSES})

    def of(self, cls: type[O]) -> O:
        """The parsed options of `cls` (its defaults when the run was built without them, e.g. in a unit test)."""
        got = self.parsed.get(cls)
        return got if got is not None else cls.from_values(self.given)  # type: ignore[return-value]

    def __bool__(self) -> bool:
        return bool(self.given)


@dataclass(frozen=True)
class NoOptions(Options):
    """A protocol without options of its own."""


@run_options("tasks and data")
@dataclass(frozen=True)
class TaskOptions(Options):
    """How many docs of each task run."""

    full: bool = flag(False, "run every doc of tasks whose card keeps only the first N by default (e.g. "
                      "correctbench's 100)", parse=bool, action="store_true")


def _seconds(value: object) -> float:
    seconds = float(value)  # type: ignore[arg-type]
    if not seconds >= 0:
        raise UsageError(f"--live-every must be a number of seconds >= 0, got {value!r}")
    return seconds


@run_options("output")
@dataclass(frozen=True)
class LiveOptions(Options):
    """How often the partial outputs of a running run are rewritten."""

    live_every: float = flag(30.0, "rewrite the partial outputs (results.json, samples.jsonl, results.csv, "
                             "report.html) after a round at most every SECONDS while the run goes on (default 30; 0: "
                             "after every round)", parse=_seconds, metavar="SECONDS")
