"""Cost of the streamed per-token statistics (SPEC-metrics §3): the same GSM8K prompts, batch and token budget,
greedy, through the hf backend

1. with statistics off and on (logprob, entropy, self-certainty term): ratio on/off, target <= 1.10;
2. against the official two-pass self-certainty (generate, then a teacher-forced, right-padded forward over
   prompt + response with a full-vocabulary log-softmax, as the Self-Certainty repository does): streaming time /
   two-pass time, target <= 0.85; the two-pass pass also recomputes the streamed value at aligned positions, to
   show the streamed numbers are the same;
3. peak memory above the loaded model with statistics on minus off, at 64 and at 256 new tokens, each in a fresh
   process: it must not grow with vocabulary x length (a stored [batch, length, vocab] float32 array would).

Usage: python benchmarks/stats_overhead.py [--model hf:PATH] [--n 16] [--max-tokens 128] [--batch-size 8] [--memory-repeats 3]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import threading
import time

import torch

STATS_ON = ("logprob", "entropy", "sc_term")


def _requests(n: int, max_tokens: int, want: tuple[str, ...]):
    from evalsuite.protocols.base import render
    from evalsuite.records import GenParams, Request
    from evalsuite.tasks import catalog, load_docs

    card = catalog()["gsm8k"]
    return [Request(messages=(("user", render(card.prompts["cot"], d.fields)),), gen=GenParams(max_tokens=max_tokens),
                    want=want) for d in load_docs(card, limit=n)]


def _backend(model: str | None, batch_size: int):
    from evalsuite.backends.base import load_backend
    from evalsuite.registry import load_plugins

    load_plugins()
    be = load_backend(model, {"batch_size": batch_size})
    be.load()
    return be


def _timed_generate(be, reqs) -> tuple[float, list]:
    t0 = time.perf_counter()
    gens = be.generate(reqs)
    return time.perf_counter() - t0, gens


@torch.inference_mode()
def official_two_pass(be, reqs, texts: list[str], batch_size: int) -> tuple[list[float], list[float]]:
    """Self-certainty by a separate teacher-forced pass: prompt ids + separately tokenized response ids, right
    padded, full log-softmax per position; returns (official off-by-one positions, aligned positions) per reply."""
    tok, model = be.tokenizer, be.model
    rows = []
    for req, text in zip(reqs, texts):
        prompt, special = be.render(req)
        rows.append((tok(prompt, add_special_tokens=special)["input_ids"],
                     tok(text, add_special_tokens=False)["input_ids"]))
    official, aligned = [], []
    for b in range(0, len(rows), batch_size):
        chunk = rows[b : b + batch_size]
        width = max(len(p) + len(c) for p, c in chunk)
        ids = torch.full((len(chunk), width), tok.pad_token_id, dtype=torch.long, device=be.device)
        mask = torch.zeros_like(ids)
        for i, (p, c) in enumerate(chunk):
            ids[i, : len(p) + len(c)] = torch.tensor(p + c)
            mask[i, : len(p) + len(c)] = 1
        logits = model(input_ids=ids, attention_mask=mask).logits
        v = logits.shape[-1]
        conf = -(torch.log_softmax(logits.float(), -1) + math.log(v)).sum(-1) / v
        for i, (p, c) in enumerate(chunk):
            n = len(c)
            official.append(conf[i, len(p) : len(p) + n].mean().item() if n else float("nan"))
            aligned.append(conf[i, len(p) - 1 : len(p) - 1 + n].mean().item() if n else float("nan"))
    return official, aligned


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child_memory(model: str | None, n: int, batch: int, tokens: int, stats: bool) -> dict:
    """In a fresh process: peak RSS above the loaded, warmed-up model while generating."""
    be = _backend(model, batch)
    be.generate(_requests(min(n, batch), 4, STATS_ON if stats else ()))
    reqs = _requests(n, tokens, STATS_ON if stats else ())
    base = _rss()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.002)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    gens = be.generate(reqs)
    done.set()
    th.join()
    peak[0] = max(peak[0], _rss())
    return {"peak_above_base": peak[0] - base, "tokens": sum(len(g.token_ids) for g in gens),
            "vocab": int(be.model.config.vocab_size)}


LENGTHS = (64, 256)
"""New-token counts the memory measurement compares (--smoke: 4 and 8)."""


def _memory(args) -> dict:
    """Peak RSS above the loaded model, per (tokens, stats): the median of --memory-repeats fresh processes (one
    batch of prompts each), since a single RSS peak moves by tens of MiB with the allocator's timing."""
    out = {}
    for tokens in LENGTHS:
        for stats in (False, True):
            cmd = [sys.executable, __file__, "--child-memory", str(tokens), str(int(stats)), "--n",
                   str(args.batch_size), "--batch-size", str(args.batch_size)] + (
                       ["--model", args.model] if args.model else [])
            runs = [json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True)
                               .stdout.strip().splitlines()[-1]) for _ in range(args.memory_repeats)]
            peaks = sorted(r["peak_above_base"] for r in runs)
            out[(tokens, stats)] = {**runs[0], "peak_above_base": peaks[len(peaks) // 2], "peaks": peaks}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="hf:PATH (default: the embedded model)")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats per side (the minimum is reported)")
    ap.add_argument("--memory-repeats", type=int, default=3, help="fresh processes per memory measurement (median)")
    ap.add_argument("--memory-only", action="store_true", help="skip the timings; only the memory measurement")
    ap.add_argument("--child-memory", nargs=2, type=int, metavar=("TOKENS", "STATS"), help=argparse.SUPPRESS)
    ap.add_argument("--smoke", action="store_true", help="2 prompts, 4 tokens, one repeat (seconds): the script "
                    "still works")
    args = ap.parse_args()
    if args.smoke:
        global LENGTHS
        args.n, args.batch_size, args.max_tokens, args.repeats, args.memory_repeats = 2, 2, 4, 1, 1
        LENGTHS = (4, 8)
    if args.child_memory:
        print(json.dumps(child_memory(args.model, args.n, args.batch_size, *args.child_memory[:1],
                                      bool(args.child_memory[1]))))
        return
    if not args.memory_only:
        timings(args)
    memory_report(args)


def timings(args) -> None:
    """Statistics off vs on, and streaming vs the official two-pass method, on the same prompts."""
    be = _backend(args.model, args.batch_size)
    off_reqs = _requests(args.n, args.max_tokens, ())
    on_reqs = _requests(args.n, args.max_tokens, STATS_ON)
    be.generate(off_reqs[: args.batch_size])  # warm-up, not timed
    t_off, t_on, t_tf = [], [], []
    for _ in range(args.repeats):
        dt, gens_off = _timed_generate(be, off_reqs)
        t_off.append(dt)
        dt, gens_on = _timed_generate(be, on_reqs)
        t_on.append(dt)
        t0 = time.perf_counter()
        official, aligned = official_two_pass(be, off_reqs, [g.text for g in gens_off], args.batch_size)
        t_tf.append(time.perf_counter() - t0)
    assert [g.token_ids for g in gens_off] == [g.token_ids for g in gens_on], "statistics changed the greedy tokens"
    streamed = [sum(g.stats["sc_term"]) / len(g.stats["sc_term"]) for g in gens_on if g.stats["sc_term"]]
    same_tokens = [i for i, g in enumerate(gens_on)
                   if g.token_ids and be.tokenizer(g.text, add_special_tokens=False)["input_ids"] == g.token_ids]
    diff = max((abs(streamed[i] - aligned[i]) for i in same_tokens), default=float("nan"))
    off, on, tf = min(t_off), min(t_on), min(t_tf)
    ntok = sum(len(g.token_ids) for g in gens_on)
    print(f"device: {be.device} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores), "
          f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    print(f"model: {be.model_id}  prompts: {args.n}  batch: {args.batch_size}  max new tokens: {args.max_tokens}  "
          f"generated: {ntok} tokens  (min of {args.repeats} repeats)")
    print(f"generate, statistics off          : {off:8.2f} s")
    print(f"generate, statistics on (streamed): {on:8.2f} s   on/off ratio {on / off:.3f}  (target <= 1.10)")
    print(f"teacher-forced self-certainty pass: {tf:8.2f} s")
    print(f"official two-pass (off + forced)  : {off + tf:8.2f} s   streaming / two-pass {on / (off + tf):.3f}  "
          f"(target <= 0.85)")
    print(f"streamed vs recomputed self-certainty, {len(same_tokens)} replies that re-tokenize identically: "
          f"max |diff| {diff:.2e}")


def memory_report(args) -> None:
    """Peak memory with statistics on minus off at two lengths, against a stored [batch, length, vocab] array."""
    mem = _memory(args)
    vocab = mem[(LENGTHS[0], True)]["vocab"]
    print(f"peak memory above the loaded model (median of {args.memory_repeats} fresh processes, "
          f"{args.batch_size} prompts each):")
    for tokens in LENGTHS:
        a, b = mem[(tokens, False)]["peak_above_base"], mem[(tokens, True)]["peak_above_base"]
        dense = args.batch_size * tokens * vocab * 4
        print(f"  {tokens:3d} new tokens: off {a / 2**20:7.1f} MiB, on {b / 2**20:7.1f} MiB, on - off "
              f"{(b - a) / 2**20:+7.1f} MiB   (a stored [batch, {tokens}, {vocab}] float32 array: "
              f"{dense / 2**20:7.1f} MiB)")
        print(f"      all peaks, MiB: off {[round(x / 2**20, 1) for x in mem[(tokens, False)]['peaks']]}, "
              f"on {[round(x / 2**20, 1) for x in mem[(tokens, True)]['peaks']]}")
    growth = ((mem[(LENGTHS[1], True)]["peak_above_base"] - mem[(LENGTHS[1], False)]["peak_above_base"])
              - (mem[(LENGTHS[0], True)]["peak_above_base"] - mem[(LENGTHS[0], False)]["peak_above_base"]))
    print(f"  growth of (on - off) from {LENGTHS[0]} to {LENGTHS[1]} tokens: {growth / 2**20:+.1f} MiB vs "
          f"{args.batch_size * (LENGTHS[1] - LENGTHS[0]) * vocab * 4 / 2**20:.1f} MiB for vocab x length")


if __name__ == "__main__":
    main()
