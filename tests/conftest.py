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


REAL_RL_MIA_SIZES = {"aime24": 30, "aime25": 30, "gsm8k": 100, "kk": 100, "sat": 100}
RL_MIA_FILES = {"aime24": "AIME24/RLMIA_aime24.parquet", "aime25": "AIME25/RLMIA_aime25.parquet",
                "gsm8k": "GSM8k/gsm8k_mia.parquet", "kk": "KK/RLMIA_kk.parquet", "sat": "SAT/RLMIA_SAT.parquet"}


def real_rl_mia_root() -> Path | None:
    """The real RL-MIA copy: $EVALSUITE_DATA_DIR when it holds it, else ../shared/data beside the clone (CI's)."""
    import os

    env = os.environ.get("EVALSUITE_DATA_DIR")
    beside = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    for root in ([Path(env)] if env else []) + [beside]:
        if (root / "rl_mia" / "benchmarks").is_dir():
            return root
    return None


def _rl_mia_rows(subset: str, n: int) -> list[dict]:
    """n records of one subset in the real file's columns and types; the first half are members."""
    rows = []
    for i in range(n):
        member = i < n // 2
        a, b = 3 + i, 4 + 2 * i
        user = {"content": f"What is {a} + {b}?", "role": "user"}
        system = {"content": "Reason step by step, then put the final answer in \\boxed{}.", "role": "system"}
        if subset in ("aime24", "aime25"):
            rows.append({"data_source": "aime" if subset == "aime24" else "aime25", "prompt": [system, user],
                         "ability": "math", "reward_model": {"ground_truth": str(a + b), "style": "rule"},
                         "extra_info": {"index": float(i), "split": "default"}, "member": member})
        elif subset == "gsm8k":
            q = f"Tom has {a} apples and buys {b} more. How many apples does he have?"
            sol = f"Tom has {a} + {b} = <<{a}+{b}={a + b}>>{a + b} apples.\n#### {a + b}"
            rows.append({"question": q, "answer": sol, "data_source": "openai/gsm8k",
                         "prompt": [{"content": q + " Let's think step by step.", "role": "user"}], "ability": "math",
                         "reward_model": {"ground_truth": str(a + b), "style": "rule"}, "member": int(member),
                         "extra_info": {"answer": sol, "index": 100 + i, "question": q, "split": "test"}})
        elif subset == "kk":
            names, roles = ["Ava", "Ben"], [i % 2 == 0, i % 3 == 0]
            fmt = "\n".join(f"({k + 1}) {nm} is a {'knight' if r else 'knave'}"
                            for k, (nm, r) in enumerate(zip(names, roles)))
            quiz = f"Puzzle {i}: Ava says Ben is a knave. Ben says Ava is a knight. Who is a knight and who is a knave?"
            rows.append({"quiz": quiz, "names": names, "knight_knave": {"Knave": "Knave", "Knight": "Knight",
                         "a_knave": "a knave", "a_knight": "a knight", "knave": "knave", "knight": "knight"},
                         "solution": roles, "solution_text": fmt.replace("\n", ", "), "solution_text_format": fmt,
                         "cot_head": "Let's think step by step.", "cot_repeat_steps": ["Assume Ava is a knight."],
                         "cot_foot": "This leads to a feasible solution.", "statements": "(('lying', 1),)",
                         "index": 500 + i, "data_source": "kk_logic", "prompt": [system, {**user, "content": quiz}],
                         "ability": "logic", "reward_model": {"ground_truth": {"solution_text_format": fmt,
                         "statements": "(('lying', 1),)"}, "style": "rule"}, "member": int(member),
                         "extra_info": {"index": 400 + i, "split": "train"}})
        else:  # sat: variables A, B, C; "011" satisfies every formula below (A false, B and C true)
            spec = '{"n_sat": 2, "k": 3, "clause": "!AB & BC & !A!C' + (' & B!C"' if i % 2 else ' & !AC"') + "}"
            rows.append({"data_source": "sat", "prompt": [{"content": f"Solve:\n{spec}\n", "role": "user"}],
                         "ability": "logical_reasoning", "reward_model": {"full_solution": 11, "ground_truth": 11,
                         "style": "rule"}, "member": member, "extra_info": {"k_vars": 3, "n_sat": 2, "original_id": i}})
    return rows


@dataclass
class RLMIAData:
    """An RL-MIA data root, its rows per subset, and whether it is the synthetic fixture (pinned by `install`)."""

    root: Path
    sizes: dict[str, int]
    synthetic: bool

    def install(self, mp: pytest.MonkeyPatch) -> None:
        """Point the rl_mia tasks at this copy; the synthetic one also gets its own sha256s and sizes in the catalog."""
        import dataclasses
        import hashlib

        from evalsuite.tasks import catalog

        mp.setenv("EVALSUITE_DATA_DIR", str(self.root))
        if not self.synthetic:
            return
        for name, card in list(catalog().items()):
            if not name.startswith("rl_mia") or not getattr(card, "data", {}).get("download"):
                continue
            sums = {f: hashlib.sha256((self.root / f).read_bytes()).hexdigest() for f in card.data["files"]}
            size = sum(self.sizes[card.data["subsets"][f]] for f in card.data["files"])
            data = {**card.data, "download": {**card.data["download"], "sha256": sums}}
            mp.setitem(catalog(), name, dataclasses.replace(card, data=data, size=size))


def build_rl_mia_fixture(root: Path, sizes: dict[str, int]) -> RLMIAData:
    """Five parquet files in RL-MIA's layout (`rl_mia/benchmarks/...`) and column schema, with made-up problems."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for subset, rel in RL_MIA_FILES.items():
        path = root / "rl_mia" / "benchmarks" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(_rl_mia_rows(subset, sizes[subset])), path)
    return RLMIAData(root, dict(sizes), synthetic=True)


@pytest.fixture(scope="session")
def synthetic_rl_mia(tmp_path_factory) -> RLMIAData:
    return build_rl_mia_fixture(tmp_path_factory.mktemp("rl_mia_data"),
                                {"aime24": 4, "aime25": 4, "gsm8k": 6, "kk": 6, "sat": 6})


def require_real_rl_mia() -> Path:
    """The real RL-MIA root; skips (fails with EVALSUITE_REQUIRE_DATA=1, as in CI) when the files are absent."""
    import os

    root = real_rl_mia_root()
    if root is None:
        why = ("RL-MIA data not found (not shipped: no license); set EVALSUITE_DATA_DIR to a folder with "
               "rl_mia/benchmarks/ or put it in ../shared/data beside the clone. The synthetic fixture covers the code")
        if os.environ.get("EVALSUITE_REQUIRE_DATA") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return root


@pytest.fixture(scope="session")
def real_rl_mia() -> RLMIAData:
    return RLMIAData(require_real_rl_mia(), dict(REAL_RL_MIA_SIZES), synthetic=False)


@pytest.fixture(scope="session")
def shared_data():
    """The real RL-MIA data root, as a function (skips like `real_rl_mia` when the files are absent)."""
    return require_real_rl_mia


@pytest.fixture(scope="session", params=["synthetic", "real"])
def rl_mia_data(request) -> RLMIAData:
    """Each RL-MIA test runs on the synthetic fixture, and again on the real files when they are here."""
    return request.getfixturevalue(f"{request.param}_rl_mia")


@dataclass
class CliResult:
    """Exit code and captured output of one in-process `evalsuite` call."""

    returncode: int
    stdout: str
    stderr: str

    def one_line(self, code: int, *needles: str) -> str:
        """Assert exit `code` with exactly one stderr line, no traceback, holding every needle; return that line."""
        assert self.returncode == code, self.stderr
        assert "Traceback" not in self.stderr
        lines = [x for x in self.stderr.splitlines() if x.strip()]
        assert len(lines) == 1, self.stderr
        for n in needles:
            assert n in lines[0], lines[0]
        return lines[0]


@pytest.fixture
def cli(capsys):
    """Run `evalsuite ARGS...` in this process and capture what it printed."""
    from evalsuite.cli import main

    def run(*args: str) -> CliResult:
        code = main(list(args))
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


@pytest.fixture
def fuse_dir():
    """A fresh, empty folder on a real FUSE filesystem (a bindfs passthrough mount of a temp folder; `.ci/setup_slurm.sh`
    installs fuse3 and bindfs), unmounted afterwards. Skips where FUSE cannot be mounted, or fails when
    EVALSUITE_REQUIRE_FUSE=1."""
    import os
    import shutil
    import subprocess
    import tempfile

    def unavailable(why: str) -> None:
        if os.environ.get("EVALSUITE_REQUIRE_FUSE") == "1":
            pytest.fail(f"EVALSUITE_REQUIRE_FUSE=1 but {why}")
        pytest.skip(why)

    if not shutil.which("bindfs") or not os.path.exists("/dev/fuse"):
        unavailable("FUSE is not available here (needs /dev/fuse and bindfs: apt-get install fuse3 bindfs)")
    base = Path(tempfile.mkdtemp(prefix="evfuse"))
    src, mnt = base / "src", base / "mnt"
    src.mkdir()
    mnt.mkdir()
    res = subprocess.run(["bindfs", "--no-allow-other", str(src), str(mnt)], capture_output=True, text=True)
    if res.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        unavailable(f"bindfs cannot mount here ({res.stderr.strip()[:200]})")
    try:
        yield mnt
    finally:
        for cmd in (["fusermount3", "-u", str(mnt)], ["fusermount", "-u", str(mnt)], ["umount", "-l", str(mnt)]):
            if shutil.which(cmd[0]) and subprocess.run(cmd, capture_output=True).returncode == 0:
                break
        shutil.rmtree(base, ignore_errors=True)
