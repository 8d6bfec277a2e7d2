"""Whether a task can run here, asked when needed (never frozen at the first catalog read), without network.

Gated hub data (GPQA, `data.gated`) needs a cached copy, or the hub switched on and a login; hub-only data
(Lin et al.'s CriticBench, `data.hub_only`) needs its local copy under the data root or a cached hub copy.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from evalsuite.tasks.roots import data_root

_TRUE = ("1", "true", "yes", "on")


def hub_cached(path: str) -> bool:
    """Whether a copy of hub dataset `path` is in the local Hugging Face caches."""
    hub_home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
    hub_cache = Path(os.environ.get("HF_HUB_CACHE") or hub_home / "hub")
    ds_cache = Path(os.environ.get("HF_DATASETS_CACHE") or hub_home / "datasets")
    org, _, name = path.partition("/")
    return (hub_cache / f"datasets--{org}--{name}").is_dir() or any(ds_cache.glob(f"{org}___{name}*"))


def gated_reason(hub: dict[str, Any]) -> str | None:
    """Why the gated dataset cannot be loaded here (None when it may be: cached, or online with a token)."""
    path = hub["path"]
    if hub_cached(path):
        return None
    how = f"request access at https://huggingface.co/datasets/{path}, then log in (`hf auth login` or HF_TOKEN)"
    if any(os.environ.get(v, "").lower() in _TRUE for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")):
        return f"gated hub dataset {path} is not cached and the hub is switched off (HF_HUB_OFFLINE); {how}"
    try:
        from huggingface_hub import get_token
    except ImportError:
        return f"gated hub dataset {path} needs huggingface_hub; {how}"
    if not get_token():
        return f"gated hub dataset {path} needs a Hugging Face login with access granted; {how}"
    return None


def _files(data: dict[str, Any]) -> list[str]:
    files = data.get("files") or []
    return [files] if isinstance(files, str) else list(files)


def local_copy(data: dict[str, Any], home: Path | None = None) -> Path | None:
    """The card's first local file under the data root, when all of its files are there."""
    paths = [data_root(None, home) / f for f in _files(data)]
    return paths[0] if paths and all(p.exists() for p in paths) else None


def hub_only_reason(data: dict[str, Any], home: Path | None = None) -> str | None:
    """Why a hub-only task cannot run here (None when a local copy or a cached hub copy exists)."""
    hub = data["hub"]["path"]
    if local_copy(data, home) is not None or hub_cached(hub):
        return None
    files = _files(data)
    first = Path(files[0]) if files else None
    where = f"put {first.name} in $EVALSUITE_DATA_DIR/{first.parent}/" if first else "get a local copy"
    return (f"only on the Hugging Face hub ({hub}) and not cached here; cache it online with "
            f"datasets.load_dataset('{hub}') and use --data-source hub, or {where}")


def unavailable_reason(data: dict[str, Any], home: Path | None = None) -> str | None:
    """Why a card's data cannot be had here right now, or None."""
    if data.get("gated"):
        return gated_reason(data["hub"])
    if data.get("hub_only"):
        return hub_only_reason(data, home)
    return None
