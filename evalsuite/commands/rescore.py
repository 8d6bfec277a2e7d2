"""`evalsuite rescore --lm-eval-samples samples_*.jsonl`: evalsuite's metrics on lm-eval's logged replies.

Reads lm-eval's `--log_samples` output, scores every raw reply with the evalsuite task's scorer (and the
confidence the twin's protocol reads), and writes results.json, results.csv and samples.jsonl like a run,
without a model call.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import importlib.metadata
from pathlib import Path

from evalsuite.registry import command

NO_TOKENS = ("mean_tokens",)
"""Rows left out: lm-eval logs reply text only, so token counts (and token statistics) are not known."""


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lm-eval-samples", nargs="+", required=True, metavar="FILE",
                   help="samples_<task>_<date>.jsonl files written by lm_eval --log_samples")
    p.add_argument("--task", default=None, help="evalsuite task (or twin) whose scorer reads the replies "
                                                "(default: from the file names)")
    p.add_argument("--output-dir", default=None, help="where to write results (default: runs/rescore-<time>)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed of the confidence intervals")


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("evalsuite", "lm_eval", "math-verify"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


@command("rescore", "score lm-eval --log_samples output with evalsuite's scorers and metrics", _configure)
def cmd_rescore(args: argparse.Namespace) -> int:
    from evalsuite.api import _prepare_output_dir
    from evalsuite.lmeval.samples import read_logged
    from evalsuite.lmeval.twins import scorer_for
    from evalsuite.reporting import outputs
    from evalsuite.summaries import summarize

    logged = read_logged(args.lm_eval_samples, args.task)
    out = Path(args.output_dir or f"runs/rescore-{_dt.datetime.now():%Y%m%d-%H%M%S}")
    _prepare_output_dir(out)
    samples, rows, tasks = [], [], {}
    for lt in logged:
        card, twin = lt.twin.card, lt.twin
        got, extras = summarize(lt.samples, seed=args.seed, primary={card.name: scorer_for(card.name).primary},
                                subsets={card.name: card.extra.get("subset", "")}, options=dict(twin.options))
        got = [r for r in got if r.metric not in NO_TOKENS]
        samples += lt.samples
        rows += got
        tasks[twin.name if card.name in tasks else card.name] = {
            "source": "lm-eval samples", "lm_eval_task": twin.name,
            "files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in lt.files},
            "n_docs": len({s.doc_id for s in lt.samples}), "protocol": twin.protocol, "oracle": False,
            "primary_convention": scorer_for(card.name).primary,
            "lm_eval_reported": lt.lm_eval_metrics,
            "per_sample_agreement": {"agree": lt.agree, "compared": lt.compared},
            "metrics": [r.to_dict() for r in got], "extras": extras.get(card.name, {}),
        }
    model = logged[0].model
    payload = {
        "model": {"spec": model, "backend": "lm-eval", "model_id": model, "revision": None},
        "versions": _versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": {"tasks": list(tasks), "source": "lm-eval", "lm_eval_samples": [str(p) for p in
                   args.lm_eval_samples], "seed": args.seed, "model": model},
        "tasks": tasks,
    }
    outputs.write_results_json(out / "results.json", payload)
    outputs.write_samples(out / "samples.jsonl", samples)
    outputs.write_results_csv(out / "results.csv", rows)
    outputs.print_summary(rows)
    for lt in logged:
        mine = next((r.value for r in rows if r.task == lt.twin.card.name and r.metric == "accuracy"), None)
        theirs = lt.lm_eval_metrics.get("accuracy")
        line = f"{lt.twin.name}: evalsuite accuracy {mine:.4f}"
        if theirs is not None:
            line += f", lm-eval reported {theirs:.4f}"
        if lt.compared:
            line += f"; per-sample agreement {lt.agree}/{lt.compared}"
        print(line)
    print(f"rescored {len(samples)} replies without a model call; outputs in {out}")
    return 0
