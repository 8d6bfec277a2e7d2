"""Cards whose data exists only as a gated hub dataset (GPQA): say why it cannot be loaded here, without network.

A card opts in with `data: {gated: true, hub: {path, name, split}}`. The check runs when the catalog is read (so
`evalsuite tasks` lists the reason); a run still loads through `datasets`, and a refusal there skips the task.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_TRUE = ("1", "true", "yes", "on")


def _cached(path: str) -> bool:
    """Whether a copy of hub dataset `path` is in the local Hugging Face caches."""
    hub_home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
    hub_cache = Path(os.environ.get("HF_HUB_CACHE") or hub_home / "hub")
    ds_cache = Path(os.environ.get("HF_DATASETS_CACHE") or hub_home / "datasets")
    org, _, name = path.partition("/")
    return (hub_cache / f"datasets--{org}--{name}").is_dir() or any(ds_cache.glob(f"{org}___{name}*"))


def hub_access_reason(hub: dict[str, Any]) -> str | None:
    """Why the gated dataset cannot be loaded here (None when it may be: cached, or online with a token)."""
    path = hub["path"]
    if _cached(path):
        return None
    how = f"request access at https://huggingface.co/datasets/{path}, then log in (`hf auth login` or HF_TOKEN)"
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in _TRUE or os.environ.get("HF_DATASETS_OFFLINE", "").lower() in _TRUE:
        return f"gated hub dataset {path} is not cached and the hub is switched off (HF_HUB_OFFLINE); {how}"
    try:
        from huggingface_hub import get_token
    except ImportError:
        return f"gated hub dataset {path} needs huggingface_hub; {how}"
    if not get_token():
        return f"gated hub dataset {path} needs a Hugging Face login with access granted; {how}"
    return None
