"""Hostile model and dataset text renders as text in headless Chromium: no injected script runs, no injected
element or link appears, and the page's own script does run (the control that makes "nothing ran" meaningful).

Needs the Debian packages chromium (and chromium-driver for CI parity); skipped only when chromium is missing."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from evalsuite.reporting.html import write_report
from evalsuite.reporting.leaderboard import build_leaderboard
from evalsuite.reporting.leaderboard_write import write_leaderboard
from evalsuite.rundir import load_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium "
                                                          "chromium-driver); CI installs it")]

PAYLOADS = [
    "<script>document.title='PWNED-script'</script>",
    "<img src=x onerror=\"document.title='PWNED-img'\">",
    "</textarea><script>document.title='PWNED-textarea'</script>",
    "</pre><svg onload=\"document.title='PWNED-svg'\"></svg>",
    "<a href=\"javascript:document.title='PWNED-js'\">click me</a>",
    "\"><script>document.title='PWNED-attr'</script>",
    "{{ 7*7 }} {% raw %}",
]
HOSTILE = "\n".join(PAYLOADS)


class Dom(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def dump_dom(page: Path, tmp: Path, fragment: str = "") -> str:
    """Load the page in headless Chromium with networking off and return the DOM after its scripts ran."""
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--no-default-browser-check", f"--user-data-dir={tmp / 'profile'}",
         "--virtual-time-budget=3000", "--dump-dom", page.resolve().as_uri() + fragment],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp)})
    assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    from evalsuite.records import Generation, Request, Sample
    from evalsuite.reporting import outputs
    from evalsuite.summaries import MetricRow

    out = tmp_path_factory.mktemp("hostile")
    task = "gsm8k<script>document.title='PWNED-task'</script>"
    samples = []
    for rnd, correct in ((0, True), (1, False)):
        req = Request(messages=(("user", "Question: " + HOSTILE),), kind="answer")
        gen = Generation(text="Answer: " + HOSTILE, token_ids=[1], stats={}, finish_reason="stop", backend="hf",
                         model_id="m")
        samples.append(Sample(task=task, doc_id="<b>doc</b>", protocol="review", round=rnd, sample_idx=0,
                              key=f"k{rnd}", request=req, generation=gen, kind="answer", attempt=rnd,
                              target=PAYLOADS[1], extracted=PAYLOADS[4], correct=correct,
                              confidence={"verbal<script>": 0.5}))
    rows = [MetricRow(task, "", "review", r, "accuracy", v, 0.0, 1.0, 1, "higher", "Accuracy" + PAYLOADS[0],
                      note=PAYLOADS[2]) for r, v in ((0, 1.0), (1, 0.0))]
    roc = {"plot": "roc", "title": PAYLOADS[0], "detectors": {PAYLOADS[1]: {"fpr": [0, 1], "tpr": [0, 1], "auc": 0.5}}}
    payload = {
        "schema_version": 2, "model": {"spec": "hf:" + PAYLOADS[3], "backend": "hf", "model_id": PAYLOADS[0], "revision": PAYLOADS[5]},
        "versions": {"python": "3.11"}, "git_hash": None, "created": "2025-01-01",
        "run": {"generated": 2, "from_store": 0, "gen_tokens": 2, "gen_seconds": 1.0, "tokens_per_s": 2.0,
                "wall_seconds": 1.0},
        "config": {"tasks": [task], "options": {"note": HOSTILE}, "model": PAYLOADS[4]},
        "tasks": {task: {"source": "local", "files": {PAYLOADS[1]: "0" * 64}, "n_docs": 1, "protocol": "review",
                         "oracle": False, "primary_convention": PAYLOADS[5],
                         "metrics": [r.to_dict() for r in rows], "extras": {"x": {"note": HOSTILE}},
                         "plots": [roc]}},
    }
    outputs.write_results_json(out / "results.json", payload)
    outputs.write_samples(out / "samples.jsonl", samples)
    outputs.write_results_csv(out / "results.csv", rows)
    return out


def assert_inert(dom: str, expect_script: bool) -> None:
    d = Dom(dom)
    title = re.search(r"<title>(.*?)</title>", dom, re.S).group(1)
    assert title.startswith("evalsuite report:"), f"an injected script ran: {title}"
    assert "data-pwned" not in dom
    tags = [t for t, _ in d.tags]
    assert tags.count("script") == (1 if expect_script else 0), "only the page's own script element"
    assert "svg" not in tags and "textarea" not in tags
    assert not any(a.get("src") == "x" for t, a in d.tags if t == "img")
    assert not any("javascript:" in (a.get("href") or "") for _, a in d.tags)
    assert not any(k.startswith("on") for _, a in d.tags for k in a), "no event-handler attribute"
    text = "".join(d.text)
    for p in PAYLOADS:
        assert p in text, f"payload not shown as text: {p}"


def test_report_shows_hostile_text_and_runs_none_of_it(hostile_run, tmp_path):
    page = write_report(hostile_run)
    dom = dump_dom(page, tmp_path)
    assert 'data-js="on"' in dom, "control: the page's own script must run in this browser"
    assert_inert(dom, expect_script=True)


def test_escaping_alone_keeps_it_inert_without_the_csp(hostile_run, tmp_path):
    html = write_report(hostile_run, tmp_path / "r.html").read_text()
    stripped = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    assert stripped != html
    (tmp_path / "nocsp.html").write_text(stripped)
    dom = dump_dom(tmp_path / "nocsp.html", tmp_path)
    assert 'data-js="on"' in dom
    assert_inert(dom, expect_script=True)


def test_filter_script_applies_a_filter(hostile_run, tmp_path):
    dom = dump_dom(write_report(hostile_run), tmp_path, "#filter=flipped")
    assert re.search(r'class="browser" data-filter="flipped"', dom)
    assert re.search(r'data-filter="flipped" aria-pressed="true"', dom)


def test_leaderboard_shows_hostile_names_as_text(hostile_run, tmp_path):
    paths = write_leaderboard(build_leaderboard([load_run(hostile_run)]), tmp_path / "lb")
    dom = dump_dom(paths[2], tmp_path)
    d = Dom(dom)
    assert re.search(r"<title>(.*?)</title>", dom, re.S).group(1).endswith("evalsuite leaderboard")
    assert [t for t, _ in d.tags].count("script") == 0
    assert PAYLOADS[0] in "".join(d.text)
