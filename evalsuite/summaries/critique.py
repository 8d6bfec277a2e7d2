"""Critique rows for every group that judges responses: critique accuracy, precision/recall/F1 with "response is
wrong" as the positive class, verdict parse rate, per domain; Lin's G/Q/C when critiques are followed by
corrections; Luo's self-check against plain self-consistency when there are several samples per question.

A judgement is either a critique-task answer (the `verdict` scorer's info carries the label and the verdict) or a
`critique` turn, whose label is the correctness of the answer it judges (the chain's latest earlier answer, as
that answer's scorer found it). Row `round` is the attempt of the judged answer. CIs resample questions (all
judgements of one question move together). The confusion matrices go to extras for the report.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable

import numpy as np

from evalsuite.metrics.base import MetricName
from evalsuite.metrics.bootstrap import bootstrap_ci, bootstrap_mean_ci
from evalsuite.metrics.critique import (
    confusion, correction_accuracy, critique_accuracy, critique_f1, critique_precision, critique_recall,
    generation_accuracy, response_error_rate, self_check, self_check_accuracy, self_consistency_accuracy,
    verdict_parse_rate, vote,
)
from evalsuite.records import Kind, Sample
from evalsuite.options import Options, flag, run_options
from evalsuite.plot_specs import ConfusionMatrix
from evalsuite.score_info import Verdict
from evalsuite.scoring.verdict import parse_verdict
from evalsuite.summaries.base import Group, MetricRow, Summary, summarizer

N_BOOT = 1000
DEFAULT_THRESHOLD = 1



@run_options("critique protocol options")
@dataclass(frozen=True)
class SelfCheckOptions(Options):
    """Luo et al.'s self-check, computed by the critique summary."""

    selfcheck_threshold: int = flag(
        DEFAULT_THRESHOLD, f"self-check: questions whose vote margin among --samples is below C get their answers "
        f"judged wrong dropped before the vote (Luo et al.; default {DEFAULT_THRESHOLD})", parse=int, type=int,
        metavar="C")


@dataclass(frozen=True)
class Judgement:
    """One verdict on one response, with the response's label and where it came from."""

    doc_id: str
    sample_idx: int
    attempt: int
    cluster: str
    domain: str
    source: str
    response_ok: bool
    verdict: str | None
    given: bool = True

    @property
    def judged_ok(self) -> float:
        return {"correct": 1.0, "incorrect": 0.0}.get(self.verdict or "", float("nan"))


def judgements(samples: list[Sample]) -> list[Judgement]:
    """Every judgement in a group's samples (see module doc); critiques of an unscored answer are skipped."""
    answers: dict[tuple[str, int], list[Sample]] = defaultdict(list)
    for s in samples:
        if s.kind == Kind.ANSWER:
            answers[(s.doc_id, s.sample_idx)].append(s)
    out = []
    for s in samples:
        if s.kind == Kind.ANSWER and (v := Verdict.from_info(s.info)) is not None:
            out.append(Judgement(s.doc_id, s.sample_idx, 0, v.cluster or s.doc_id, v.domain, v.source,
                                 v.response_ok, v.verdict))
        elif s.kind == Kind.CRITIQUE:
            prior = [a for a in answers[(s.doc_id, s.sample_idx)] if a.round < s.round and a.correct is not None]
            if not prior:
                continue
            judged = max(prior, key=lambda a: a.round)
            out.append(Judgement(s.doc_id, s.sample_idx, judged.attempt or 0, s.doc_id, "", "",
                                 bool(judged.correct), parse_verdict(s.generation.text), given=False))
    return out


def _arrays(js: list[Judgement]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.array([j.response_ok for j in js], dtype=bool), np.array([j.judged_ok for j in js], dtype=float),
            np.array([j.cluster for j in js]))


def critique_rows(g: Group, js: list[Judgement], rnd: int, seed: int) -> tuple[list[MetricRow], dict]:
    """The critique rows of one set of judgements and its confusion matrices."""
    ok, judged, clusters = _arrays(js)
    rows = []

    def add(name: MetricName | str, fn: Callable[..., float], arrays: list[np.ndarray], **kw) -> None:
        name = name if isinstance(name, MetricName) else MetricName(name)
        ci = bootstrap_ci(lambda *a: fn(*a, **kw), arrays, clusters, n_boot=N_BOOT, seed=seed)
        value = fn(*arrays, **kw)
        rows.append(g.row(rnd, name, value, ci, len(js), _undefined_because(name, value, judged)))

    pair = [ok, judged]
    for name, fn in (("critique_accuracy", critique_accuracy), ("critique_precision", critique_precision),
                     ("critique_recall", critique_recall), ("critique_f1", critique_f1)):
        add(name, fn, pair)
    add(MetricName("critique_accuracy", "luo"), critique_accuracy, pair, unparsed="luo")
    add(MetricName("critique_accuracy", "parsed"), critique_accuracy, pair, unparsed="exclude")
    add(MetricName("critique_f1", "parsed"), critique_f1, pair, unparsed="exclude")
    add("verdict_parse_rate", verdict_parse_rate, [judged])
    add("response_error_rate", response_error_rate, [ok])
    missing = np.isnan(judged)
    extras = {
        "n": len(js),
        "confusion": {conv: confusion(ok, judged, conv) for conv in ("lin", "luo", "exclude")},
        "unparsed": {"response_correct": int(np.sum(missing & ok)), "response_wrong": int(np.sum(missing & ~ok))},
    }
    return rows, extras


def _undefined_because(name: MetricName, value: float, judged: np.ndarray) -> str:
    """Why a critique ratio is NaN: the reason, so an empty cell is never a silent gap."""
    if not np.isnan(value):
        return ""
    parsed = ~np.isnan(judged)
    if name.variant == "parsed" and not parsed.any():
        return "undefined: no verdict parsed"
    if name.name == "critique_precision":
        return "undefined: no response judged wrong"
    if name.name == "critique_recall":
        return "undefined: no wrong response"
    if name.name == "critique_f1":
        return "undefined: no wrong response and none judged wrong"
    return "undefined: no judgement"


def _breakdown(js: list[Judgement], key: str) -> dict[str, dict]:
    by: dict[str, list[Judgement]] = defaultdict(list)
    for j in js:
        by[getattr(j, key)].append(j)
    out = {}
    for name, part in sorted(by.items()):
        ok, judged, _ = _arrays(part)
        out[name] = {"n": len(part), "critique_accuracy": critique_accuracy(ok, judged),
                     "critique_f1": critique_f1(ok, judged), "verdict_parse_rate": verdict_parse_rate(judged),
                     "confusion": confusion(ok, judged)}
    return out


def gqc_rows(g: Group, js: list[Judgement]) -> list[MetricRow]:
    """Lin's G (first answers) and C (each later answer over every chain; a missing one counts as incorrect)."""
    chains: dict[tuple[str, int], dict[int, bool]] = defaultdict(dict)
    for s in g.samples:
        if s.kind == Kind.ANSWER and s.attempt is not None and s.correct is not None:
            chains[(s.doc_id, s.sample_idx)][s.attempt] = bool(s.correct)
    if not any(1 in c for c in chains.values()) or not js:
        return []
    keys = sorted(chains)
    docs = np.array([k[0] for k in keys])
    rows = []
    first = np.array([chains[k].get(0, False) for k in keys], dtype=float)
    rows.append(g.row(0, "generation_accuracy", generation_accuracy(first),
                      bootstrap_mean_ci(first, docs, seed=g.seed), len(keys)))
    for t in range(1, max(max(c) for c in chains.values()) + 1):
        later = np.array([chains[k].get(t, np.nan) for k in keys], dtype=float)
        filled = np.nan_to_num(later, nan=0.0)
        rows.append(g.row(t, "correction_accuracy", correction_accuracy(later),
                          bootstrap_mean_ci(filled, docs, seed=g.seed), len(keys)))
    return rows


def self_check_summary(g: Group, js: list[Judgement], threshold: int) -> tuple[list[MetricRow], dict] | None:
    """Plain self-consistency vs Luo's self-check over the first answers, when questions have several samples."""
    first = {(s.doc_id, s.sample_idx): s for s in g.samples if s.kind == Kind.ANSWER and s.attempt == 0}
    own = {(j.doc_id, j.sample_idx): j for j in js if j.attempt == 0 and not j.given}
    by_doc: dict[str, list[tuple[int, Sample]]] = defaultdict(list)
    for (doc, idx), s in first.items():
        by_doc[doc].append((idx, s))
    if not own or max((len(v) for v in by_doc.values()), default=0) < 2:
        return None
    docs, sc_ok, check_ok, low, changed = [], [], [], 0, 0
    by_margin: dict[int, list[Judgement]] = defaultdict(list)
    for doc, items in sorted(by_doc.items()):
        items.sort()
        answers = [s.extracted for _, s in items]
        judged = [own[(doc, idx)].judged_ok if (doc, idx) in own else float("nan") for idx, _ in items]
        right = {s.extracted: bool(s.correct) for _, s in items if s.extracted is not None}
        plain, margin = vote(answers)
        checked, filtered = self_check(answers, judged, threshold)
        low += filtered
        changed += checked != plain
        docs.append(doc)
        sc_ok.append(right.get(plain, False))
        check_ok.append(right.get(checked, False))
        by_margin[margin].extend(own[(doc, idx)] for idx, _ in items if (doc, idx) in own)
    d = np.array(docs)
    sc, ck = np.array(sc_ok, dtype=float), np.array(check_ok, dtype=float)
    k = max(len(v) for v in by_doc.values())
    note = f"k={k} samples, threshold C={threshold}, {low} of {len(docs)} questions below it"
    rows = [g.row(0, "self_consistency_accuracy", self_consistency_accuracy(sc),
                  bootstrap_mean_ci(sc, d, seed=g.seed), len(docs), note),
            g.row(0, "self_check_accuracy", self_check_accuracy(ck), bootstrap_mean_ci(ck, d, seed=g.seed),
                  len(docs), note)]
    certainty = {}
    for margin, part in sorted(by_margin.items()):
        ok, judged, _ = _arrays(part)
        certainty[str(margin)] = {"n": len(part), "critique_accuracy": critique_accuracy(ok, judged)}
    extras = {"threshold": threshold, "k": k, "questions": len(docs), "low_certainty": low,
              "answer_changed": changed, "self_consistency_accuracy": self_consistency_accuracy(sc),
              "self_check_accuracy": self_check_accuracy(ck), "critique_accuracy_by_margin": certainty}
    return rows, extras


def verdict_matrix(ex: dict, title: str) -> ConfusionMatrix:
    """Gold label × verdict counts of `critique_rows`' extras, with the answers given no verdict as a column."""
    c, un = ex["confusion"]["exclude"], ex["unparsed"]
    return ConfusionMatrix(["response correct", "response wrong"], ["judged correct", "judged wrong", "no verdict"],
                           [[c["tn"], c["fp"], un["response_correct"]], [c["fn"], c["tp"], un["response_wrong"]]],
                           title)


@summarizer("critique")
def summarize_critique(g: Group) -> Summary | None:
    """Critique rows per judged attempt, per domain when there are several, G/Q/C and self-check."""
    js = judgements(g.samples)
    if not js:
        return None
    rows: list[MetricRow] = []
    plots: list[ConfusionMatrix] = []
    extras: dict = {"by_attempt": {}}
    for rnd in sorted({j.attempt for j in js}):
        part = [j for j in js if j.attempt == rnd]
        r, ex = critique_rows(g, part, rnd, g.seed)
        rows.extend(r)
        extras["by_attempt"][str(rnd)] = ex
        plots.append(verdict_matrix(ex, f"Critique verdicts, answer {rnd} judged"))
    domains = sorted({j.domain for j in js})
    if len(domains) > 1:
        for dom in domains:
            part = [j for j in js if j.domain == dom]
            r, _ = critique_rows(g, part, 0, g.seed)
            rows.extend(dataclasses.replace(row, subset=dom) for row in r
                        if row.metric.text in ("critique_accuracy", "critique_f1", "verdict_parse_rate"))
    extras["by_domain"] = _breakdown(js, "domain")
    extras["by_source"] = _breakdown(js, "source")
    rows.extend(gqc_rows(g, js))
    checked = self_check_summary(g, js, g.options.of(SelfCheckOptions).selfcheck_threshold)
    if checked:
        rows.extend(checked[0])
        extras["self_check"] = checked[1]
    return Summary(rows, extras, plots)
