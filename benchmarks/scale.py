"""Scale-out: the same correctbench slice in process, and on 1 and 2 Ray replicas (a local Ray unless RAY_ADDRESS).

Reports per configuration the wall time, generated tokens per second of generation time, the ratio to one
replica, and the driver's overhead per round: the time a round spends outside the busiest replica's generation
(scheduling, transfer, storing, scoring and the protocol between rounds), as a share of that generation time.
Target: at most 5% on a 2-core machine. Samples must be byte-identical across configurations; this checks it.
Run: `flock /tmp/evalsuite-model.lock python benchmarks/scale.py --limit 2 --max-tokens 32 [--json]`.

`--mock` measures the driver instead: replicas of the `mock:` backend with its latency model (`--latency-ms 5`: a
replica answers 200 requests/s while sleeping, like a GPU replica that costs the driver no CPU), `--replicas
1,4,16,32` on a local Ray, each given about `--seconds` of work. Per replica count it prints throughput (generations
per second of the rounds' wall time), scaling efficiency = throughput / (replicas x the 1-replica throughput), and the
driver's busy share (its process CPU time / wall time during the rounds). Targets (issue 21): efficiency >= 0.9 at
16 replicas, >= 0.8 at 32. `--smoke` runs one tiny configuration of either mode in seconds.
"""
from __future__ import annotations

import argparse
import json
import os
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


def run_mock(args: argparse.Namespace) -> int:
    """`--mock`: throughput, scaling efficiency and the driver's busy share per replica count."""
    from evalsuite import evaluate
    from evalsuite.executors.ray import RayExecutor

    try:
        counts = sorted({1, *(int(x) for x in args.replicas.split(","))})
    except ValueError:
        print(f"scale.py: --replicas must be comma-separated integers, got {args.replicas!r}", file=sys.stderr)
        return 2
    per_replica = 1000.0 / args.latency_ms
    timing = {"wall": 0.0, "cpu": 0.0}
    run_round = RayExecutor.run_round

    def timed(self, items, on_result):
        w0, c0 = time.perf_counter(), time.process_time()
        try:
            return run_round(self, items, on_result)
        finally:
            timing["wall"] += time.perf_counter() - w0
            timing["cpu"] += time.process_time() - c0

    RayExecutor.run_round = timed  # type: ignore[method-assign]
    rows = []
    with tempfile.TemporaryDirectory(prefix="evalsuite-scale-") as tmp:
        for n in counts:
            gens = max(n * args.batch_size * 4, int(n * per_replica * args.seconds))
            docs = min(1319, gens)
            samples = -(-gens // docs)
            timing.update(wall=0.0, cpu=0.0)
            res = evaluate(tasks="gsm8k", model="mock:scale", protocol="direct", limit=docs, samples=samples,
                           temperature=0.7, model_args={"reply": "So the answer is 5 + 3 = 8.",
                                                        "latency_ms": args.latency_ms,
                                                        "batch_size": args.batch_size},
                           output_dir=Path(tmp) / f"x{n}", progress=False, log=lambda m: None, executor="ray",
                           replicas=n)
            rows.append({"replicas": n, "generations": res.stats.generated, "rounds_s": round(timing["wall"], 2),
                         "gen_per_s": round(res.stats.generated / timing["wall"], 1),
                         "driver_busy_share": round(timing["cpu"] / timing["wall"], 3)})
    one = rows[0]["gen_per_s"]
    for r in rows:
        r["efficiency"] = round(r["gen_per_s"] / (r["replicas"] * one), 3)
        r["ideal_gen_per_s"] = r["replicas"] * per_replica
    if args.json:
        print(json.dumps({"rows": rows, "latency_ms": args.latency_ms}, indent=2))
        return 0
    print(f"mock replicas of {per_replica:.0f} gen/s each (latency {args.latency_ms} ms/request, batches of "
          f"{args.batch_size}), local Ray, {os.cpu_count()} CPUs")
    print(f"{'replicas':>8} {'generations':>11} {'rounds s':>8} {'gen/s':>8} {'efficiency':>10} {'driver busy':>11}")
    for r in rows:
        print(f"{r['replicas']:>8} {r['generations']:>11} {r['rounds_s']:>8.1f} {r['gen_per_s']:>8.0f} "
              f"{r['efficiency']:>10.3f} {r['driver_busy_share']:>11.2f}")
    for r in rows:
        print(json.dumps(r))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="correctbench_gsm8k")
    p.add_argument("--model", default=None, help="model spec (default: the embedded SmolLM2-135M-Instruct)")
    p.add_argument("--limit", type=int, default=4)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.add_argument("--mock", action="store_true", help="mock replicas with a latency model: the driver's scaling")
    p.add_argument("--replicas", default="1,2,4,8,16,32", help="--mock: replica counts")
    p.add_argument("--latency-ms", type=float, default=5.0, help="--mock: per-request latency of a replica")
    p.add_argument("--batch-size", type=int, default=8, help="--mock: requests per chunk")
    p.add_argument("--seconds", type=float, default=8.0, help="--mock: about this much work per configuration")
    p.add_argument("--smoke", action="store_true", help="one tiny configuration (seconds): the script still works")
    args = p.parse_args(argv)
    if args.mock:
        if args.smoke:
            args.replicas, args.seconds = "1,2", 0.5
        return run_mock(args)
    if args.smoke:
        args.limit, args.max_tokens = 1, 4
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
