"""The backend interface and model-spec parsing (`hf:PATH`, `vllm:PATH`, `openai:MODEL@URL`)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from evalsuite.errors import UsageError
from evalsuite.records import Generation, Request
from evalsuite.registry import BACKENDS, load_plugins

OnResult = Callable[[int, Generation], None]
"""`on_result(index, generation)`: a request finished (index into the list the call was given)."""


class Backend(ABC):
    """Turns requests into generations; only scalars per token ever leave it.

    Subclasses declare `OPTIONS` (the `--model-args` keys they accept, with defaults) and set `model_id`,
    `revision` and `batch_size` (None: the engine sends a whole round at once).
    """

    OPTIONS: dict[str, Any] = {}
    name: str = ""
    model_id: str = ""
    revision: str = ""
    batch_size: int | None = None
    batch_invariant: bool = False
    """True when a reply does not depend on which requests share its batch (each row computed alone, e.g. one HTTP
    request per row): executors may then regroup requests freely; otherwise they keep the in-process batches."""
    gpus_per_engine: int = 1
    """GPUs one engine of this backend spans (vLLM: tensor x pipeline parallel); executors place replicas by it."""
    device_request: str = "auto"
    """The device its options ask for ("auto", "cpu", "cuda:0", ...), or "remote" when the model runs on servers."""
    threads: int | None = None
    """torch CPU threads of a backend that runs torch on this CPU (None: it uses none); see `set_threads`."""
    threads_from: str = ""
    built_from: "ModelSpec | None" = None
    """The model spec this backend was built from (`ModelSpec.build`), from which a replica builds its own; None for
    a backend object made directly in Python."""
    whole_round_batches: bool = False
    """True when the engine batches a whole round itself (vLLM's scheduler): a distributed executor then sends each
    replica its whole share of a round at once, not chunks at whose every end the engine drains to an empty batch."""

    @abstractmethod
    def generate(
        self, requests: Sequence[Request], on_result: OnResult | None = None
    ) -> list[Generation]:
        """Generate one reply per request, in order; a backend that finishes rows one by one may report each
        through `on_result(index, generation)` as it finishes (callers report the rest when the call returns)."""

    @abstractmethod
    def score(
        self, prompt: Request, continuation: str, want: Sequence[str], offset: int = 0
    ) -> dict[str, list[float]]:
        """Teacher-forced per-token statistics of `continuation` after the rendered `prompt`.

        offset=0 scores the distribution that produced each continuation token; offset=1 reproduces the
        Self-Certainty repository's off-by-one positions (SPEC-metrics §3.2).
        """

    def score_requests(self, requests: Sequence[Request]) -> list[Generation]:
        """Teacher-force each request's `continuation`; the result carries its statistics as a Generation."""
        import time

        out = []
        for req in requests:
            t0 = time.perf_counter()
            want = tuple(sorted(set(req.want) | {"logprob"}))
            stats = self.score(req, req.continuation or "", want, req.score_offset)
            out.append(Generation(text=req.continuation or "", token_ids=[], stats=stats, finish_reason="scored",
                                  backend=self.name, model_id=self.model_id, seconds=time.perf_counter() - t0))
        return out

    def load(self) -> None:
        """Load the model now (executors call it when a replica starts); by default there is nothing to load."""

    def engine(self) -> object:
        """The object that holds the loaded model (a new one means the model was loaded again)."""
        return self

    def set_threads(self, threads: int, source: str) -> None:
        """Use `threads` torch CPU threads; a backend that runs no torch on this CPU refuses."""
        raise UsageError(f"--threads sets the torch CPU threads of the hf backend; the {self.name} backend "
                         "does not use them: drop --threads")

    def uses_gpus(self, cluster_gpus: float) -> bool:
        """Whether replicas of this backend run on a cluster's GPUs (`cluster_gpus` of them): not when its model
        runs on servers or its options ask for the CPU."""
        return cluster_gpus >= 1 and self.device_request not in ("remote", "cpu")

    @property
    def engine_spans_nodes(self) -> bool:
        """Whether one engine's GPU group may span nodes (pipeline parallel); otherwise a distributed executor keeps
        the group on one node."""
        return False

    def replica_env_names(self) -> tuple[str, ...]:
        """Environment variables a replica of this backend needs from the driver (API keys, server URLs)."""
        return ()

    def prepare_replica(self, on_gpu: bool) -> None:
        """Ready this (unloaded) backend to run inside a distributed executor's replica: `on_gpu` says whether the
        replica reserved GPUs, decided on the driver (an actor whose GPUs its workers hold may be shown no CUDA
        device). A backend whose engine spans several GPUs sets up its workers here; by default nothing to do."""

    def token_offsets(self, token_ids: Sequence[int]) -> list[int] | None:
        """End offset of each generated token in the decoded reply (to find an answer's tokens), or None when
        this backend cannot detokenize."""
        return None

    def device_label(self) -> str:
        """Where the model runs, for results.json ("cpu", "cuda:0", a server URL, ...)."""
        return "cpu"

    def close(self) -> None:
        """Release the model (GPU memory, servers)."""


def parse_model_args(text: str | dict | None, options: dict[str, Any], backend: str) -> dict[str, Any]:
    """Parse `k=v,k=v` into typed options, rejecting keys the backend does not know."""
    if isinstance(text, dict):
        raw = {str(k): v for k, v in text.items()}
    else:
        raw = {}
        for part in filter(None, (p.strip() for p in (text or "").split(","))):
            if "=" not in part:
                raise UsageError(f"--model-args entry {part!r} is not key=value; write e.g. dtype=bfloat16")
            k, v = part.split("=", 1)
            raw[k.strip()] = v.strip()
    out = dict(options)
    for k, v in raw.items():
        if k not in options:
            valid = ", ".join(sorted(options))
            raise UsageError(f"unknown --model-args key {k!r} for backend {backend}; valid keys: {valid}")
        out[k] = _coerce(v, options[k], k)
    return out


def _coerce(value: Any, default: Any, key: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if isinstance(default, bool):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        raise UsageError(f"--model-args {key}={value!r} is not a {type(default).__name__}") from None
    return value


def split_model_spec(spec: str) -> tuple[str, str]:
    """`hf:PATH` -> ("hf", "PATH"). A spec without a known prefix is an error naming the prefixes."""
    load_plugins()
    prefix, sep, rest = spec.partition(":")
    if not sep or prefix not in BACKENDS or not rest:
        known = ", ".join(f"{p}:..." for p in sorted(BACKENDS))
        raise UsageError(f"unknown model {spec!r}; write it as one of {known} (e.g. hf:HuggingFaceTB/SmolLM2-135M)")
    return prefix, rest


EMBEDDED_SPECS = ("embedded", "hf:embedded")
"""Model specs that name the embedded SmolLM2-135M-Instruct, as omitting `--model` does."""


@dataclass(frozen=True)
class ModelSpec:
    """One model, as every process builds it: a spec string (`hf:PATH`, `vllm:ID`; None, `embedded` or `hf:embedded`:
    the embedded default model) and its backend options. The run builds its backend from it, and each Ray replica
    builds its own from the same object (`Backend.built_from`), so no process needs another's backend."""

    spec: str | None = None
    args: str | Mapping[str, Any] | None = None

    def build(self) -> Backend:
        """The backend this spec names, built (not loaded: the model loads on first use)."""
        load_plugins()
        if self.spec is None or self.spec in EMBEDDED_SPECS:
            from evalsuite.backends.embedded import gguf_path  # local: importlib.metadata (16 ms) stays off --help

            backend = BACKENDS["hf"](str(gguf_path().parent), self.args, embedded=True)
        else:
            prefix, rest = split_model_spec(self.spec)
            backend = BACKENDS[prefix](rest, self.args)
        backend.built_from = self
        return backend


def load_backend(spec: "str | Backend | None", model_args: str | Mapping[str, Any] | None = None) -> Backend:
    """Build the backend a model spec names (`ModelSpec(spec, model_args).build()`); None (or `embedded`,
    `hf:embedded`) means the embedded default model; a Backend is reused."""
    if isinstance(spec, Backend):
        return spec
    return ModelSpec(spec, model_args).build()
