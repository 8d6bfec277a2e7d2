"""Shared fixtures: a tiny random Llama with a byte-level BPE tokenizer and a ChatML template, built offline."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_model(out: Path, chat_template: bool = True) -> Path:
    """Train a ~400-token BPE on GSM8K questions and save a 2-layer LlamaConfig(hidden=64) with random weights."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from evalsuite.tasks.cards import DATA_DIR

    lines = (DATA_DIR / "gsm8k" / "test.jsonl").read_text().splitlines()[:60]
    text = [json.loads(x)["question"] + "\n" + json.loads(x)["answer"] for x in lines]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(text, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token="<|endoftext|>")
    if chat_template:
        fast.chat_template = CHATML
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                      bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
                      pad_token_id=fast.pad_token_id, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():
        model.lm_head.weight.mul_(20.0)
    model.save_pretrained(out)
    fast.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir):
    from evalsuite.backends.hf import HFBackend

    be = HFBackend(str(tiny_model_dir), {"batch_size": 4})
    be.load()
    return be


def pytest_collection_modifyitems(config, items):
    import importlib.util

    has_cuda = False
    if importlib.util.find_spec("torch"):
        import torch

        has_cuda = torch.cuda.is_available()
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def build_model():
    """The builder itself, for tests that need a variant (e.g. no chat template)."""
    return build_tiny_model


def rl_mia_data_root() -> Path:
    """$EVALSUITE_DATA_DIR when it holds RL-MIA, else the shared data folder beside the clone (CI has it)."""
    import os

    import evalsuite

    env = os.environ.get("EVALSUITE_DATA_DIR")
    root = Path(env) if env and (Path(env) / "rl_mia").is_dir() else \
        Path(evalsuite.__file__).resolve().parents[1].parent / "shared" / "data"
    if not (root / "rl_mia" / "benchmarks").is_dir():
        pytest.fail(f"RL-MIA data not found at {root}; these tests need ../shared/data beside the clone")
    return root


@pytest.fixture(scope="session")
def shared_data():
    """The RL-MIA data locator (a function, so module-scoped fixtures and helpers can call it too)."""
    return rl_mia_data_root


@dataclass
class CliResult:
    """Exit code and captured output of one in-process `evalsuite` call."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys):
    """Run `evalsuite ARGS...` in this process and capture what it printed."""
    from evalsuite.cli import main

    def run(*args: str) -> CliResult:
        code = main(list(args))
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run
