"""The live report: after each round of a real run, results.json (partial) and an openable report.html exist; the
final write marks the run finished; `evalsuite report` works on a run stopped after its first round."""
from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser

import pytest

from evalsuite import evaluate
from evalsuite.cli import main
from evalsuite.run_outputs import RunOutputs


class _Page(HTMLParser):
    """Collects the text and checks every opened element of the kinds the report nests is closed in order."""

    NESTED = {"html", "body", "main", "section", "table", "thead", "tbody", "tr", "td", "th", "p", "div", "h1", "h2"}

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.NESTED:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.NESTED:
            assert self.stack and self.stack.pop() == tag, f"</{tag}> closes {self.stack[-1:]}"

    def handle_data(self, data):
        self.text.append(data)


def _page(path) -> str:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    assert not page.stack, page.stack
    return " ".join(" ".join(page.text).split())


def test_report_and_partial_results_after_each_round(tiny_model_dir, tmp_path, monkeypatch):
    out, stopped = tmp_path / "run", tmp_path / "stopped"
    seen = []
    live = RunOutputs.live

    def observe(self, samples, stats, rnd):
        live(self, samples, stats, rnd)
        res = json.loads((out / "results.json").read_text())
        seen.append((rnd, res["partial"], res["rounds_done"], len(samples)))
        if rnd == 0:
            text = _page(out / "report.html")
            assert "Partial results" in text and "after 1 finished turn" in text
            acc = [m for m in res["tasks"]["gsm8k"]["metrics"] if m["metric"] == "accuracy"]
            assert [(m["round"], m["n"]) for m in acc] == [(0, 2)]
            shutil.copytree(out, stopped, ignore=shutil.ignore_patterns("samples.sqlite*", "report.html"))

    monkeypatch.setattr(RunOutputs, "live", observe)
    evaluate(tasks="gsm8k", model=f"hf:{tiny_model_dir}", limit=2, max_tokens=6, protocol="repeat", rounds=1,
             output_dir=out, progress=False, log=lambda m: None, options={"live_every": 0})
    # Before round 0 (nothing finished), then after each of the 2 rounds (answer, repeated answer).
    assert seen == [(-1, True, 0, 0), (0, True, 1, 2), (1, True, 2, 4)]
    final = json.loads((out / "results.json").read_text())
    assert final["partial"] is False and "rounds_done" not in final
    assert "Partial results" not in _page(out / "report.html")
    assert {m["round"] for m in final["tasks"]["gsm8k"]["metrics"] if m["metric"] == "accuracy"} == {0, 1}

    assert main(["report", str(stopped)]) == 0
    text = _page(stopped / "report.html")
    assert "Partial results" in text and "gsm8k" in text


def test_live_outputs_wait_live_every_seconds_between_partial_writes(tmp_path, monkeypatch):
    """A run of quick rounds writes its partial outputs once at the start, not after every round, under the default
    --live-every 30; with --live-every 0 after every round (review, 1 round = 3 engine rounds)."""
    writes = []
    write = RunOutputs.write

    def counted(self, samples, stats, partial, rounds_done=None, execution=None):
        writes.append((partial, rounds_done))
        return write(self, samples, stats, partial, rounds_done, execution)

    monkeypatch.setattr(RunOutputs, "write", counted)
    kw = dict(tasks="gsm8k", model="mock:m", model_args={"reply": "#### 8"}, limit=3, protocol="review",
              progress=False, log=lambda m: None)
    evaluate(output_dir=tmp_path / "a", **kw)
    assert writes == [(True, 0), (False, None)]
    writes.clear()
    evaluate(output_dir=tmp_path / "b", options={"live_every": 0}, **kw)
    assert writes == [(True, 0), (True, 1), (True, 2), (True, 3), (False, None)]


def test_live_every_must_be_a_non_negative_number(tmp_path):
    from evalsuite.errors import UsageError

    with pytest.raises(UsageError, match="--live-every"):
        evaluate(tasks="gsm8k", model="mock:m", limit=1, output_dir=tmp_path, options={"live_every": -1},
                 progress=False, log=lambda m: None)


def test_a_partial_write_waits_four_times_as_long_as_the_last_one_took(tmp_path, monkeypatch):
    """By hand, --live-every 5 and a write that takes 10 s: written at t=0 (ends t=10); at t=20 only 10 s have
    passed of the 40 (4 x 10) it must wait: skipped; at t=55, 45 s have: written."""
    import evalsuite.run_outputs as ro
    from evalsuite.options import RunOptions

    clock = [0.0]
    monkeypatch.setattr(ro.time, "perf_counter", lambda: clock[0])
    out = RunOutputs(tmp_path, "gsm8k", [], {}, {}, {}, RunOptions.parse({"live_every": 5}), 0, 1, 0.0)
    written = []

    def slow_write(samples, stats, partial, rounds_done=None, execution=None):
        written.append(clock[0])
        clock[0] += 10.0

    monkeypatch.setattr(out, "write", slow_write)
    for t in (0.0, 20.0, 55.0):
        clock[0] = t
        out.live([], None, 0)
    assert written == [0.0, 55.0]


def test_the_run_s_report_equals_one_built_from_its_run_dir(tmp_path):
    """The run builds its sample browser from the lines it writes; `evalsuite report` reads samples.jsonl back.
    60 chains (30 docs x 2 samples) > the 50 shown, so the unshown ones are counted from their answers alone."""
    import re

    from evalsuite.reporting.html import write_report

    evaluate(tasks="gsm8k", model="mock:m", model_args={"reply": "#### 8"}, limit=30, samples=2, temperature=0.7,
             protocol="review", output_dir=tmp_path, progress=False, log=lambda m: None)
    again = write_report(tmp_path, out=tmp_path / "again.html")
    stamp = re.compile(r" at \d{4}-\d\d-\d\dT[\d:]+\+00:00 from results")
    ours, theirs = (stamp.sub("", p.read_text(encoding="utf-8")) for p in (tmp_path / "report.html", again))
    assert "60 chains" in ours or "of 60" in ours
    assert ours == theirs
