"""Where task cards and their data files are found: the package's benchmark folders, extra card folders named by
$EVALSUITE_TASKS_PATH, and `--data-dir` / $EVALSUITE_DATA_DIR. Read on every call, never cached."""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from evalsuite.errors import UsageError

TASKS_DIR = Path(str(resources.files("evalsuite.tasks")))
DATA_DIR = TASKS_DIR
"""Shipped data sits beside its card, `<DATA_DIR>/<benchmark>/<file>`: the layout a `--data-dir` folder also has."""
SEARCH_PATH_VAR = "EVALSUITE_TASKS_PATH"


def search_path() -> tuple[Path, ...]:
    """The shipped catalog, then every folder listed in $EVALSUITE_TASKS_PATH (os.pathsep-separated)."""
    extra = [Path(p).expanduser().resolve() for p in os.environ.get(SEARCH_PATH_VAR, "").split(os.pathsep) if p.strip()]
    for p in extra:
        if not p.is_dir():
            raise UsageError(f"task folder {p} (from --include-path or ${SEARCH_PATH_VAR}) is not a folder; "
                             "name a folder of task cards")
    return tuple(dict.fromkeys((TASKS_DIR, *extra)))


def add_task_folders(folders: list[str]) -> None:
    """`--include-path DIR...`: put the folders ahead of those already in $EVALSUITE_TASKS_PATH (for this process)."""
    old = [p for p in os.environ.get(SEARCH_PATH_VAR, "").split(os.pathsep) if p.strip()]
    os.environ[SEARCH_PATH_VAR] = os.pathsep.join(dict.fromkeys([*folders, *old]))  # once each, first wins


def data_root(data_dir: str | Path | None = None, home: Path | None = None) -> Path:
    """`--data-dir`, else $EVALSUITE_DATA_DIR, else the card's own catalog folder (`home`), else the shipped data."""
    root = data_dir or os.environ.get("EVALSUITE_DATA_DIR")
    if root:
        return Path(root).expanduser()
    return home or DATA_DIR
