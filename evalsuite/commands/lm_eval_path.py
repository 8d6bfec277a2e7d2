"""`evalsuite lm-eval-path`: print the lm-eval task folder (generated from the catalog) for `--include_path`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evalsuite.errors import UsageError
from evalsuite.registry import command


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default=None, help="write the task folder here (default: a per-install folder in "
                                               "evalsuite's cache, $EVALSUITE_CACHE)")
    p.add_argument("--data-dir", default=None, help="folder with the task data files (default: shipped data)")
    p.add_argument("--list", action="store_true", help="also list the lm-eval tasks, groups and the evalsuite "
                                                       "tasks without a twin (on stderr)")


@command("lm-eval-path", "print the lm-eval task folder: lm_eval --include_path \"$(evalsuite lm-eval-path)\"",
         _configure)
def cmd_lm_eval_path(args: argparse.Namespace) -> int:
    from evalsuite.lmeval.folder import STAMP, build, ensure, fingerprint  # local: numpy, yaml; not on every CLI call

    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        raise UsageError(f"--data-dir {args.data_dir} is not a directory; pass the folder that holds the task data "
                         "(e.g. gsm8k/test.jsonl), or omit it for the shipped data")
    if not args.list:
        print(ensure(args.dir, args.data_dir))
        return 0
    folder = build(args.dir, args.data_dir)
    (folder.path / STAMP).write_text(fingerprint(args.data_dir), encoding="utf-8")
    err = sys.stderr
    for t in folder.twins:
        how = f"{t.protocol} {t.options}" if t.options else t.protocol
        err.write(f"task   {t.name}  ({t.card.name}, {how}{', unsafe_code' if t.unsafe_code else ''})\n")
    for g, members in folder.groups.items():
        err.write(f"group  {g}  ({len(members)} tasks)\n")
    for s in folder.skipped:
        err.write(f"none   {s.name}: {s.reason}\n")
    print(folder.path)
    return 0
