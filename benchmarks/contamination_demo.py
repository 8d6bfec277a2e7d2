"""A real contaminated model, end to end: fine-tune the embedded SmolLM2-135M-Instruct on the member half of the
RL-MIA GSM8K docs (SFT on the chat prompt + the reference solution), then run every contamination detector on
members vs non-members with the fine-tuned and with the original model, and print ROC-AUC (95% CI) and TPR@5%FPR.

Usage: python benchmarks/contamination_demo.py [--docs 40] [--epochs 3] [--train-layers 8] [--max-tokens 64]
                                               [--cdd-samples 4] [--out DIR]
Data: EVALSUITE_DATA_DIR (or --data-dir) with rl_mia/benchmarks/..., else the pinned download.
The fine-tuned model is cached under <evalsuite cache>/demo/ by its settings, so a rerun skips training.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def sft_examples(tok, docs) -> list[tuple[list[int], int]]:
    """(token ids of chat prompt + solution + end of turn, prompt length) per member doc."""
    out = []
    for d in docs:
        chat = [{"role": m["role"], "content": m["content"]} for m in d.fields["prompt"]]
        prompt = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        a_ids = tok(d.fields["answer"] + tok.eos_token, add_special_tokens=False)["input_ids"]
        out.append((p_ids + a_ids, len(p_ids)))
    return out


def fine_tune(base: Path, out: Path, docs, epochs: int, layers: int, lr: float, seed: int, log) -> None:
    """SFT of the top `layers` decoder layers (and final norm) on the member docs; loss on solution tokens only."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    random.seed(seed)
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model.train()
    for p in model.parameters():
        p.requires_grad_(False)
    blocks = model.model.layers[-layers:] if layers > 0 else []
    params = [p for b in blocks for p in b.parameters()] + list(model.model.norm.parameters())
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    data = sft_examples(tok, docs)
    log(f"fine-tuning the top {layers} of {len(model.model.layers)} layers "
        f"({sum(p.numel() for p in params) / 1e6:.1f}M params) on {len(data)} member docs, {epochs} epochs")
    for ep in range(epochs):
        random.shuffle(data)
        t0, losses = time.perf_counter(), []
        for ids, n_prompt in data:
            x = torch.tensor([ids])
            labels = x.clone()
            labels[0, :n_prompt] = -100
            loss = model(input_ids=x, labels=labels).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
        log(f"  epoch {ep + 1}: mean solution loss {np.mean(losses):.3f} ({time.perf_counter() - t0:.0f}s)")
    model.eval()
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=".train-"))
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)


def member_accuracy(res) -> dict[str, float]:
    answers = [s for s in res.samples if s.kind == "answer" and s.sample_idx == 0]
    return {k: float(np.mean([s.correct for s in answers if s.member == want]))
            for k, want in (("members", True), ("non-members", False))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=40, help="RL-MIA GSM8K docs (half members, interleaved)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train-layers", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--cdd-samples", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default=None, help="run directories (default: a temp dir)")
    ap.add_argument("--retrain", action="store_true", help="fine-tune again even if a cached model exists")
    ap.add_argument("--smoke", action="store_true", help="4 docs, 1 epoch of 1 layer, 8 tokens (seconds): the "
                    "script still works, no figures to read")
    args = ap.parse_args()
    if args.smoke:
        args.docs, args.epochs, args.train_layers, args.max_tokens, args.cdd_samples = 4, 1, 1, 8, 2
        args.out = args.out or tempfile.mkdtemp(prefix="contamination-smoke-")
        shared = Path(__file__).resolve().parents[2] / "shared" / "data"  # CI's copy beside the clone
        if args.data_dir is None and not os.environ.get("EVALSUITE_DATA_DIR") and shared.is_dir():
            args.data_dir = str(shared)
    log = lambda m: print(m, flush=True)  # noqa: E731

    from evalsuite import evaluate
    from evalsuite.backends.embedded import cache_root, embedded_model_dir
    from evalsuite.tasks import catalog, load_docs

    t_all = time.perf_counter()
    card = catalog()["rl_mia_gsm8k"]
    docs = load_docs(card, limit=args.docs, data_dir=args.data_dir)
    members = [d for d in docs if d.fields["member"]]
    base = embedded_model_dir()
    key = hashlib.sha256(json.dumps([str(base.name), [d.doc_id for d in members], args.epochs, args.train_layers,
                                     args.lr, args.seed]).encode()).hexdigest()[:12]
    tuned = cache_root() / "demo" / f"smollm2-rlmia-gsm8k-{key}"
    tuned.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.retrain or not (tuned / "config.json").exists():
        fine_tune(base, tuned, members, args.epochs, args.train_layers, args.lr, args.seed, log)
    else:
        log(f"reusing the fine-tuned model at {tuned}")
    t_train = time.perf_counter() - t0
    out = Path(args.out or tempfile.mkdtemp(prefix="contamination-demo-"))
    results, timings = {}, {}
    for name, spec in (("original", None), ("fine-tuned", f"hf:{tuned}")):
        t0 = time.perf_counter()
        results[name] = evaluate(tasks="rl_mia_gsm8k", model=spec, limit=args.docs, data_dir=args.data_dir,
                                 output_dir=out / name, max_tokens=args.max_tokens, seed=args.seed,
                                 options={"cdd_samples": args.cdd_samples}, progress=False, log=log)
        timings[name] = time.perf_counter() - t0
    from evalsuite.metrics.contamination import DETECTORS

    def cell(res, metric: str, d: str) -> str:
        r = next(r for r in res.metrics if r.metric == f"{metric}[{d}]")
        if not math.isfinite(r.value):
            return "n/a"
        return f"{r.value:.3f} [{r.ci_low:.2f}, {r.ci_high:.2f}]" if metric == "mia_auc" else f"{r.value:.3f}"

    print(f"\nRL-MIA GSM8K, {len(docs)} docs ({len(members)} members, the fine-tuning set), greedy max "
          f"{args.max_tokens} tokens, {args.cdd_samples} samples at T=0.8; machine: {platform.machine()}, "
          f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}")
    print(f"{'detector':<15}{'AUC original [95% CI]':>28}{'AUC fine-tuned [95% CI]':>28}"
          f"{'TPR@5%FPR orig':>16}{'TPR@5%FPR ft':>14}")
    for d in DETECTORS:
        print(f"{d:<15}{cell(results['original'], 'mia_auc', d):>28}{cell(results['fine-tuned'], 'mia_auc', d):>28}"
              f"{cell(results['original'], 'mia_tpr_at_5fpr', d):>16}"
              f"{cell(results['fine-tuned'], 'mia_tpr_at_5fpr', d):>14}")
    for name, res in results.items():
        acc = member_accuracy(res)
        print(f"greedy accuracy, {name}: members {acc['members']:.2f}, non-members {acc['non-members']:.2f}; "
              f"{res.stats.gen_tokens} tokens generated in {timings[name]:.0f}s")
    print(f"fine-tuning {t_train:.0f}s; total {time.perf_counter() - t_all:.0f}s; runs in {out}")


if __name__ == "__main__":
    main()
