"""vLLM backend: offline `vllm.LLM`, one `generate` call per round, statistics reduced on the device.

vLLM is imported only when this backend loads a model; plugin discovery imports this module everywhere.
"""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any, Sequence

from evalsuite.backends.base import Backend, OnResult, parse_model_args
from evalsuite.backends.hf import HFBackend
from evalsuite.backends.model_identity import local_build, with_runtime
from evalsuite.backends.vllm_stats import RowPlan, merge_workers, series
from evalsuite.errors import UsageError
from evalsuite.records import Generation, Request
from evalsuite.registry import backend

DTYPES = ("float32", "bfloat16", "float16")
INSTALL_HINT = ("install vllm (GPU) with `pip install vllm`, or vLLM for the CPU in its own virtual environment "
                "with .ci/setup_vllm_cpu.sh")


@backend("vllm")
class VLLMBackend(Backend):
    """Any model vLLM serves; engine options pass through, prefix caching is on, only scalars leave the engine."""

    whole_round_batches = True
    OPTIONS = {
        "dtype": "auto",
        "tensor_parallel_size": 1,
        "pipeline_parallel_size": 1,
        "max_model_len": 0,
        "max_num_seqs": 0,
        "gpu_memory_utilization": 0.0,
        "enforce_eager": "auto",
        "enable_prefix_caching": True,
        "seed": 0,
        "revision": "main",
        "trust_remote_code": False,
        "batch_size": 0,
    }

    def __init__(self, path: str, model_args: str | dict | None = None):
        self.name = "vllm"
        self.opts = parse_model_args(model_args, self.OPTIONS, "vllm")
        if self.opts["dtype"] not in ("auto", *DTYPES):
            raise UsageError(f"--model-args dtype={self.opts['dtype']!r} is not one of {', '.join(DTYPES)} or auto")
        if str(self.opts["enforce_eager"]).lower() not in ("auto", "true", "false", "1", "0"):
            raise UsageError(f"--model-args enforce_eager={self.opts['enforce_eager']!r} must be true, false or auto")
        for key in ("tensor_parallel_size", "pipeline_parallel_size"):
            if self.opts[key] < 1:
                raise UsageError(f"--model-args {key} must be at least 1, got {self.opts[key]}")
        self.batch_size = self.opts["batch_size"] or None
        self.looks_local = path.startswith((".", "/", "~")) or Path(path).exists()
        self.path = str(Path(path).expanduser()) if self.looks_local else path
        if self.looks_local and not Path(self.path).is_dir():
            raise UsageError(f"model path {path!r} is not a model directory; give a model folder or a hub id")
        if self.looks_local:
            self.model_id, revision = Path(self.path).name, local_build(Path(self.path)).revision()
        else:
            self.model_id, revision = path, self.opts["revision"]
        self.revision = with_runtime(revision, "vllm", "torch")
        self.llm = None
        self.on_gpu: bool | None = None
        self.ray_workers = False
        """Whether its tensor/pipeline parallel workers run as Ray tasks (set in a Ray replica, `prepare_replica`)."""

    @property
    def gpus_per_engine(self) -> int:
        """GPUs one engine process spans (tensor x pipeline parallel); the data-parallel runner reads it."""
        return self.opts["tensor_parallel_size"] * self.opts["pipeline_parallel_size"]

    def engine(self) -> object:
        return self.llm or self

    @property
    def engine_spans_nodes(self) -> bool:
        """Pipeline parallel stages may sit on different nodes; tensor parallel ranks stay on one."""
        return self.opts["pipeline_parallel_size"] > 1

    def prepare_replica(self, on_gpu: bool) -> None:
        """In a Ray replica: GPU defaults (dtype, eager mode) follow what the replica reserved, not torch.cuda inside
        an actor that holds no GPU itself; an engine over several GPUs runs its workers as Ray tasks in the replica's
        placement group (which captures child tasks), the pattern Ray's own batch-inference code uses."""
        self.on_gpu = on_gpu
        self.ray_workers = self.gpus_per_engine > 1

    def engine_kwargs(self, on_gpu: bool) -> dict[str, Any]:
        """Keyword arguments for `vllm.LLM`: the options, with CPU/GPU defaults resolved and the hooks added."""
        o = self.opts
        eager = str(o["enforce_eager"]).lower()
        kw: dict[str, Any] = dict(
            model=self.path, tokenizer=self.path, seed=o["seed"], trust_remote_code=o["trust_remote_code"],
            dtype=o["dtype"] if o["dtype"] != "auto" else ("bfloat16" if on_gpu else "float32"),
            tensor_parallel_size=o["tensor_parallel_size"], pipeline_parallel_size=o["pipeline_parallel_size"],
            enable_prefix_caching=o["enable_prefix_caching"],
            enforce_eager=(not on_gpu) if eager == "auto" else eager in ("true", "1"),
            gpu_memory_utilization=o["gpu_memory_utilization"] or (0.9 if on_gpu else 0.3),
            logprobs_mode="raw_logprobs",
            logits_processors=["evalsuite.backends._vllm_hooks:StatsProcessor"],
            worker_extension_cls="evalsuite.backends._vllm_hooks.StatsWorkerExtension",
        )
        if not self.looks_local:
            kw["revision"] = o["revision"]
        if o["max_model_len"]:
            kw["max_model_len"] = o["max_model_len"]
        if o["max_num_seqs"]:
            kw["max_num_seqs"] = o["max_num_seqs"]
        if self.ray_workers:
            kw["distributed_executor_backend"] = "ray"
        return kw

    def load(self) -> None:
        """Start the engine (once; a run whose generations are all stored never starts it)."""
        if self.llm is not None:
            return
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
        try:
            import torch
            from transformers import AutoTokenizer
            from vllm import LLM
        except ImportError as e:
            raise UsageError(f"the vllm backend needs vLLM ({e.name or e} is missing); {INSTALL_HINT}") from None
        # the Ray executor decides this on the driver (a num_gpus=0 replica actor may be shown no CUDA device)
        on_gpu = torch.cuda.is_available() if self.on_gpu is None else self.on_gpu
        kw: dict[str, Any] = {"trust_remote_code": self.opts["trust_remote_code"]}
        if not self.looks_local:
            kw["revision"] = self.opts["revision"]
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, **kw)
        self.has_chat_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.llm = LLM(**self.engine_kwargs(on_gpu))
        cfg = self.llm.llm_engine.vllm_config
        self.device = "cuda" if on_gpu else "cpu"
        self.dtype = str(cfg.model_config.dtype).replace("torch.", "")
        self.eos_ids = _eos_ids(self.path, self.tokenizer, kw)

    def prompt_ids(self, req: Request) -> list[int]:
        """Token ids of the rendered request, exactly as the hf backend renders and tokenizes it."""
        tok = self.tokenizer
        if req.messages is None:
            return tok(req.prompt or "", add_special_tokens=True)["input_ids"]
        if self.has_chat_template:
            text = tok.apply_chat_template(req.chat(), tokenize=False, add_generation_prompt=True)
            return tok(text, add_special_tokens=False)["input_ids"]
        turns = "".join(f"{m['role'].capitalize()}: {m['content']}\n\n" for m in req.chat())
        return tok(turns + "Assistant:", add_special_tokens=True)["input_ids"]

    def choice_ids(self, req: Request) -> list[list[int]]:
        """Per choice, the first-token ids a reply can start it with (as the hf backend: `c` and `" " + c`)."""
        from evalsuite.backends.hf_decode import choice_token_ids  # local: imports torch, which loads with the model

        choices = req.choices or ()
        ids = [choice_token_ids(self.tokenizer, c) for c in choices]
        flat = [t for v in ids for t in v]
        if len(flat) != len(set(flat)):
            raise UsageError(f"choices {tuple(choices)} share a first token, so they cannot be told apart; "
                             "give choices that start differently")
        return ids

    def token_offsets(self, token_ids: Sequence[int]) -> list[int]:
        """End offset of each token in the decoded reply (the same tokenizer and rule as the hf backend)."""
        return HFBackend.token_offsets(self, token_ids)  # type: ignore[arg-type]

    def device_label(self) -> str:
        return self.device if self.llm is not None else "unloaded"

    def generate(self, requests: Sequence[Request], on_result: OnResult | None = None) -> list[Generation]:
        self.load()
        from vllm import SamplingParams

        t0 = time.perf_counter()
        prompts, params, plans, groups = [], [], [], []
        for req in requests:
            ids = self.prompt_ids(req)
            groups.append(self.choice_ids(req))
            plan = RowPlan(tag=uuid.uuid4().hex, want=tuple(w for w in req.want if w != "logprob"),
                           prompt_len=len(ids), choice_ids=tuple(t for v in groups[-1] for t in v))
            sampled = req.gen.temperature > 0
            params.append(SamplingParams(
                temperature=req.gen.temperature, top_p=req.gen.top_p if sampled else 1.0,
                max_tokens=req.gen.max_tokens, stop=list(req.gen.stop) or None,
                seed=req.gen.seed if sampled else None, logprobs=0,
                extra_args=plan.to_args() if plan.want or plan.choice_ids else None))
            prompts.append({"prompt_token_ids": ids})
            plans.append(plan)
        outs = self.llm.generate(prompts, params, use_tqdm=False)
        records = self._drain() if any(p.want or p.choice_ids for p in plans) else {}
        seconds = (time.perf_counter() - t0) / max(1, len(requests))
        return [self._generation(req, out, plan, records.get(plan.tag), seconds, group)
                for req, out, plan, group in zip(requests, outs, plans, groups)]

    def _generation(self, req: Request, out: Any, plan: Any, record: Any, seconds: float,
                    group: list[list[int]]) -> Generation:
        o = out.outputs[0]
        ids = list(o.token_ids)
        if o.finish_reason == "stop" and o.stop_reason is None and ids and ids[-1] in self.eos_ids:
            ids = ids[:-1]
        n = len(ids)
        stats = {"logprob": [float(o.logprobs[i][t].logprob) for i, t in enumerate(ids)]}
        for name in plan.want:
            stats[name] = series(record, name, range(n), plan.tag)
        extra: dict[str, Any] = {}
        if req.choices:
            extra["choice_logprobs"] = _group_logsumexp(req.choices, group, (record or {}).get("choices"), plan)
        return Generation(text=o.text, token_ids=ids, stats=stats,
                          finish_reason="stop" if o.finish_reason == "stop" else "length", backend=self.name,
                          model_id=self.model_id, seconds=seconds, prompt_tokens=len(out.prompt_token_ids),
                          **extra)

    def _drain(self) -> dict[str, Any]:
        return merge_workers(self.llm.collective_rpc("evalsuite_drain_stats"))

    def score(self, prompt: Request, continuation: str, want: Sequence[str], offset: int = 0) -> dict[str, list[float]]:
        return self._score([(prompt, continuation, tuple(want), offset)])[0][1]

    def score_requests(self, requests: Sequence[Request]) -> list[Generation]:
        t0 = time.perf_counter()
        items = [(r, r.continuation or "", tuple(sorted(set(r.want) | {"logprob"})), r.score_offset)
                 for r in requests]
        scored = self._score(items)
        seconds = (time.perf_counter() - t0) / max(1, len(requests))
        return [Generation(text=r.continuation or "", token_ids=ids, stats=stats, finish_reason="scored",
                           backend=self.name, model_id=self.model_id, seconds=seconds)
                for r, (ids, stats) in zip(requests, scored)]

    def _score(self, items: Sequence[tuple[Request, str, tuple[str, ...], int]]):
        """Teacher-force each continuation through the sampler: the processor records the full-vocabulary
        statistics of every forced position and forces the given token, so the scores are exact."""
        self.load()
        from vllm import SamplingParams

        prompts, params, plans, c_ids_list = [], [], [], []
        for req, cont, want, offset in items:
            if offset not in (0, 1):
                raise UsageError(f"score offset must be 0 or 1, got {offset}")
            p_ids = self.prompt_ids(req)
            c_ids = self.tokenizer(cont, add_special_tokens=False)["input_ids"] if cont else []
            c_ids_list.append(c_ids)
            plan = RowPlan(tag=uuid.uuid4().hex, want=tuple(w for w in want if w != "logprob"),
                           prompt_len=len(p_ids), force=tuple(c_ids), offset=offset)
            plans.append(plan)
            if c_ids:
                prompts.append({"prompt_token_ids": p_ids})
                params.append(SamplingParams(temperature=0.0, max_tokens=len(c_ids) + offset, ignore_eos=True,
                                             logprobs=None, extra_args=plan.to_args()))
        if prompts:
            self.llm.generate(prompts, params, use_tqdm=False)
        records = self._drain() if prompts else {}
        out = []
        for (req, cont, want, offset), plan, c_ids in zip(items, plans, c_ids_list):
            if not c_ids:
                out.append(([], {k: [] for k in want}))
                continue
            pos = range(offset, offset + len(c_ids))
            rec = records.get(plan.tag)
            stats = {name: series(rec, name, pos, plan.tag) for name in want}
            out.append((c_ids, stats))
        return out

    def close(self) -> None:
        if self.llm is None:
            return
        core = getattr(self.llm.llm_engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        self.llm = None


def _eos_ids(path: str, tokenizer: Any, kw: dict[str, Any]) -> set[int]:
    """End-of-sequence ids as the hf backend sees them: the generation config's plus the tokenizer's."""
    from transformers import GenerationConfig

    try:
        eos = GenerationConfig.from_pretrained(path, **kw).eos_token_id
    except OSError:
        eos = None
    eos = eos if isinstance(eos, list) else [eos]
    return {int(e) for e in eos if e is not None} | {int(tokenizer.eos_token_id)}


def _group_logsumexp(choices: Sequence[str], group: list[list[int]], values: list[float] | None,
                     plan: Any) -> dict[str, float]:
    """log P(choice) = logsumexp of its first-token variants' log-probs (-inf for a choice with none)."""
    import math

    flat = [t for v in group for t in v]
    if flat and (values is None or len(values) < len(flat)):
        raise RuntimeError(f"vLLM statistics processor returned no choice log-probs for request {plan.tag}")
    out, i = {}, 0
    for c, v in zip(choices, group):
        part = values[i : i + len(v)] if v else []
        i += len(v)
        top = max(part, default=-math.inf)
        out[c] = top + math.log(sum(math.exp(x - top) for x in part)) if part and top > -math.inf else -math.inf
    return out
