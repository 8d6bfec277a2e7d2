"""transformers backend: left-padded batches, KV cache, per-token statistics reduced inside the decode loop."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Sequence

from evalsuite.backends.base import Backend, OnResult, parse_model_args
from evalsuite.backends.embedded import EMBEDDED_MODEL_ID, embedded_model_dir, embedded_revision
from evalsuite.backends.model_identity import local_build, with_runtime
from evalsuite.errors import UsageError
from evalsuite.records import Generation, Request
from evalsuite.registry import backend

DTYPES = ("float32", "bfloat16", "float16")
RUNTIME = ("transformers", "torch")
"""The libraries whose versions are part of a stored reply's identity."""


@backend("hf")
class HFBackend(Backend):
    """Any transformers causal LM, on CPU or CUDA, greedy or seeded sampling, stop strings."""

    OPTIONS = {
        "dtype": "auto",
        "device": "auto",
        "batch_size": 8,
        "revision": "main",
        "trust_remote_code": False,
        "gguf_file": "",
        "threads": 0,
    }

    def __init__(self, path: str, model_args: str | dict | None = None, embedded: bool = False):
        self.name = "hf"
        self.opts = parse_model_args(model_args, self.OPTIONS, "hf")
        self.batch_size = max(1, int(self.opts["batch_size"]))
        if self.opts["dtype"] not in ("auto", *DTYPES):
            raise UsageError(f"--model-args dtype={self.opts['dtype']!r} is not one of {', '.join(DTYPES)} or auto")
        self.threads, self.threads_from = int(self.opts["threads"]), "--model-args threads"
        if self.threads < 0:
            raise UsageError(f"--model-args threads={self.threads} must be a positive number of CPU threads (0: auto)")
        if not self.threads:
            self.threads, self.threads_from = default_threads()
        self.embedded = embedded
        self.looks_local = embedded or path.startswith((".", "/", "~")) or Path(path).exists()
        self.path = str(Path(path).expanduser()) if self.looks_local else path
        if self.looks_local and not Path(self.path).exists():
            raise UsageError(f"model path {path!r} does not exist; give a model directory or a hub id")
        if embedded:
            self.model_id, revision = EMBEDDED_MODEL_ID, embedded_revision()
        elif self.looks_local:
            self.model_id, revision = Path(self.path).name, local_build(Path(self.path)).revision()
        else:
            self.model_id, revision = path, self.opts["revision"]
        self.revision = with_runtime(revision, *RUNTIME)
        self.model = None

    @property
    def device_request(self) -> str:
        return str(self.opts["device"])

    def engine(self) -> object:
        return self.model or self

    def load(self) -> None:
        """Load tokenizer and weights (once; a run whose generations are all stored never loads them)."""
        if self.model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(self.threads)
        opts = self.opts
        device = opts["device"]
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise UsageError(f"--model-args device={device} but no CUDA device is visible; use device=cpu")
        dtype_name = opts["dtype"]
        if dtype_name == "auto":
            dtype_name = "bfloat16" if device.startswith("cuda") else "float32"
        path = self.path
        if self.embedded:
            path = str(embedded_model_dir())
        kw: dict[str, Any] = {"trust_remote_code": opts["trust_remote_code"]}
        if not self.looks_local:
            kw["revision"] = opts["revision"]
        if opts["gguf_file"]:
            kw["gguf_file"] = opts["gguf_file"]
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, **kw)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype_name), **kw)
        except (OSError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UsageError(
                f"could not load model {self.path!r} ({first}); give a local model directory, or a hub id "
                "that is in the Hugging Face cache when offline"
            ) from e
        model.to(device).eval()
        self.device = torch.device(device)
        self.dtype = dtype_name
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        eos = model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos]
        self.eos_ids = {int(e) for e in eos if e is not None} | {int(self.tokenizer.eos_token_id)}
        self.has_chat_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.model = model

    def set_threads(self, threads: int, source: str) -> None:
        """Use `threads` torch CPU threads (process-wide; applied now if the model is loaded, else when it loads)."""
        self.threads, self.threads_from = threads, source
        if self.model is not None:
            import torch

            torch.set_num_threads(threads)

    def render(self, req: Request) -> tuple[str, bool]:
        """The prompt text and whether the tokenizer should add its special tokens."""
        if req.messages is None:
            return req.prompt or "", True
        if self.has_chat_template:
            return self.tokenizer.apply_chat_template(req.chat(), tokenize=False, add_generation_prompt=True), False
        turns = "".join(f"{m['role'].capitalize()}: {m['content']}\n\n" for m in req.chat())
        return turns + "Assistant:", True

    def device_label(self) -> str:
        return str(self.device) if self.model is not None else str(self.opts["device"])

    def generate(self, requests: Sequence[Request], on_result: OnResult | None = None) -> list[Generation]:
        """Decode in batches of `batch_size`; each row goes to `on_result` at the step it finishes."""
        from evalsuite.backends.hf_decode import decode_batch  # local: imports torch, which loads with the model

        self.load()
        out: list[Generation] = []
        for i in range(0, len(requests), self.batch_size):
            report = None if on_result is None else (lambda j, g, base=i: on_result(base + j, g))
            out.extend(decode_batch(self, list(requests[i : i + self.batch_size]), report))
        return out

    def score(self, prompt: Request, continuation: str, want: Sequence[str], offset: int = 0) -> dict[str, list[float]]:
        return self._score(prompt, continuation, want, offset)[1]

    def score_requests(self, requests: Sequence[Request]) -> list[Generation]:
        out = []
        for req in requests:
            t0 = time.perf_counter()
            ids, stats = self._score(req, req.continuation or "", tuple(sorted(set(req.want) | {"logprob"})),
                                     req.score_offset)
            out.append(Generation(text=req.continuation or "", token_ids=ids, stats=stats, finish_reason="scored",
                                  backend=self.name, model_id=self.model_id, seconds=time.perf_counter() - t0))
        return out

    def token_offsets(self, token_ids: Sequence[int]) -> list[int]:
        """End offset of each token in the decoded reply (prefix decodes, so multi-byte characters stay whole)."""
        self.load()
        ids = list(token_ids)
        full = self.tokenizer.decode(ids, skip_special_tokens=True)
        out, prev = [], 0
        for i in range(len(ids)):
            part = self.tokenizer.decode(ids[: i + 1], skip_special_tokens=True)
            n = len(part) if full.startswith(part) else prev
            while n < min(len(part), len(full)) and part[n] == full[n]:
                n += 1
            prev = max(prev, n)
            out.append(prev)
        return out

    def _score(self, prompt: Request, continuation: str, want: Sequence[str], offset: int = 0):
        import torch

        from evalsuite.backends.token_stats import logits_stats  # local: imports torch, which loads with the model

        self.load()
        text, special = self.render(prompt)
        p_ids = self.tokenizer(text, add_special_tokens=special)["input_ids"]
        c_ids = self.tokenizer(continuation, add_special_tokens=False)["input_ids"]
        if not c_ids:
            return [], {k: [] for k in want}
        ids = torch.tensor([p_ids + c_ids], device=self.device)
        with torch.inference_mode():
            logits = self.model(input_ids=ids).logits[0].float()
        n, start = len(c_ids), len(p_ids) - 1 + offset
        rows = logits[start : start + n]
        chosen = ids[0, len(p_ids) : len(p_ids) + n]
        if offset and rows.shape[0] < n:
            rows = torch.cat([rows, logits[-1:].expand(n - rows.shape[0], -1)])
        stats = logits_stats(rows, chosen[: rows.shape[0]], want)
        return c_ids, {k: v.tolist() for k, v in stats.items()}


def default_threads() -> tuple[int, str]:
    """Torch CPU threads when none are asked for: $OMP_NUM_THREADS if set, else the cores this process may use."""
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env), "OMP_NUM_THREADS"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores), "cores available"


