"""Per-token statistics inside vLLM's sampler, reduced from the full logits on the device.

A logits processor (`_vllm_hooks.StatsProcessor`) hands each step's rows of the tagged requests to a `StatsRecorder`
here: it computes the wanted scalars (entropy, self-certainty term, Min-K%++ mu/sigma, top-k entropy) from the
full raw logits with `token_stats.logits_stats`, gathers the log-probs of `Request.choices` at the first generated
position, and forces the tokens of teacher-forced requests. Results stay on the device until the backend drains
them once per `generate` call through a worker extension, so only scalars ever cross a process boundary.

Nothing here imports vLLM: plugin discovery imports this module on machines without it.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

TAG = "evalsuite"
_RECORDERS: "weakref.WeakSet[StatsRecorder]" = weakref.WeakSet()


@dataclass(frozen=True)
class RowPlan:
    """What one request asks of the processor, carried in `SamplingParams.extra_args[TAG]`.

    `force` teacher-forces those token ids at output positions 0..len-1; `offset` 1 gathers each forced token's
    log-prob one position later (the Self-Certainty repository's convention, SPEC-metrics §3.2).
    """

    tag: str
    want: tuple[str, ...]
    prompt_len: int
    force: tuple[int, ...] = ()
    offset: int = 0
    choice_ids: tuple[int, ...] = ()

    def to_args(self) -> dict[str, Any]:
        return {TAG: {"tag": self.tag, "want": list(self.want), "prompt_len": self.prompt_len,
                      "force": list(self.force), "offset": self.offset, "choice_ids": list(self.choice_ids)}}


def read_plan(params: Any) -> RowPlan | None:
    """The RowPlan a SamplingParams carries, or None for requests that want nothing from the processor."""
    extra = getattr(params, "extra_args", None) or {}
    d = extra.get(TAG)
    if not d:
        return None
    return RowPlan(tag=d["tag"], want=tuple(d["want"]), prompt_len=int(d["prompt_len"]),
                   force=tuple(d.get("force", ())), offset=int(d.get("offset", 0)),
                   choice_ids=tuple(d.get("choice_ids", ())))


class StatsRecorder:
    """Accumulates one device tensor of statistics per sampler step; `drain` moves them to the host at once."""

    def __init__(self) -> None:
        self.steps: list[tuple[list[str], list[int], tuple[str, ...], Any]] = []
        self.choices: list[tuple[list[str], Any]] = []
        _RECORDERS.add(self)

    def process(self, logits, rows: Sequence[int], plans: Sequence[RowPlan], idxs: Sequence[int]):
        """Record statistics for `rows` of `logits` ([N, V] float32), whose sampled tokens land at output
        positions `idxs`; then force teacher-forced rows in place. Returns the (possibly modified) logits."""
        import torch

        from evalsuite.backends.token_stats import logits_stats  # local: imports torch, which loads with the model

        keep = [j for j, i in enumerate(idxs) if i >= 0]
        if not keep:
            return logits
        rows = [rows[j] for j in keep]
        plans = [plans[j] for j in keep]
        idxs = [idxs[j] for j in keep]
        dev = logits.device
        sub = logits[torch.tensor(rows, device=dev)].float()
        names = tuple(sorted({w for p in plans for w in p.want if w != "logprob"}))
        gather = [_gather_target(p, i) for p, i in zip(plans, idxs)]
        if any(g is not None for g in gather):
            names = names + ("logprob",)
        chosen = torch.tensor([g if g is not None else 0 for g in gather], device=dev, dtype=torch.long)
        if names:
            stats = logits_stats(sub, chosen, names)
            self.steps.append(([p.tag for p in plans], idxs, names,
                               torch.stack([stats[n] for n in names], dim=-1).detach()))
        first = [j for j, (p, i) in enumerate(zip(plans, idxs)) if p.choice_ids and i == 0]
        if first:
            width = max(len(plans[j].choice_ids) for j in first)
            ids = torch.tensor([list(plans[j].choice_ids) + [0] * (width - len(plans[j].choice_ids))
                                for j in first], device=dev)
            logp = torch.log_softmax(sub[torch.tensor(first, device=dev)], dim=-1)
            self.choices.append(([plans[j].tag for j in first], logp.gather(-1, ids).detach()))
        forced = [(rows[j], p.force[i]) for j, (p, i) in enumerate(zip(plans, idxs)) if i < len(p.force)]
        if forced:
            r = torch.tensor([f[0] for f in forced], device=dev)
            t = torch.tensor([f[1] for f in forced], device=dev)
            logits[r] = float("-inf")
            logits[r, t] = 0.0
        return logits

    def drain(self) -> dict[str, dict[str, Any]]:
        """Move everything recorded to the host: tag -> {"stats": {name: {pos: value}}, "choices": [...]}."""
        out: dict[str, dict[str, Any]] = {}
        for tags, idxs, names, tensor in self.steps:
            values = tensor.cpu().tolist()
            for tag, idx, row in zip(tags, idxs, values):
                stats = out.setdefault(tag, {"stats": {}, "choices": None})["stats"]
                for name, v in zip(names, row):
                    stats.setdefault(name, {})[idx] = v
        for tags, tensor in self.choices:
            for tag, row in zip(tags, tensor.cpu().tolist()):
                out.setdefault(tag, {"stats": {}, "choices": None})["choices"] = row
        self.steps, self.choices = [], []
        return out


def _gather_target(plan: RowPlan, idx: int) -> int | None:
    """The forced token whose log-prob this row's distribution gives (None: not a scored position)."""
    j = idx - plan.offset
    return plan.force[j] if plan.force and 0 <= j < len(plan.force) else None


def drain_all() -> dict[str, dict[str, Any]]:
    """Drain every recorder in this process (one per sampler); called on each worker by the backend."""
    out: dict[str, dict[str, Any]] = {}
    for rec in list(_RECORDERS):
        for tag, d in rec.drain().items():
            merge_into(out, tag, d)
    return out


def merge_into(out: dict[str, dict[str, Any]], tag: str, d: dict[str, Any]) -> None:
    """Merge one request's drained record into `out` (workers of a tensor-parallel group may each hold one)."""
    cur = out.setdefault(tag, {"stats": {}, "choices": None})
    for name, by_pos in d["stats"].items():
        cur["stats"].setdefault(name, {}).update(by_pos)
    if d.get("choices") is not None:
        cur["choices"] = d["choices"]


def merge_workers(results: Iterable[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """One record per tag from the per-worker results of a collective RPC."""
    out: dict[str, dict[str, Any]] = {}
    for res in results:
        for tag, d in (res or {}).items():
            merge_into(out, tag, d)
    return out


def series(record: dict[str, Any] | None, name: str, positions: Sequence[int], tag: str) -> list[float]:
    """The values of statistic `name` at output `positions`; a missing position is an error, never a guess."""
    by_pos = ((record or {}).get("stats") or {}).get(name)
    if by_pos is None:
        raise RuntimeError(f"vLLM statistics processor returned no {name!r} for request {tag}")
    missing = [p for p in positions if p not in by_pos]
    if missing:
        raise RuntimeError(f"vLLM statistics processor skipped positions {missing[:5]} of request {tag} "
                           f"({name}); the model runner's position bookkeeping is not supported")
    return [float(by_pos[p]) for p in positions]
