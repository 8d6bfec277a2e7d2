"""Sandbox throughput on CRUXEval's 800 gold assertions, with every limit on, against the floor.

Each program is the official check `f"{code}\\nassert {output} == f({input})"`; all 800 must pass.
The floor is the least any process-per-program runner pays: a bare `python -I -S -c` subprocess per
program, with no limits and no isolation at all. Target: >= 100 programs/s on a 2-core machine.
Run as root it measures both modes: root, then (with --as-user UID, default 54321) an ordinary user
whose programs get their own user namespace (tests/sandbox/as_user.py drops the privileges).

    python benchmarks/sandbox.py [--rounds 3] [--workers N] [--as-user UID | --no-user]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from evalsuite.sandbox import Sandbox  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "evalsuite" / "tasks" / "cruxeval" / "cruxeval.jsonl"
"""The shipped CRUXEval file (the task folder since benchmarks became one folder each under evalsuite/tasks/)."""


def load_programs() -> list[str]:
    """The 800 gold checks, in the official form `assert {output} == {generation}`."""
    records = [json.loads(line) for line in DATA.read_text().splitlines()]
    return [f"{r['code']}\nassert {r['output']} == f({r['input']})" for r in records]


def bare_subprocess(code: str) -> bool:
    """The floor: a fresh interpreter per program, nothing else."""
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code], env={}, capture_output=True, timeout=30)
    return done.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--as-user", type=int, default=54321, help="uid for the ordinary-user mode (as root)")
    parser.add_argument("--no-user", action="store_true", help="measure this process's mode only")
    parser.add_argument("--no-floor", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--smoke", action="store_true", help="the first 20 programs, one round, this process's "
                        "mode only (seconds): the script still works")
    args = parser.parse_args()
    mode = "root" if os.geteuid() == 0 else "ordinary user (user namespace)"
    programs = load_programs()
    assert len(programs) == 800, len(programs)
    if args.smoke:
        programs, args.rounds, args.no_user, args.no_floor = programs[:20], 1, True, True

    rates = []
    start = time.perf_counter()
    with Sandbox(workers=args.workers) as sandbox:
        sandbox.run_many(["pass"] * args.workers)  # start the fork servers
        startup = time.perf_counter() - start
        for _ in range(args.rounds):
            began = time.perf_counter()
            results = sandbox.run_many(programs)
            rates.append(len(programs) / (time.perf_counter() - began))
            failed = [(i, r.status, r.exception, r.detail) for i, r in enumerate(results) if not r.passed]
            assert not failed, f"{len(failed)} gold assertions did not pass, e.g. {failed[:3]}"

    first = results[0]
    walls = sorted(r.wall_time for r in results)
    ours = statistics.median(rates)
    print(f"[{mode}] CRUXEval gold assertions: {len(programs)} programs, all passed, {args.workers} workers, "
          f"{os.cpu_count()} cores")
    print(f"[{mode}] isolation: network={first.network}; " + ", ".join(f"{k}={v}" for k, v in first.limits.items()))
    print(f"[{mode}] sandbox (every limit on): {ours:.0f} programs/s median of {args.rounds} rounds "
          f"({', '.join(f'{r:.0f}' for r in rates)}); server start {startup * 1000:.0f} ms; per-program wall "
          f"p50 {walls[len(walls) // 2] * 1000:.1f} ms, p99 {walls[int(len(walls) * 0.99)] * 1000:.1f} ms; "
          f"target >= 100 programs/s: {'met' if ours >= 100 else 'MISSED'}")
    if os.geteuid() == 0 and not args.no_user:
        _as_user(args)
    if args.no_floor:
        return
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        floor_ok = list(pool.map(bare_subprocess, programs))
    floor_rate = len(programs) / (time.perf_counter() - began)
    assert all(floor_ok), "the bare interpreter failed some gold assertions"
    print(f"floor (bare python -I -S subprocess, no isolation): {floor_rate:.0f} programs/s; "
          f"ratio {mode} sandbox / floor: {ours / floor_rate:.2f}x")


def _as_user(args: argparse.Namespace) -> None:
    """The same measurement as an ordinary user (privileges dropped by tests/sandbox/as_user.py)."""
    import tempfile

    home = tempfile.mkdtemp(prefix="evalsuite-bench-home-")
    os.chown(home, args.as_user, args.as_user)
    helper = Path(__file__).resolve().parents[1] / "tests" / "sandbox" / "as_user.py"
    try:
        subprocess.run([sys.executable, str(helper), str(args.as_user), home, "--", sys.executable,
                        str(Path(__file__).resolve()), "--rounds", str(args.rounds), "--workers", str(args.workers),
                        "--no-user", "--no-floor"], check=True)
    finally:
        os.rmdir(home)


if __name__ == "__main__":
    main()
