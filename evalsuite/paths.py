"""Where evalsuite keeps files outside a run: the user cache (models, downloaded task data, lm-eval folders).

It sits at the top so tasks/ and backends/ both read it without importing each other."""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """$EVALSUITE_CACHE, else $XDG_CACHE_HOME/evalsuite, else ~/.cache/evalsuite (read on every call)."""
    base = os.environ.get("EVALSUITE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "evalsuite"
    )
    return Path(base)
