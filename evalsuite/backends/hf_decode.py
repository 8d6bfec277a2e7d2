"""The decode loop of the hf backend: one forward per step for the whole batch, statistics reduced per step."""
from __future__ import annotations

import hashlib
import inspect
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from evalsuite.backends.base import OnResult
from evalsuite.progress import tokens_decoded
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


@dataclass
class _Decode:
    """The state of one batch's decode loop: padded inputs, KV cache, per-row buffers and which rows are live.

    `alive` are the rows still in the model's batch (and KV cache); a row can be finished but still alive until
    enough rows finish to make dropping them worth a cache copy."""

    reqs: list[Request]
    prompt_lens: list[int]
    want: list[str]
    gens: list[torch.Generator | None]
    input_ids: torch.Tensor
    attn: torch.Tensor
    pos: torch.Tensor
    ids_buf: torch.Tensor
    stat_buf: dict[str, torch.Tensor]
    eos: torch.Tensor
    cache_kw: str
    window: int
    shared: tuple | None
    t0: float
    cache: object = None
    lengths: list[int] = field(default_factory=list)
    reason: list[str] = field(default_factory=list)
    finished: list[bool] = field(default_factory=list)
    alive: list[int] = field(default_factory=list)
    choice_lp: list[dict[str, float] | None] = field(default_factory=list)


def _prefill(be: "HFBackend", reqs: list[Request]) -> _Decode:
    """Tokenise and left-pad the batch, seed each sampled row, allocate the per-row buffers, and prefill repeated
    prompts once (the first step of the loop prefills the rest)."""
    tok, dev = be.tokenizer, be.device
    rendered = [be.render(r) for r in reqs]
    ids_list = [tok(t, add_special_tokens=s)["input_ids"] for t, s in rendered]
    width, pad = max(len(x) for x in ids_list), tok.pad_token_id
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
    n, max_new = len(reqs), max(r.gen.max_tokens for r in reqs)
    cache_kw = _cache_kwarg(be.model)
    return _Decode(
        reqs=reqs, prompt_lens=[len(x) for x in ids_list], want=want, gens=gens,
        input_ids=input_ids, attn=attn, pos=pos,
        ids_buf=torch.full((n, max_new), pad, dtype=torch.long, device=dev),
        stat_buf={k: torch.zeros((n, max_new), dtype=torch.float32, device=dev) for k in want},
        eos=torch.tensor(sorted(be.eos_ids), device=dev), cache_kw=cache_kw,
        window=max((len(s) for r in reqs for s in r.gen.stop), default=0) + 8,
        shared=_shared_prefill(be.model, input_ids, attn, pos, cache_kw), t0=time.perf_counter(),
        lengths=[0] * n, reason=["length"] * n, finished=[False] * n, alive=list(range(n)), choice_lp=[None] * n)


def _step(be: "HFBackend", st: _Decode, step: int) -> tuple[list[int], int]:
    """One forward for the live rows: choose each row's token, record its statistics, settle which rows finish.

    Returns (rows that finished at this step, tokens decoded for unfinished rows)."""
    if step == 0 and st.shared is not None:
        logits, st.cache = st.shared
    else:
        out = be.model(input_ids=st.input_ids, attention_mask=st.attn, position_ids=st.pos, use_cache=True,
                       logits_to_keep=1, **{st.cache_kw: st.cache})
        st.cache = out.cache if st.cache_kw == "cache" else out.past_key_values
        logits = out.logits[:, -1, :]
    alive = st.alive
    chosen = _choose(logits, [st.reqs[i] for i in alive], [st.gens[i] for i in alive])
    rows = torch.tensor(alive, device=st.ids_buf.device)
    st.ids_buf[rows, step] = chosen
    for k, v in logits_stats(logits, chosen, st.want).items():
        st.stat_buf[k][rows, step] = v
    if step == 0:
        st.choice_lp = _choice_logprobs(be.tokenizer, logits, st.reqs)
    keep, done, decoded = _settle(be, st, step, torch.isin(chosen, st.eos).tolist())
    if keep:
        st.input_ids = chosen.view(-1, 1)
        st.attn = torch.cat([st.attn, st.attn.new_ones(len(alive), 1)], dim=1)
        st.pos = st.pos[:, -1:] + 1
        if len(keep) <= 0.75 * len(alive):
            idx = torch.tensor(keep, device=st.ids_buf.device)
            st.cache.batch_select_indices(idx)
            st.input_ids, st.attn, st.pos = st.input_ids[idx], st.attn[idx], st.pos[idx]
            st.alive = [alive[j] for j in keep]
    return done, decoded


def _settle(be: "HFBackend", st: _Decode, step: int, is_eos: list[bool]) -> tuple[list[int], list[int], int]:
    """Mark the rows that end at this step (EOS, a stop string in the recent tail, or their own max tokens).

    Returns (positions in `alive` that go on, rows that just finished, tokens decoded by unfinished rows)."""
    keep, done, decoded = [], [], 0
    for j, i in enumerate(st.alive):
        if st.finished[i]:
            continue
        decoded += 1
        st.finished[i] = True
        done.append(i)
        if is_eos[j]:
            st.reason[i] = "stop"
            continue
        st.lengths[i] += 1
        stops = st.reqs[i].gen.stop
        if stops:
            tail = be.tokenizer.decode(st.ids_buf[i, max(0, step + 1 - st.window) : step + 1].tolist())
            if any(s in tail for s in stops):
                st.reason[i] = "stop"
                continue
        if st.lengths[i] < st.reqs[i].gen.max_tokens:
            st.finished[i] = False
            done.pop()
            keep.append(j)
    return keep, done, decoded


def _finish(be: "HFBackend", st: _Decode, i: int) -> Generation:
    """Row `i`'s generation: its tokens, text cut at the first stop string, and its wanted statistics.

    `seconds` is the batch's decode time until this row finished, shared among the batch's rows."""
    req, k = st.reqs[i], st.lengths[i]
    ids = st.ids_buf[i, :k].tolist()
    text = be.tokenizer.decode(ids, skip_special_tokens=True)
    cut = [text.find(s) for s in req.gen.stop if s in text]
    if cut:
        text = text[: min(cut)]
    return Generation(
        text=text,
        token_ids=ids,
        stats={w: st.stat_buf[w][i, :k].cpu().tolist() for w in st.want if w in req.want or w == "logprob"},
        finish_reason=st.reason[i],
        backend="hf",
        model_id=be.model_id,
        seconds=(time.perf_counter() - st.t0) / len(st.reqs),
        prompt_tokens=st.prompt_lens[i],
        choice_logprobs=st.choice_lp[i],
    )


@torch.inference_mode()
def decode_batch(be: "HFBackend", reqs: list[Request], on_result: OnResult | None = None) -> list[Generation]:
    """Generate every request of one batch; return text, chosen ids and the wanted per-token statistics.

    Each row is reported through `on_result(index, generation)` at the step it finishes, so a caller can store it
    while the rest of the batch decodes; each step's tokens go to the token-progress listener. Rows that finish
    are dropped from the batch (and its KV cache) once a quarter of it is done, so one long reply does not make
    the finished rows pay for every step.
    """
    st = _prefill(be, reqs)
    results: list[Generation | None] = [None] * len(reqs)
    for step in range(st.ids_buf.shape[1]):
        done, decoded = _step(be, st, step)
        tokens_decoded(decoded)
        for i in done:
            results[i] = _finish(be, st, i)
            if on_result is not None:
                on_result(i, results[i])
        if all(st.finished):
            break
    return results  # type: ignore[return-value]
