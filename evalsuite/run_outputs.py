"""A run's outputs (results.json, samples.jsonl, results.csv, report.html), written from the samples so far: once
when the run starts, after a round while it goes on when `--live-every SECONDS` (default 30) have passed since the
last such write (`"partial": true`, so a long run can be watched and a killed one still has a report, while a run
of many short rounds does not rewrite everything after each one), and once at the end (`"partial": false`)."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from evalsuite.options import LiveOptions, RunOptions
from evalsuite.records import Sample
from evalsuite.reporting import outputs
from evalsuite.reporting.browser import DEFAULT_MAX_CHAINS, ChainGrouper
from evalsuite.reporting.results_file import glossary_of, now, write_results
from evalsuite.results import GroupResult, Results, TaskResult
from evalsuite.summaries import MetricRow, summarize
from evalsuite.summaries.groups import group_cards, summarize_groups


LIVE_WAIT_FACTOR = 4.0
"""A partial write waits at least this many times as long as the last one took (unless `--live-every 0`), so live
outputs cost at most about a fifth of a run however large it grows (a million samples take tens of seconds)."""


@dataclass
class RunOutputs:
    """Everything the writes need besides the samples and counts: where, which tasks and plans, config, model."""

    output_dir: Path
    tasks: list[str] | str
    plans: list[Any]
    data_info: dict[str, dict[str, Any]]
    config: dict[str, Any]
    header: dict[str, Any]
    """model, versions and git hash: fixed for the run."""
    options: RunOptions
    seed: int
    rounds: int
    t_start: float
    log: Callable[[str], None] = print
    live_failed: bool = field(default=False, init=False)
    live_at: float | None = field(default=None, init=False)
    """perf_counter when the last partial write ended (None: none yet)."""
    live_cost: float = field(default=0.0, init=False)
    """Seconds the last partial write took: the next waits at least LIVE_WAIT_FACTOR times as long."""

    def __post_init__(self) -> None:
        group_cards(self.tasks)  # a group card's unknown `aggregate:` fails before the first round, not after

    def summarize(self, samples: list[Sample]) -> tuple[list[MetricRow], dict[str, TaskResult], list[MetricRow],
                                                        dict[str, GroupResult]]:
        """Task rows and results, then the rows and results of the groups' declared summarizers."""
        rows, tasks = summarize(samples, seed=self.seed, primary={p.card.name: p.scorer.primary for p in self.plans},
                                subsets={p.card.name: p.card.extra.get("subset", "") for p in self.plans},
                                options=self.options, rounds=self.rounds,
                                metrics={p.card.name: tuple(p.card.metrics) for p in self.plans})
        group_rows, groups = summarize_groups(self.tasks, samples, seed=self.seed, rounds=self.rounds)
        return rows, tasks, group_rows, groups

    def write(self, samples: list[Sample], stats: Any, partial: bool, rounds_done: int | None = None,
              execution: dict[str, Any] | None = None) -> tuple[list[MetricRow], dict[str, Any]]:
        """Summarize `samples` and write every output; return (all metric rows, the run info of results.json)."""
        rows, tasks, group_rows, groups = self.summarize(samples) if samples else ([], {}, [], {})
        results = Results(
            model=self.header["model"], versions=self.header["versions"], git_hash=self.header.get("git_hash"),
            created=now(), run={**asdict(stats), "tokens_per_s": stats.tokens_per_s,
                                "wall_seconds": time.perf_counter() - self.t_start},
            execution=execution, partial=partial, rounds_done=rounds_done if partial else None, config=self.config,
            tasks={name: replace(tasks.get(name, TaskResult()), **d) for name, d in self.data_info.items()},
            groups=groups, glossary=glossary_of(rows + group_rows))
        rows = rows + group_rows
        write_results(self.output_dir / "results.json", results)
        browser = ChainGrouper(DEFAULT_MAX_CHAINS)
        outputs.write_samples(self.output_dir / "samples.jsonl", samples, on_line=browser.add)
        outputs.write_results_csv(self.output_dir / "results.csv", rows)
        self._report(partial, browser)
        return rows, results.header()

    def _report(self, partial: bool, browser: ChainGrouper) -> None:
        """report.html, its sample browser from the lines just written (not read back from samples.jsonl)."""
        try:
            from evalsuite.reporting.html import write_report  # local: in the try: an import error loses no results

            write_report(self.output_dir, chains=browser.result())
        except Exception as e:  # the results above are written; a report failure must not lose them
            if partial:
                raise
            why = " ".join(str(e).split())[:300]
            self.log(f"warning: report.html not written ({type(e).__name__}: {why}); retry with "
                     f"`evalsuite report {self.output_dir}`")

    def live(self, samples: list[Sample], stats: Any, rnd: int) -> None:
        """The engine's per-round callback: rewrite the outputs as partial when `--live-every` seconds, and four
        times as long as the last partial write took, have passed since it (the first call always writes); a
        failure here is reported once and never stops the run (the final write still happens)."""
        if self.live_failed:
            return
        now = time.perf_counter()
        every = self.options.of(LiveOptions).live_every
        wait = every and max(every, LIVE_WAIT_FACTOR * self.live_cost)  # 0: after every round, as asked
        if self.live_at is not None and now - self.live_at < wait:
            return
        try:
            self.write(samples, stats, partial=True, rounds_done=rnd + 1)
            self.live_at = time.perf_counter()
            self.live_cost = self.live_at - now
        except Exception as e:
            self.live_failed = True
            why = " ".join(str(e).split())[:300]
            self.log(f"warning: live report after round {rnd} not written ({type(e).__name__}: {why}); the run "
                     "goes on and writes its outputs at the end")
