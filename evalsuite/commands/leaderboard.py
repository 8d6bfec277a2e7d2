"""`evalsuite leaderboard RUN_DIR... --out DIR [--spec FILE]`: merge runs into leaderboard.csv, .md and .html."""
from __future__ import annotations

import argparse

from evalsuite.registry import command


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="directories written by `evalsuite run`")
    p.add_argument("--out", required=True, help="folder for leaderboard.csv, leaderboard.md and leaderboard.html")
    p.add_argument("--spec", default=None,
                   help="leaderboard spec: a YAML file, or a shipped one by name (core, self_correction, "
                        "introspection, contamination, pushback); default: every metric, no overall score")


@command("leaderboard", "merge run directories into a leaderboard (CSV, Markdown, HTML)", _configure)
def cmd_leaderboard(args: argparse.Namespace) -> int:
    from evalsuite.reporting.leaderboard import build_leaderboard  # local: numpy, jinja2; not on every CLI call
    from evalsuite.reporting.leaderboard_spec import load_spec  # local: numpy, jinja2; not on every CLI call
    from evalsuite.reporting.leaderboard_write import write_leaderboard  # local: numpy, jinja2; not on every CLI call
    from evalsuite.rundir import load_run  # local: numpy, jinja2; not on every CLI call

    spec = load_spec(args.spec) if args.spec else None
    board = build_leaderboard([load_run(d) for d in args.run_dirs], spec)
    for path in write_leaderboard(board, args.out):
        print(f"wrote {path}")
    for task, msg in sorted(board.task_flags.items()):
        print(f"flag: {task}: {msg}")
    return 0
