"""Cost of k correction rounds: `review` with k = 1, 2, 3 on the same GSM8K docs, greedy. Rounds are synchronous
across docs (one batched backend call per round), so a k-round run should cost about the sum of its rounds'
generation time. Prints, per k, the run's wall time, the backend's generation time and their ratio.

Usage: python benchmarks/rounds.py [--model hf:PATH] [--n 32] [--max-tokens 128] [--batch-size 8] [--ks 1,2,3]
                                  [--threads N]
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="hf:PATH (default: the embedded model)")
    ap.add_argument("--n", type=int, default=32, help="GSM8K docs")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--ks", default="1,2,3", help="correction rounds to time")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (1 is far faster on a CPU shared with other jobs)")
    ap.add_argument("--smoke", action="store_true", help="2 docs, 4 tokens, k = 1 (seconds): the script still works")
    args = ap.parse_args()
    if args.smoke:
        args.n, args.batch_size, args.max_tokens, args.ks = 2, 2, 4, "1"
    if args.threads:
        torch.set_num_threads(args.threads)

    from evalsuite import evaluate
    from evalsuite.backends.base import load_backend
    from evalsuite.registry import load_plugins

    load_plugins()
    be = load_backend(args.model, {"batch_size": args.batch_size})
    be.load()
    with tempfile.TemporaryDirectory() as warm:  # kernels, data cache and imports, not timed
        evaluate(tasks="gsm8k", model=be, limit=min(args.n, args.batch_size), output_dir=warm, max_tokens=4,
                 protocol="review", rounds=1, progress=False, log=lambda m: None)
    print(f"device: {be.device} ({platform.processor() or platform.machine()}, {os.cpu_count()} cpus), "
          f"torch threads {torch.get_num_threads()}")
    print(f"model: {be.model_id}  docs: {args.n}  batch: {args.batch_size}  max new tokens: {args.max_tokens}")
    print(f"{'k':>2} {'engine rounds':>13} {'requests':>8} {'tokens':>7} {'generation s':>12} {'wall s':>8} "
          f"{'wall/gen':>8}  (target <= 1.10)")
    for k in (int(x) for x in args.ks.split(",")):
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            res = evaluate(tasks="gsm8k", model=be, limit=args.n, output_dir=out, max_tokens=args.max_tokens,
                           protocol="review", rounds=k, progress=False, log=lambda m: None)
            wall = time.perf_counter() - t0
        st = res.stats
        print(f"{k:>2} {st.rounds:>13} {st.generated:>8} {st.gen_tokens:>7} {st.gen_seconds:>12.1f} {wall:>8.1f} "
              f"{wall / st.gen_seconds:>8.3f}")


if __name__ == "__main__":
    main()
