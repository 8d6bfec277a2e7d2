"""Cards whose public data lives only on the Hugging Face hub (Lin et al.'s CriticBench): say, without network,
why they cannot run here.

A card opts in with `data: {hub_only: true, hub: {path, split}, files: <local copy>}`. When the catalog is read,
the task is available if its local copy is under the data root ($EVALSUITE_DATA_DIR, else the package data) or the
hub copy is in the local Hugging Face cache; otherwise it is listed as unavailable with the reason and the fix.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def hub_cached(path: str) -> bool:
    """Whether a copy of hub dataset `path` is in the local Hugging Face caches."""
    hub_home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
    hub_cache = Path(os.environ.get("HF_HUB_CACHE") or hub_home / "hub")
    ds_cache = Path(os.environ.get("HF_DATASETS_CACHE") or hub_home / "datasets")
    org, _, name = path.partition("/")
    return (hub_cache / f"datasets--{org}--{name}").is_dir() or any(ds_cache.glob(f"{org}___{name}*"))


def local_copy(data: dict[str, Any]) -> Path | None:
    """The card's first local file under the data root, when it is there."""
    from evalsuite.tasks.loader import data_root

    files = data.get("files") or []
    files = [files] if isinstance(files, str) else list(files)
    paths = [data_root() / f for f in files]
    return paths[0] if paths and all(p.exists() for p in paths) else None


def hub_only_reason(data: dict[str, Any]) -> str | None:
    """Why the task cannot run here (None when a local copy or a cached hub copy exists)."""
    hub = data["hub"]["path"]
    if local_copy(data) is not None or hub_cached(hub):
        return None
    files = data.get("files") or []
    first = Path(files if isinstance(files, str) else files[0]) if files else None
    where = f"put {first.name} in $EVALSUITE_DATA_DIR/{first.parent}/" if first else "get a local copy"
    return (f"only on the Hugging Face hub ({hub}) and not cached here; cache it online with "
            f"datasets.load_dataset('{hub}') and use --data-source hub, or {where}")
