"""Wall time of the `evalsuite` commands people type most (`--help`, `run --help`, `tasks`, `lm-eval-path`).

Each command runs as a fresh process REPEATS times (after one untimed warm-up that also writes the lm-eval task
folder); the median is reported. Run: `python benchmarks/cli_startup.py [--repeats 7] [--json]`.
The console script installed beside this interpreter is timed (what a user types); without one, `python -m evalsuite`.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = (["--help"], ["run", "--help"], ["tasks"], ["lm-eval-path"])
TARGET_S = 0.5


def entry_point() -> list[str]:
    """The `evalsuite` console script beside sys.executable (no pyenv/conda shim in between), else `-m evalsuite`."""
    script = Path(sys.executable).parent / "evalsuite"
    if script.is_file():
        return [str(script)]
    found = shutil.which("evalsuite")
    return [found] if found else [sys.executable, "-m", "evalsuite"]


def time_command(cmd: list[str], repeats: int, env: dict[str, str]) -> list[float]:
    """Wall seconds of `repeats` fresh runs of `cmd` (output discarded; a failing command aborts)."""
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--smoke", action="store_true", help="one repeat (seconds): the script still works")
    args = ap.parse_args()
    if args.smoke:
        args.repeats = 1
    import os

    base = entry_point()
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "EVALSUITE_CACHE": cache}
        for extra in COMMANDS:
            times = time_command(base + extra, args.repeats, env)
            out[" ".join(extra)] = {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}
    if args.json:
        print(json.dumps({"entry": base, "repeats": args.repeats, "commands": out}, indent=1))
        return 0
    print(f"{' '.join(base)}  ({args.repeats} runs each, target <= {TARGET_S} s)")
    for name, t in out.items():
        flag = "" if t["median_s"] <= TARGET_S else "  over target"
        print(f"  evalsuite {name:<14} median {t['median_s']:.3f} s  (min {t['min_s']:.3f}, max {t['max_s']:.3f}){flag}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
