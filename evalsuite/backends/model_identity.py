"""What a stored reply was made with: the model build (weights, tokenizer, model and generation config) and the
library versions that compute it, as named fields, so a store is reused exactly when the outputs would match.

Whole files are not hashed: `config.json` and `generation_config.json` carry `transformers_version`, which a
transformers upgrade rewrites without changing the model; the library versions are named once, in the runtime tag.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from dataclasses import dataclass
from pathlib import Path

from evalsuite.backends.embedded import cache_root
from evalsuite.errors import UsageError

WEIGHT_GLOBS = ("*.safetensors", "*.bin", "*.gguf")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                   "vocab.json", "merges.txt", "tokenizer.model", "chat_template.jinja", "chat_template.json")
UNRELATED_KEYS = frozenset({"transformers_version", "_name_or_path", "_commit_hash"})
"""Fields that say who wrote a config file, not what the model computes."""


@dataclass(frozen=True)
class ModelBuild:
    """Digests of the parts of a local model folder that change its outputs."""

    weights: str
    tokenizer: str
    config: str
    generation: str

    def revision(self) -> str:
        h = hashlib.sha256(f"{self.weights}|{self.tokenizer}|{self.config}|{self.generation}".encode())
        return "local-" + h.hexdigest()[:16]


def runtime_tag(*packages: str) -> str:
    """`transformers-5.25+torch-2.13`: the major.minor versions of the libraries that compute the outputs. A
    patch release keeps stored replies; a minor one starts fresh (numerics change there, e.g. fused kernels)."""
    parts = []
    for name in packages:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        parts.append(f"{name}-{'.'.join(version.split('+')[0].split('.')[:2])}")
    return "+".join(parts)


def with_runtime(revision: str, *packages: str) -> str:
    """A backend's revision as the store key uses it: the model's revision, then the runtime tag."""
    tag = runtime_tag(*packages)
    return f"{revision};{tag}" if tag else revision


def local_build(path: Path) -> ModelBuild:
    """The build of a local model folder written by save_pretrained (or holding a GGUF)."""
    weights = [f for pattern in WEIGHT_GLOBS for f in sorted(path.glob(pattern))]
    return ModelBuild(
        weights=_digest_lines(f"{f.name}:{file_digest(f)}" for f in weights),
        tokenizer=_digest_lines(f"{name}:{_content_digest(path / name)}" for name in TOKENIZER_FILES
                                if (path / name).exists()),
        config=_json_digest(path / "config.json"),
        generation=_json_digest(path / "generation_config.json"),
    )


def _digest_lines(lines) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:32]


def _content_digest(f: Path) -> str:
    return _json_digest(f) if f.suffix == ".json" else hashlib.sha256(f.read_bytes()).hexdigest()[:32]


def _json_digest(f: Path) -> str:
    """A JSON file's content without UNRELATED_KEYS, key order ignored; '' when the file is absent."""
    if not f.exists():
        return ""
    try:
        data = json.loads(f.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"model file {f} cannot be read as JSON ({type(e).__name__}); give a model directory "
                         "written by save_pretrained") from None
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in UNRELATED_KEYS}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


def file_digest(f: Path) -> str:
    """blake2b of a weight file, remembered in the evalsuite cache under (path, size, mtime) so a large model is
    read once, not on every run."""
    st = f.stat()
    memo = cache_root() / "fingerprints" / hashlib.sha256(
        f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()
    try:
        return memo.read_text().strip()
    except OSError:
        pass
    h = hashlib.blake2b()
    with open(f, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()[:32]
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(digest)
        os.replace(tmp, memo)
    except OSError:
        pass
    return digest
