"""Read a run directory back (results.json, samples.jsonl) for reports and leaderboards, with one-line errors."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from evalsuite.errors import UsageError

REQUIRED_KEYS = ("model", "config", "tasks")


@dataclass(frozen=True)
class RunDir:
    """A finished run: its directory and the results.json payload."""

    path: Path
    results: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.resolve().name

    def samples(self) -> Iterator[dict[str, Any]]:
        """samples.jsonl records in file order (none when the file is absent)."""
        f = self.path / "samples.jsonl"
        if not f.is_file():
            return
        with open(f, encoding="utf-8") as fh:
            for i, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as e:
                        raise UsageError(f"{f} line {i} is not JSON ({e.msg}); re-run `evalsuite run` into "
                                         f"{self.path} to rewrite it from the sample store") from None


def load_run(path: str | Path) -> RunDir:
    """Open a directory written by `evalsuite run`; anything else is a UsageError naming what is wrong."""
    p = Path(path)
    if not p.is_dir():
        raise UsageError(f"run dir {p} does not exist; pass a directory written by `evalsuite run`")
    f = p / "results.json"
    if not f.is_file():
        raise UsageError(f"{p} has no results.json; pass a directory written by `evalsuite run`")
    try:
        results = json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{f} is not valid JSON ({e}); re-run `evalsuite run` into {p} to rewrite it") from None
    if not isinstance(results, dict) or any(k not in results for k in REQUIRED_KEYS):
        raise UsageError(f"{f} lacks {', '.join(REQUIRED_KEYS)}; it was not written by `evalsuite run`")
    return RunDir(p, results)
