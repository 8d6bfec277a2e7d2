"""The harness itself at scale: `evaluate()` with the scripted `mock:` backend over the shipped GSM8K (every doc,
`--full`), a multi-round protocol and enough samples per doc to reach each size in generations.

Each size runs in its own process (timed from process start to exit, so imports and the final outputs count), then
once more on the same output folder (every generation read back from the store, 0 model calls). Per size it
prints generations/s end to end, reply tokens/s, peak RSS of the process, bytes on disk per generation (the sample
store and samples.jsonl apart, and the stored per-token statistics per token), the re-run's wall time, and where
the run's time went by stage (backend, store, scoring, summaries, outputs, the rest), then one JSON line per size.

Targets (issue 21, 2 cores): >= 10,000 generations/s at 100k generations of `review`; >= 500,000 reply tokens/s
with 512-token replies (`--reply-tokens 512 --protocol cot`); <= 20 bytes per token of stored statistics; peak RSS
<= 600 MB at 1M generations and flat from 100k; re-run of 1M from the store <= 120 s.

Usage: python benchmarks/harness.py [--sizes 10000,100000,1000000] [--protocol review] [--rounds 1]
                                    [--reply-tokens N] [--smoke] [--keep DIR] [--json]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GSM8K_DOCS = 1319
REPLY = "So the answer is 5 + 3 = 8."
STAGES: dict[str, list[tuple[str, str | None, str]]] = {
    "backend": [("evalsuite.backends.mock", "MockBackend", "_generation")],
    "store": [("evalsuite.store", "SampleStore", "put_many"), ("evalsuite.store", "SampleStore", "get_many"),
              ("evalsuite.store", "SampleStore", "put_chunk")],
    "scoring": [("evalsuite.engine", None, "_score_answers")],
    "summaries": [("evalsuite.run_outputs", "RunOutputs", "summarize")],
    "outputs": [("evalsuite.run_outputs", "RunOutputs", "write"), ("evalsuite.run_outputs", "RunOutputs", "live"),
                ("evalsuite.run_outputs", "RunOutputs", "append")],
}
"""Stage -> the functions whose time (exclusive of nested timed calls) counts for it; absent ones are skipped, so
the same harness times older and newer versions of evalsuite."""


def gens_per_chain(protocol: str, rounds: int) -> int:
    """Generations one chain makes: `review` answers, then finds problems and improves `rounds` times."""
    return 1 + 2 * rounds if protocol == "review" else rounds if protocol in ("repeat", "oracle") else 1


def install_timers(totals: dict[str, float]) -> None:
    """Wrap each stage's functions with an exclusive timer that adds into `totals[stage]`."""
    import functools
    import importlib

    stack: list[float] = []  # time spent in nested timed calls, one slot per open call

    def timed(stage: str, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            stack.append(0.0)
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent = time.perf_counter() - t0
                nested = stack.pop()
                totals[stage] = totals.get(stage, 0.0) + spent - nested
                if stack:
                    stack[-1] += spent
        return wrapper

    for stage, targets in STAGES.items():
        for mod, cls, name in targets:
            owner = importlib.import_module(mod)
            owner = getattr(owner, cls) if cls else owner
            if hasattr(owner, name):
                setattr(owner, name, timed(stage, getattr(owner, name)))


def child(args: argparse.Namespace) -> None:
    """One run in this process; prints a JSON line of its counts and stage times."""
    t0 = time.perf_counter()
    from evalsuite import evaluate

    totals: dict[str, float] = {}
    install_timers(totals)
    reply = REPLY if not args.reply_tokens else ("x" * (args.reply_tokens - len(REPLY)) + REPLY)
    res = evaluate(tasks="gsm8k", model="mock:bench", model_args={"reply": reply, "batch_size": args.batch_size},
                   protocol=args.protocol, samples=args.samples, temperature=0.7, rounds=args.rounds,
                   max_tokens=max(512, args.reply_tokens), limit=args.limit,
                   options=None if args.limit else {"full": True}, output_dir=args.out, progress=False,
                   log=lambda m: None, **({"live_every": args.live_every} if args.live_every is not None else {}))
    wall = time.perf_counter() - t0
    totals["other"] = max(wall - sum(totals.values()), 0.0)
    print(json.dumps({"generated": res.stats.generated, "from_store": res.stats.from_store,
                      "tokens": res.stats.gen_tokens, "inproc_s": wall, "stages": totals}))


def stats_bytes(store: Path) -> tuple[int, int]:
    """(bytes of stored per-token statistics, tokens) in a sample store, whichever layout it has."""
    db = sqlite3.connect(store)
    try:
        cols = {r[1] for r in db.execute("PRAGMA table_info(generations)")}
        if "stats" in cols:
            size, tokens = db.execute("SELECT SUM(LENGTH(stats)), SUM(n_tokens) FROM generations").fetchone()
            return int(size or 0), int(tokens or 0)
        size = tokens = 0
        for (g,) in db.execute("SELECT generation FROM generations"):
            d = json.loads(g)
            size += len(json.dumps(d["stats"]).encode())
            tokens += len(d["token_ids"])
        return size, tokens
    finally:
        db.close()


class _Popen(subprocess.Popen):
    """Popen that keeps the child's own peak RSS (from wait4) instead of the process-wide children maximum."""

    peak_rss = 0

    def _try_wait(self, wait_flags):
        pid, sts, ru = os.wait4(self.pid, wait_flags)
        if pid:
            self.peak_rss = ru.ru_maxrss * 1024
        return pid, sts


def spawn(cmd: list[str]) -> tuple[float, int, dict]:
    """Run `cmd`; (wall seconds from start to exit, peak RSS in bytes, its last stdout line as JSON)."""
    t0 = time.perf_counter()
    proc = _Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(err[-3000:])
        raise SystemExit(f"harness: child run failed (exit {proc.returncode}): {' '.join(cmd)}")
    return wall, proc.peak_rss, json.loads(out.strip().splitlines()[-1])


def measure(size: int, args: argparse.Namespace, root: Path) -> dict:
    """Run one size (and its re-run from the store); the row of figures for it."""
    per_chain = gens_per_chain(args.protocol, args.rounds)
    docs = args.limit or GSM8K_DOCS
    samples = max(1, math.ceil(size / (docs * per_chain)))
    out = root / f"n{size}"
    cmd = [sys.executable, __file__, "--child", "--out", str(out), "--samples", str(samples), "--protocol",
           args.protocol, "--rounds", str(args.rounds), "--reply-tokens", str(args.reply_tokens), "--batch-size",
           str(args.batch_size)] + (["--limit", str(args.limit)] if args.limit else []) + (
           ["--live-every", str(args.live_every)] if args.live_every is not None else [])
    wall, rss, got = spawn(cmd)
    store = out / "samples.sqlite"
    store_bytes = sum(p.stat().st_size for p in out.glob("samples.sqlite*"))
    jsonl = (out / "samples.jsonl").stat().st_size
    s_bytes, s_tokens = stats_bytes(store)
    re_wall, re_rss, re_got = spawn(cmd)
    gens = got["generated"]
    return {
        "size": size, "protocol": args.protocol, "rounds": args.rounds, "samples": samples, "generations": gens,
        "reply_tokens": got["tokens"], "wall_s": round(wall, 2), "gen_per_s": round(gens / wall, 1),
        "tokens_per_s": round(got["tokens"] / wall, 1), "peak_rss_mb": round(rss / 2**20, 1),
        "store_bytes_per_gen": round(store_bytes / gens, 1), "jsonl_bytes_per_gen": round(jsonl / gens, 1),
        "stats_bytes_per_token": round(s_bytes / s_tokens, 2) if s_tokens else None,
        "rerun_s": round(re_wall, 2), "rerun_from_store": re_got["from_store"], "rerun_generated": re_got["generated"],
        "rerun_peak_rss_mb": round(re_rss / 2**20, 1),
        "stages_s": {k: round(v, 2) for k, v in sorted(got["stages"].items(), key=lambda kv: -kv[1])},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000,1000000", help="generations per run, comma-separated")
    p.add_argument("--protocol", default="review")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--reply-tokens", type=int, default=0, help="reply length in tokens (mock: characters); "
                   "0 = the short scripted reply")
    p.add_argument("--batch-size", type=int, default=8, help="mock backend batch size")
    p.add_argument("--limit", type=int, default=None, help="docs (default: all 1319)")
    p.add_argument("--live-every", type=float, default=None, help="pass --live-every SECONDS (newer evalsuite)")
    p.add_argument("--smoke", action="store_true", help="one tiny run (seconds): checks the script still works")
    p.add_argument("--keep", type=Path, default=None, help="keep the run folders here")
    p.add_argument("--json", action="store_true", help="only the JSON lines")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--samples", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return 0
    if args.smoke:
        args.sizes, args.limit = "120", args.limit or 20
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        print(f"harness: --sizes must be comma-separated integers, got {args.sizes!r}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="evalsuite-harness-") as tmp:
        root = args.keep or Path(tmp)
        rows = [measure(n, args, root) for n in sizes]
    if not args.json:
        print(f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}; mock backend, gsm8k, --protocol "
              f"{args.protocol} --rounds {args.rounds} --temperature 0.7")
        print(f"{'generations':>11} {'wall s':>7} {'gen/s':>8} {'tok/s':>9} {'RSS MB':>7} {'store B/gen':>11} "
              f"{'jsonl B/gen':>11} {'stats B/tok':>11} {'re-run s':>8}  stages (s)")
        for r in rows:
            stages = " ".join(f"{k} {v:.1f}" for k, v in r["stages_s"].items())
            print(f"{r['generations']:>11} {r['wall_s']:>7.1f} {r['gen_per_s']:>8.0f} {r['tokens_per_s']:>9.0f} "
                  f"{r['peak_rss_mb']:>7.0f} {r['store_bytes_per_gen']:>11.0f} {r['jsonl_bytes_per_gen']:>11.0f} "
                  f"{r['stats_bytes_per_token'] or 0:>11.1f} {r['rerun_s']:>8.1f}  {stages}")
    for r in rows:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
