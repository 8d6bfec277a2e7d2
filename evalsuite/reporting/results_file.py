"""The results.json schema, one dataclass written by both a run (`evaluate`) and `evalsuite rescore`, and the
output-dir check and provenance (package versions, git hash) both record."""
from __future__ import annotations

import datetime as _dt
import importlib.metadata
import platform
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from evalsuite.errors import UsageError
from evalsuite.reporting import outputs

PACKAGES = ("evalsuite", "torch", "transformers", "datasets", "numpy", "math-verify", "vllm", "lm_eval")
"""Packages whose installed versions results.json records (those not installed are left out)."""

RUN_FILES = ("results.json", "samples.jsonl", "results.csv", "report.html", "samples.sqlite")
"""The files a run writes into its output dir."""


def versions(packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Python's version and every installed one of `packages`."""
    out = {"python": platform.python_version()}
    for pkg in packages:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def git_hash() -> str | None:
    """The checkout's commit (`-dirty` with uncommitted tracked changes); None outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return head.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def prepare_output_dir(path: Path) -> None:
    """Create `path` and check that a run can write its files there; a clear UsageError otherwise."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path) as probe:  # a unique name: a concurrent run probes its own file
            probe.write(b"ok")
    except OSError as e:
        raise UsageError(f"output dir {path} cannot be written ({e.strerror or e}); choose another --output-dir") from e
    for name in RUN_FILES:
        if (path / name).exists() and not (path / name).is_file():
            raise UsageError(f"{path / name} is not a file, so the run could not write it; move it aside or choose "
                             "another --output-dir")


@dataclass
class ResultsFile:
    """results.json: who produced it (model, versions, git hash, when), how (config, run counts, execution), and per
    task (and task group) its metric rows, extras and plots. Optional parts left None are not written."""

    model: dict[str, Any]
    config: dict[str, Any]
    tasks: dict[str, dict[str, Any]]
    versions: dict[str, str] = field(default_factory=versions)
    git_hash: str | None = None
    created: str = field(default_factory=now)
    run: dict[str, Any] | None = None
    """Counts and timings of a run (generated, from the store, tokens/s, wall seconds); None for a rescore."""
    execution: dict[str, Any] | None = None
    partial: bool | None = None
    """True while a run goes on (rewritten after each round), False when done; None for a rescore."""
    rounds_done: int | None = None
    groups: dict[str, dict[str, Any]] | None = None
    glossary: dict[str, Any] | None = None
    """What the report shows about each metric and variant of the rows (reporting/glossary.py)."""

    ORDER = ("model", "versions", "git_hash", "created", "run", "execution", "partial", "config", "tasks",
             "rounds_done", "groups", "glossary")

    def header(self) -> dict[str, Any]:
        """The run info a run returns: everything before `partial`."""
        d = self.to_dict()
        return {k: d[k] for k in self.ORDER[:6] if k in d}

    def to_dict(self) -> dict[str, Any]:
        optional = ("git_hash", "run", "execution", "partial", "rounds_done", "groups", "glossary")
        return {k: getattr(self, k) for k in self.ORDER if getattr(self, k) is not None or k not in optional}

    def write(self, path: Path) -> None:
        outputs.write_results_json(path, self.to_dict())


def glossary_of(rows: Iterable[Any]) -> dict[str, Any]:
    """The results.json glossary of these metric rows (from the metrics the writing code registers)."""
    from evalsuite.reporting.glossary import Glossary

    return Glossary.of(r.metric for r in rows).to_dict()


def task_results(rows: list[Any], extras: dict[str, Any], **entry: Any) -> dict[str, Any]:
    """One task's (or group's) entry: what the caller records about it, then its metric rows, extras and the plot
    specs its summarizers returned (`extras["plots"]`, from summarize(), moved to `plots`)."""
    extras = dict(extras)
    plots = extras.pop("plots", [])
    return {**entry, "metrics": [r.to_dict() for r in rows], "extras": extras, "plots": plots}
