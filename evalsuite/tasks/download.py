"""Task data that may not be redistributed: fetched from its pinned source URL on first use, checksum-verified,
cached under the user cache dir; or read from a local copy under `--data-dir` / $EVALSUITE_DATA_DIR.

A card opts in with `data.download: {url: "...{path}", strip: "prefix/", sha256: {file: hex}}`; `{path}` is the
card file's path with `strip` removed (the layout under the data dir keeps the prefix).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from evalsuite.errors import UsageError
from evalsuite.paths import cache_root
from evalsuite.tasks.cards import TaskCard

TIMEOUT_S = 30
OFFLINE_VARS = ("EVALSUITE_OFFLINE", "HF_DATASETS_OFFLINE")


def cache_dir() -> Path:
    """Where downloaded task data lives: <evalsuite cache>/data, same layout as a --data-dir."""
    return cache_root() / "data"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_url(card: TaskCard, file: str) -> str:
    """The pinned URL a card file is downloaded from."""
    dl = card.data["download"]
    strip = dl.get("strip", "")
    rel = file[len(strip):] if strip and file.startswith(strip) else file
    return dl["url"].format(path=rel)


def _expected(card: TaskCard, file: str) -> str:
    sums = card.data["download"].get("sha256", {})
    if file not in sums:
        raise UsageError(f"task card {card.name} pins no sha256 for {file}; add it under data.download.sha256")
    return sums[file]


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes") for v in OFFLINE_VARS)


def fetch_files(card: TaskCard, data_dir: str | Path | None = None) -> list[Path]:
    """Local paths of a card's files: from the given data dir (verified), else the cache, downloading as needed."""
    files = card.data.get("files", [])
    files = [files] if isinstance(files, str) else list(files)
    given = data_dir or os.environ.get("EVALSUITE_DATA_DIR")
    out = []
    for f in files:
        want = _expected(card, f)
        if given:
            path = Path(given).expanduser() / f
            if not path.exists():
                raise UsageError(f"data file {path} for task {card.name} is missing; point --data-dir / "
                                 f"EVALSUITE_DATA_DIR at a folder that has {f}, or unset both to download it")
            if sha256_of(path) != want:
                raise UsageError(f"data file {path} does not match the pinned sha256 {want[:16]}...; replace it "
                                 f"with the file from {source_url(card, f)}")
        else:
            path = cache_dir() / f
            if not path.exists() or sha256_of(path) != want:
                download(source_url(card, f), path, want, card.name, f)
        out.append(path)
    return out


def download(url: str, path: Path, sha256: str, task: str, file: str) -> None:
    """Fetch `url` into `path` atomically, keeping it only when its sha256 matches."""
    hint = (f"put the file at {path} by hand (from {url}) or point --data-dir / EVALSUITE_DATA_DIR at a folder "
            f"that has {file}")
    if _offline():
        raise UsageError(f"task {task} needs {file}, which is not cached and downloads are off "
                         f"({'/'.join(OFFLINE_VARS)} is set); {hint}")
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            data = resp.read()
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise UsageError(f"task {task} needs {file} but it could not be downloaded ({reason}); {hint}") from e
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise UsageError(f"download of {url} has sha256 {got[:16]}..., not the pinned {sha256[:16]}...; "
                         f"nothing was cached; {hint}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".download-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
