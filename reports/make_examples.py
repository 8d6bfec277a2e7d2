"""Regenerate reports/example/ (two run reports and a leaderboard) from real runs: a few minutes on an idle CPU.

Entrants: the embedded SmolLM2-135M-Instruct and the tiny random Llama the tests use (built here, offline). Both run
GSM8K and MATH-500 under the `review` self-correction protocol (one correction round), so the reports show
per-round accuracy, flip matrices and the sample browser; the leaderboard uses the shipped `core` spec.

    python reports/make_examples.py [--limit 4] [--max-tokens 128]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

from evalsuite import evaluate
from evalsuite.reporting.leaderboard import build_leaderboard
from evalsuite.reporting.leaderboard_spec import load_spec
from evalsuite.reporting.leaderboard_write import write_leaderboard
from evalsuite.rundir import load_run

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "example"
KEEP = ("results.json", "results.csv", "samples.jsonl", "report.html")


def tiny_model(where: Path) -> Path:
    """The test suite's tiny Llama (tests/conftest.py), built from the shipped GSM8K text."""
    spec = importlib.util.spec_from_file_location("evalsuite_test_conftest", ROOT / "tests" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    return mod.build_tiny_model(where / "tiny-llama")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=4)
    p.add_argument("--max-tokens", type=int, default=128)
    args = p.parse_args()
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        entrants = {"smollm2-135m-instruct": None, "tiny-llama": f"hf:{tiny_model(Path(tmp))}"}
        runs = []
        for name, model in entrants.items():
            work = Path(tmp) / name
            evaluate(tasks="gsm8k,math500", model=model, protocol="review", rounds=1, limit=args.limit,
                     max_tokens=args.max_tokens, output_dir=work, log=lambda m: print(m, file=sys.stderr))
            dest = OUT / "runs" / name
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True)
            for f in KEEP:
                shutil.copy2(work / f, dest / f)
            runs.append(dest.relative_to(ROOT))
        board = build_leaderboard([load_run(d) for d in runs], load_spec("core"))
        for path in write_leaderboard(board, OUT / "leaderboard"):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
