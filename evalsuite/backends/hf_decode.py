"""The decode loop of the hf backend: one forward per step for the whole batch, statistics reduced per step."""
from __future__ import annotations

import hashlib
import inspect
import time
from typing import TYPE_CHECKING

import torch

from evalsuite.backends.token_stats import logits_stats
from evalsuite.records import Generation, Request

if TYPE_CHECKING:
    from evalsuite.backends.hf import HFBackend


def _row_seed(req: Request, text: str) -> int:
    """Sampling seed of one request: its seed mixed with its prompt, independent of batch composition."""
    digest = hashlib.sha256(f"{req.gen.seed}\0{text}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def _choose(logits: torch.Tensor, reqs: list[Request], gens: list[torch.Generator | None]) -> torch.Tensor:
    """Greedy argmax, or per-row seeded sampling with temperature and top-p (exponential-race sampling)."""
    chosen = logits.argmax(-1)
    for i, (req, g) in enumerate(zip(reqs, gens)):
        if g is None:
            continue
        row = logits[i].float() / req.gen.temperature
        probs = torch.softmax(row, -1)
        if req.gen.top_p < 1.0:
            sorted_p, order = probs.sort(descending=True)
            drop = sorted_p.cumsum(-1) - sorted_p > req.gen.top_p
            probs = probs.clone()
            probs[order[drop]] = 0.0
        noise = torch.empty_like(probs).exponential_(generator=g)
        chosen[i] = (probs / noise).argmax()
    return chosen


def choice_token_ids(tok, choice: str) -> list[int]:
    """The first-token ids a reply can start `choice` with: the first token of `choice` and of `" " + choice`
    (tokenized without special tokens; a chat reply starts without the space, a raw `Assistant:` one with it),
    dropping a first token that is only whitespace."""
    ids = []
    for text in (choice, " " + choice):
        enc = tok(text, add_special_tokens=False)["input_ids"]
        if enc and tok.decode(enc[:1]).strip() and enc[0] not in ids:
            ids.append(enc[0])
    return ids


def _choice_logprobs(tok, logits: torch.Tensor, reqs: list[Request]) -> list[dict[str, float] | None]:
    """Per request with `choices`: log P(choice) at the first generated position, the full-vocabulary log-softmax
    summed over the choice's first-token variants (`choice_token_ids`). Callers renormalise over the choices."""
    out: list[dict[str, float] | None] = [None] * len(reqs)
    rows = [i for i, r in enumerate(reqs) if r.choices]
    if not rows:
        return out
    logp = torch.log_softmax(logits[rows].float(), dim=-1)
    for j, i in enumerate(rows):
        ids = {c: choice_token_ids(tok, c) for c in reqs[i].choices}
        flat = [t for v in ids.values() for t in v]
        if len(flat) != len(set(flat)):
            raise ValueError(f"choices {reqs[i].choices} share a first token; they cannot be told apart")
        out[i] = {c: float(torch.logsumexp(logp[j, v], 0)) if v else float("-inf") for c, v in ids.items()}
    return out


def _shared_prefill(model, input_ids: torch.Tensor, attn: torch.Tensor, pos: torch.Tensor, cache_kw: str):
    """(last logits, KV cache) with each distinct prompt of the batch prefilled once and its rows copied to every
    row that repeats it (the samples of one doc); None when no prompt repeats."""
    uniq, inv = torch.unique(torch.cat([input_ids, attn], dim=1), dim=0, return_inverse=True)
    if uniq.shape[0] == input_ids.shape[0]:
        return None
    inv_list = inv.tolist()
    reps = torch.tensor([inv_list.index(u) for u in range(uniq.shape[0])], device=input_ids.device)
    out = model(input_ids=input_ids[reps], attention_mask=attn[reps], position_ids=pos[reps], use_cache=True,
                logits_to_keep=1, **{cache_kw: None})
    cache = out.cache if cache_kw == "cache" else out.past_key_values
    cache.batch_select_indices(inv)
    return out.logits[inv, -1, :], cache


def _cache_kwarg(model) -> str:
    """transformers 5.x names the KV cache argument `cache`; older releases call it `past_key_values`."""
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


@torch.inference_mode()
def decode_batch(be: "HFBackend", reqs: list[Request]) -> list[Generation]:
    """Generate every request of one batch; return text, chosen ids and the wanted per-token statistics.

    Rows that finish are dropped from the batch (and its KV cache) once a quarter of it is done, so one long
    reply does not make the finished rows pay for every step.
    """
    t0 = time.perf_counter()
    tok, model = be.tokenizer, be.model
    rendered = [be.render(r) for r in reqs]
    ids_list = [tok(t, add_special_tokens=s)["input_ids"] for t, s in rendered]
    width = max(len(x) for x in ids_list)
    pad = tok.pad_token_id
    dev = be.device
    input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in ids_list], device=dev)
    attn = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids_list], device=dev)
    pos = (attn.cumsum(-1) - 1).clamp_min(0)
    gens: list[torch.Generator | None] = []
    for req, (text, _) in zip(reqs, rendered):
        g = None
        if req.gen.temperature > 0:
            g = torch.Generator(device=dev)
            g.manual_seed(_row_seed(req, text))
        gens.append(g)
    want = sorted({w for r in reqs for w in r.want} | {"logprob"})
    n = len(reqs)
    max_new = max(r.gen.max_tokens for r in reqs)
    window = max((len(s) for r in reqs for s in r.gen.stop), default=0) + 8
    ids_buf = torch.full((n, max_new), pad, dtype=torch.long, device=dev)
    stat_buf = {k: torch.zeros((n, max_new), dtype=torch.float32, device=dev) for k in want}
    lengths = [0] * n
    choice_lp: list[dict[str, float] | None] = [None] * n
    reason = ["length"] * n
    alive = list(range(n))
    finished = [False] * n
    eos = torch.tensor(sorted(be.eos_ids), device=dev)
    cache_kw = _cache_kwarg(model)
    cache = None
    shared = _shared_prefill(model, input_ids, attn, pos, cache_kw)
    for step in range(max_new):
        if step == 0 and shared is not None:
            logits, cache = shared
        else:
            out = model(input_ids=input_ids, attention_mask=attn, position_ids=pos, use_cache=True,
                        logits_to_keep=1, **{cache_kw: cache})
            cache = out.cache if cache_kw == "cache" else out.past_key_values
            logits = out.logits[:, -1, :]
        chosen = _choose(logits, [reqs[i] for i in alive], [gens[i] for i in alive])
        rows = torch.tensor(alive, device=dev)
        ids_buf[rows, step] = chosen
        for k, v in logits_stats(logits, chosen, want).items():
            stat_buf[k][rows, step] = v
        if step == 0:
            choice_lp = _choice_logprobs(tok, logits, reqs)
        is_eos = torch.isin(chosen, eos).tolist()
        keep = []
        for j, i in enumerate(alive):
            if finished[i]:
                continue
            finished[i] = True
            if is_eos[j]:
                reason[i] = "stop"
                continue
            lengths[i] += 1
            stops = reqs[i].gen.stop
            if stops:
                tail = tok.decode(ids_buf[i, max(0, step + 1 - window) : step + 1].tolist())
                if any(s in tail for s in stops):
                    reason[i] = "stop"
                    continue
            if lengths[i] < reqs[i].gen.max_tokens:
                finished[i] = False
                keep.append(j)
        if not keep:
            break
        input_ids = chosen.view(-1, 1)
        attn = torch.cat([attn, attn.new_ones(len(alive), 1)], dim=1)
        pos = pos[:, -1:] + 1
        if len(keep) <= 0.75 * len(alive):
            idx = torch.tensor(keep, device=dev)
            cache.batch_select_indices(idx)
            input_ids, attn, pos = input_ids[idx], attn[idx], pos[idx]
            alive = [alive[j] for j in keep]
    ids_rows = ids_buf.tolist()
    stat_rows = {k: v.cpu().tolist() for k, v in stat_buf.items()}
    seconds = time.perf_counter() - t0
    results = []
    for i, req in enumerate(reqs):
        k = lengths[i]
        text = tok.decode(ids_rows[i][:k], skip_special_tokens=True)
        cut = [text.find(s) for s in req.gen.stop if s in text]
        if cut:
            text = text[: min(cut)]
        results.append(
            Generation(
                text=text,
                token_ids=ids_rows[i][:k],
                stats={w: stat_rows[w][i][:k] for w in want if w in req.want or w == "logprob"},
                finish_reason=reason[i],
                backend="hf",
                model_id=be.model_id,
                seconds=seconds / n,
                prompt_tokens=len(ids_list[i]),
                choice_logprobs=choice_lp[i],
            )
        )
    return results
