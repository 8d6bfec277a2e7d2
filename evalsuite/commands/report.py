"""`evalsuite report RUN_DIR`: rebuild a run's self-contained report.html from its results and samples."""
from __future__ import annotations

import argparse

from evalsuite.errors import UsageError
from evalsuite.registry import command
from evalsuite.reporting.browser import DEFAULT_MAX_CHAINS


def parse_samples(text: str) -> int | None:
    """`all` -> None (every chain), else a positive number of chains per task."""
    if text.strip().lower() == "all":
        return None
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n <= 0:
        raise UsageError(f"--samples must be a positive number of chains per task or `all`, got {text!r}")
    return n


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a directory written by `evalsuite run`")
    p.add_argument("--out", default=None, help="file to write (default: RUN_DIR/report.html)")
    p.add_argument("--samples", default=str(DEFAULT_MAX_CHAINS),
                   help=f"sample chains shown per task: a number or `all` (default {DEFAULT_MAX_CHAINS})")
    p.add_argument("--control", default=None, metavar="DIR",
                   help="a pushback control run (e.g. --pushback neutral) of the same tasks, drawn beside this run's "
                        "flip matrices (default: the run's --pushback-control)")


@command("report", "rebuild report.html for a run directory", _configure)
def cmd_report(args: argparse.Namespace) -> int:
    from evalsuite.reporting.html import write_report  # local: jinja2 and the plot code load only for `report`

    path = write_report(args.run_dir, args.out, parse_samples(args.samples), args.control)
    print(f"wrote {path}")
    return 0
