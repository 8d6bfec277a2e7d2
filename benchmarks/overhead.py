"""Harness overhead: the same 32 GSM8K prompts, batch 8, 256 new tokens, greedy, through raw
`transformers.generate` and through `evalsuite.evaluate` (statistics off and on). Prints wall times and ratios.

Usage: python benchmarks/overhead.py [--model hf:PATH] [--n 32] [--max-tokens 256]
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="hf:PATH (default: the embedded model)")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--smoke", action="store_true", help="2 prompts, 4 tokens (seconds): the script still works")
    args = ap.parse_args()
    if args.smoke:
        args.n, args.batch_size, args.max_tokens = 2, 2, 4

    from evalsuite import evaluate
    from evalsuite.backends.base import load_backend
    from evalsuite.protocols.base import render
    from evalsuite.tasks import catalog, load_docs

    be = load_backend(args.model, {"batch_size": args.batch_size})
    be.load()
    card = catalog()["gsm8k"]
    docs = load_docs(card, limit=args.n)
    tok, model = be.tokenizer, be.model
    prompts = [tok.apply_chat_template([{"role": "user", "content": render(card.prompts["cot"], d.fields)}],
                                       tokenize=False, add_generation_prompt=True) for d in docs]
    # Same batches for both sides: evalsuite sorts a round by prompt length, so raw does too.
    prompts.sort(key=len)

    def raw() -> tuple[float, int]:
        t0, ntok = time.perf_counter(), 0
        for i in range(0, len(prompts), args.batch_size):
            enc = tok(prompts[i : i + args.batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.inference_mode():
                out = model.generate(**enc, max_new_tokens=args.max_tokens, do_sample=False)
            new = out[:, enc["input_ids"].shape[1]:]
            ntok += int((~torch.isin(new, torch.tensor(sorted(be.eos_ids)))).sum())
        return time.perf_counter() - t0, ntok

    def ours(stats: bool) -> tuple[float, int]:
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            res = evaluate(tasks="gsm8k", model=be, limit=args.n, output_dir=out, max_tokens=args.max_tokens,
                           protocol="cot", token_stats=stats, progress=False, log=lambda m: None)
            return time.perf_counter() - t0, res.stats.gen_tokens

    raw()  # warm-up of kernels and caches, not timed
    t_raw, n_raw = raw()
    t_off, n_off = ours(False)
    t_on, n_on = ours(True)
    print(f"device: {be.device} ({platform.processor() or platform.machine()}), torch threads {torch.get_num_threads()}")
    print(f"model: {be.model_id}  prompts: {args.n}  batch: {args.batch_size}  max new tokens: {args.max_tokens}")
    print(f"raw transformers generate : {t_raw:8.2f} s  ({n_raw} tokens)")
    print(f"evalsuite, statistics off : {t_off:8.2f} s  ({n_off} tokens)  ratio {t_off / t_raw:.3f}  (target <= 1.05)")
    print(f"evalsuite, statistics on  : {t_on:8.2f} s  ({n_on} tokens)  ratio {t_on / t_raw:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()
