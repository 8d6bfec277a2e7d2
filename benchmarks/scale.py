"""Scale-out: the same correctbench slice in process, and on 1 and 2 Ray replicas (a local Ray unless RAY_ADDRESS).

Reports per configuration the wall time, generated tokens per second of generation time, the ratio to one
replica, and the driver's overhead per round: the time a round spends outside the busiest replica's generation
(scheduling, transfer, storing, scoring and the protocol between rounds), as a share of that generation time.
Target: at most 5% on a 2-core machine. Samples must be byte-identical across configurations; this checks it.
Run: `flock /tmp/evalsuite-model.lock python benchmarks/scale.py --limit 2 --max-tokens 32 [--json]`.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def run_one(label: str, out: Path, args: argparse.Namespace, executor: str | None, replicas: int | None) -> dict:
    """One evaluate() call; its timings, throughput and (for Ray) the driver's overhead per round."""
    from evalsuite import evaluate

    t0 = time.perf_counter()
    res = evaluate(tasks=args.tasks, model=args.model, limit=args.limit, max_tokens=args.max_tokens,
                   rounds=args.rounds, output_dir=out, progress=False, log=lambda m: None,
                   executor=executor, replicas=replicas)
    wall = time.perf_counter() - t0
    st = res.stats
    ex = json.loads((out / "results.json").read_text())["execution"]
    row = {"config": label, "wall_s": round(wall, 2), "generate_s": round(st.gen_seconds, 2),
           "tokens": st.gen_tokens, "tokens_per_s": round(st.gen_tokens / st.gen_seconds, 1) if st.gen_seconds else 0,
           "requests": st.generated, "rounds": st.rounds}
    rounds = ex.get("rounds") or []
    if rounds:
        busy = sum(r["busiest_replica_seconds"] for r in rounds)
        over = [r["seconds"] - r["busiest_replica_seconds"] + r["driver_seconds_before"] for r in rounds]
        row.update(replicas=ex["replicas"], overhead_per_round_s=round(sum(over) / len(over), 3),
                   overhead_pct=round(100 * sum(over) / busy, 2) if busy else None,
                   per_replica_tokens_per_s=[r["tokens_per_s"] for r in ex["replica_info"]])
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="correctbench_gsm8k")
    p.add_argument("--model", default=None, help="model spec (default: the embedded SmolLM2-135M-Instruct)")
    p.add_argument("--limit", type=int, default=4)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="evalsuite-scale-") as tmp:
        configs = [("in-process", None, None), ("ray x1", "ray", 1), ("ray x2", "ray", 2)]
        for i, (label, executor, replicas) in enumerate(configs):
            rows.append(run_one(label, Path(tmp) / str(i), args, executor, replicas))
        samples = {(Path(tmp) / str(i) / "samples.jsonl").read_bytes() for i in range(len(configs))}
    one = next(r for r in rows if r["config"] == "ray x1")["tokens_per_s"]
    for r in rows:
        r["ratio_to_ray_x1"] = round(r["tokens_per_s"] / one, 2) if one else None
    report = {"rows": rows, "samples_identical": len(samples) == 1, "target_overhead_pct": 5.0}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for r in rows:
            extra = (f", driver overhead {r['overhead_per_round_s']:.3f} s/round ({r['overhead_pct']}% of generation)"
                     if "overhead_pct" in r else "")
            print(f"{r['config']:>10}: wall {r['wall_s']:.1f} s, generate {r['generate_s']:.1f} s, "
                  f"{r['tokens']} tokens, {r['tokens_per_s']:.1f} tok/s (x{r['ratio_to_ray_x1']} of ray x1){extra}")
        print(f"samples.jsonl identical across configurations: {report['samples_identical']}")
    return 0 if report["samples_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
