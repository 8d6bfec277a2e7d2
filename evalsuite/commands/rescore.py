"""`evalsuite rescore --lm-eval-samples samples_*.jsonl`: evalsuite's metrics on lm-eval's logged replies.

Reads lm-eval's `--log_samples` output, scores every raw reply with the evalsuite task's scorer (and the
confidence the twin's protocol reads), and writes results.json, results.csv, samples.jsonl and report.html like
a run, without a model call. For lm-eval's own tasks (e.g. `gsm8k`) it records the source task and its filters
and reports, per filter, how often lm-eval's per-sample score equals the evalsuite metric applying the same rule.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from evalsuite.registry import command

if TYPE_CHECKING:
    from evalsuite.lmeval.samples import LoggedTask
    from evalsuite.results import MetricRow, TaskResult

NO_TOKENS = ("mean_tokens",)
"""Rows left out: lm-eval logs reply text only, so token counts (and token statistics) are not known."""


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lm-eval-samples", nargs="+", required=True, metavar="FILE",
                   help="samples_<task>_<date>.jsonl files written by lm_eval --log_samples")
    p.add_argument("--task", default=None, help="evalsuite task (or twin) whose scorer reads the replies "
                                                "(default: from the file names)")
    p.add_argument("--output-dir", default=None, help="where to write results (default: runs/rescore-<time>)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed of the confidence intervals")


def _task_entry(lt: LoggedTask, got: list[MetricRow], summarized: TaskResult, primary: str) -> TaskResult:
    """The results of one rescored lm-eval task: its rows, extras and plots, its source, filters and per-filter
    agreement."""
    return replace(
        summarized, metrics=got, source="lm-eval samples", lm_eval_task=lt.source, lm_eval_native=lt.native,
        lm_eval_filters=list(lt.filters),
        files={p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in lt.files},
        n_docs=len({s.doc_id for s in lt.samples}), protocol=lt.protocol, oracle=False,
        primary_convention=primary, lm_eval_reported=lt.lm_eval_metrics,
        per_sample_agreement={"agree": lt.primary.agree, "compared": lt.primary.compared},
        per_filter_agreement={name: fa.to_dict() for name, fa in lt.filters.items()})


def _agreement_lines(lt: LoggedTask, rows: list[MetricRow]) -> list[str]:
    """What is printed per rescored task: evalsuite's accuracy, lm-eval's, and agreement per filter."""
    def value(metric: str) -> float | None:
        return next((r.value for r in rows if r.task == lt.card.name and r.protocol == lt.protocol
                     and r.metric.text == metric and r.round == 0), None)

    mine = value("accuracy")
    head = f"{lt.source}: evalsuite accuracy {mine:.4f}" if mine is not None else f"{lt.source}:"
    if lt.native:
        head += f" (lm-eval's own task, read by evalsuite's {lt.card.name} scorer)"
        out = [head]
        for fa in lt.filters.values():
            if fa.metric is None:
                out.append(f"  filter {fa.filter}: no evalsuite metric applies its rule; not compared")
                continue
            reported = lt.lm_eval_metrics.get(f"{fa.lm_eval_metric},{fa.filter}")
            ours = value(fa.metric)
            line = f"  filter {fa.filter} {fa.lm_eval_metric} vs {fa.metric}: per-sample agreement " \
                   f"{fa.agree}/{fa.compared}"
            if reported is not None and ours is not None:
                line += f" (lm-eval {reported:.4f}, evalsuite {ours:.4f})"
            out.append(line)
        return out
    theirs = lt.lm_eval_metrics.get("accuracy")
    if theirs is not None:
        head += f", lm-eval reported {theirs:.4f}"
    if lt.primary.compared:
        head += f"; per-sample agreement {lt.primary.agree}/{lt.primary.compared}"
    return [head]


@command("rescore", "score lm-eval --log_samples output with evalsuite's scorers and metrics", _configure)
def cmd_rescore(args: argparse.Namespace) -> int:
    from evalsuite.lmeval.samples import read_logged  # local: numpy, jinja2; not on every CLI call
    from evalsuite.lmeval.twins import scorer_for  # local: numpy, jinja2; not on every CLI call
    from evalsuite.reporting import outputs  # local: numpy, jinja2; not on every CLI call
    from evalsuite.reporting.html import write_report  # local: numpy, jinja2; not on every CLI call
    from evalsuite.reporting.results_file import (git_hash, glossary_of, now, prepare_output_dir, versions,
                                                  write_results)  # local: numpy, jinja2; not on every CLI call
    from evalsuite.results import Results, TaskResult  # local: numpy, jinja2; not on every CLI call
    from evalsuite.summaries import summarize  # local: numpy, jinja2; not on every CLI call

    logged = read_logged(args.lm_eval_samples, args.task)
    out = Path(args.output_dir or f"runs/rescore-{_dt.datetime.now():%Y%m%d-%H%M%S}")
    prepare_output_dir(out)
    samples, rows, tasks = [], [], {}
    for lt in logged:
        card, primary = lt.card, scorer_for(lt.card.name).primary
        got, summarized = summarize(lt.samples, seed=args.seed, primary={card.name: primary},
                                subsets={card.name: card.extra.get("subset", "")}, options=lt.options)
        got = [r for r in got if r.metric.text not in NO_TOKENS]
        samples += lt.samples
        rows += got
        tasks[lt.source if card.name in tasks else card.name] = _task_entry(
            lt, got, summarized.get(card.name, TaskResult()), primary)
    model = logged[0].model
    results = Results(model={"spec": model, "backend": "lm-eval", "model_id": model, "revision": None},
                      config={"tasks": list(tasks), "source": "lm-eval", "lm_eval_samples": [str(p) for p in
                              args.lm_eval_samples], "seed": args.seed, "model": model},
                      tasks=tasks, versions=versions(), git_hash=git_hash(), created=now(),
                      glossary=glossary_of(rows))
    write_results(out / "results.json", results)
    outputs.write_samples(out / "samples.jsonl", samples)
    outputs.write_results_csv(out / "results.csv", rows)
    write_report(out)  # read back through the one results reader, as `evalsuite report` would
    outputs.print_summary(rows)
    for lt in logged:
        print("\n".join(_agreement_lines(lt, rows)))
    print(f"rescored {len(samples)} replies without a model call; outputs in {out}")
    return 0
