"""`evalsuite matrix RUN_DIR... --out DIR`: a critic x generator matrix (CSV and HTML heatmaps) from critique_correct
runs, so "model B critiques and corrects model A's answers" reads as one table per metric."""
from __future__ import annotations

import argparse

from evalsuite.registry import command


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                   help="`evalsuite run --protocol critique_correct` directories (with --policy-run GEN_RUN for a "
                        "cross pair; without, self-critique)")
    p.add_argument("--out", required=True, help="folder for matrix.csv and matrix.html")


@command("matrix", "critic x generator matrix of critique_correct runs (CSV, HTML)", _configure)
def cmd_matrix(args: argparse.Namespace) -> int:
    from evalsuite.reporting.critique_matrix import write_matrix  # local: numpy; not on every CLI call

    for path in write_matrix(args.run_dirs, args.out):
        print(f"wrote {path}")
    return 0
