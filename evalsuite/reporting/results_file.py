"""Writing results.json (the typed `evalsuite.results.Results` that a run, `evalsuite rescore` and `evalsuite
upgrade` build), the output-dir check, and the provenance (package versions, git hash) they record."""
from __future__ import annotations

import datetime as _dt
import importlib.metadata
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable

from evalsuite.errors import UsageError
from evalsuite.reporting import outputs
from evalsuite.reporting.glossary import Glossary
from evalsuite.results import Results

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


def write_results(path: Path, results: Results) -> None:
    """Write results.json (NaN as null, atomically) from the typed results every writer builds."""
    outputs.write_results_json(path, results.to_dict())


def glossary_of(rows: Iterable[Any]) -> dict[str, Any]:
    """The results.json glossary of these metric rows (from the metrics the writing code registers)."""
    return Glossary.of(r.metric for r in rows).to_dict()
