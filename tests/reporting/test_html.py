"""report.html: written by every run, rebuilt by `evalsuite report`, plots chosen by the data present, sample
chains with their filter status, and results.csv readable by pandas with no options."""
from __future__ import annotations

import base64
import html as html_lib
import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from evalsuite import evaluate
from evalsuite.cli import main
from evalsuite.reporting.html import metric_table, visible, write_report
from evalsuite.commands.upgrade import upgrade_task as upgraded_task
from evalsuite.reporting.plots import task_figures


class Page(HTMLParser):
    """Elements of a page by tag, with their attributes, and every src/href."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


def svg_text(uri: str) -> str:
    assert uri.startswith("data:image/svg+xml;base64,")
    return base64.b64decode(uri.split(",", 1)[1]).decode()


def texts(uri: str) -> list[str]:
    """The text elements of an SVG plot, in drawing order."""
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg_text(uri))


@pytest.fixture(scope="module")
def review_run(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("review-run")
    evaluate(tasks="gsm8k", model=f"hf:{tiny_model_dir}", limit=3, protocol="review", rounds=1, max_tokens=8,
             output_dir=out, progress=False, log=lambda m: None)
    return out


def test_every_run_writes_a_self_contained_report(review_run):
    html = (review_run / "report.html").read_text()
    page = Page(html)
    kinds = {f["data-plot"] for f in page.find("figure")}
    assert {"rounds", "flip_matrix"} <= kinds
    for a in page.find("img"):
        assert a["src"].startswith("data:image/svg+xml;base64,")
    assert not re.search(r'(src|href)="(https?:)?//', html), "no external assets"
    assert len(page.find("script")) == 1 and len(page.find("link")) == 0
    assert "default-src 'none'" in page.find("meta", **{"http-equiv": "Content-Security-Policy"})[0]["content"]
    chains = page.find("details", **{"class": "chain"})
    assert len(chains) == 3
    assert html.count('class="turn"') >= 3 * 3  # review: answer, critique, revised answer per doc
    assert 'data-metric="accuracy"' in html and 'data-metric="delta"' in html


def test_results_csv_loads_in_pandas_with_no_options(review_run):
    df = pd.read_csv(review_run / "results.csv")
    assert list(df.columns) == ["task", "subset", "protocol", "attempt", "metric", "variant", "param_N", "value",
                                "ci_low", "ci_high", "n", "direction", "label", "note"]
    assert df["attempt"].dtype.kind == "i" and df["n"].dtype.kind == "i" and df["value"].dtype.kind == "f"
    acc = df[(df.metric == "accuracy") & df.variant.isna() & (df["attempt"] == 1)]
    assert len(acc) == 1 and acc.iloc[0]["n"] == 3 and acc.iloc[0]["direction"] == "higher"


def test_report_command_rebuilds_and_rejects_bad_dirs(review_run, tmp_path, capsys):
    out = tmp_path / "again.html"
    assert main(["report", str(review_run), "--out", str(out), "--samples", "1"]) == 0
    assert out.read_text().count('class="chain"') == 1
    assert "showing the first 1 of 3 chains" in out.read_text()
    capsys.readouterr()
    for bad in ([str(tmp_path / "missing")], [str(tmp_path)], [str(review_run), "--samples", "none"]):
        assert main(["report", *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("evalsuite: error:"), err


def test_a_report_failure_keeps_the_results(review_run, tiny_model_dir, monkeypatch):
    import evalsuite.reporting.html as html_mod

    def broken(*a, **k):
        raise RuntimeError("template\nexploded")

    monkeypatch.setattr(html_mod, "write_report", broken)
    logged = []
    res = evaluate(tasks="gsm8k", model=f"hf:{tiny_model_dir}", limit=3, protocol="review", rounds=1, max_tokens=8,
                   output_dir=review_run, progress=False, log=logged.append)
    assert res.stats.generated == 0 and (review_run / "results.json").exists()
    warnings = [m for m in logged if "report.html not written" in m]
    assert len(warnings) == 1 and "\n" not in warnings[0] and "template exploded" in warnings[0]


FLIPS = [{"from": 0, "to": 1, "right→right": 5, "right→wrong": 1, "wrong→right": 3, "wrong→wrong": 2}]
BINS = [{"bin": 1, "lo": 0.1, "hi": 0.2, "count": 4, "mean_confidence": 0.15, "accuracy": 0.25},
        {"bin": 8, "lo": 0.8, "hi": 0.9, "count": 6, "mean_confidence": 0.85, "accuracy": 0.5}]


def test_plots_follow_the_data_present(rd):
    rows = [rd.row("t", "accuracy", v, r).to_dict() for r, v in enumerate([0.4, 0.6, 0.5])]
    rows += [rd.row("t", "bon_accuracy[majority, N=1]", 0.2, ci=(0.1, 0.3)).to_dict(),
             rd.row("t", "bon_accuracy[majority, N=2]", 0.3, ci=(0.2, 0.4)).to_dict()]
    extras = {
        "self_correction": {"flips": FLIPS, "flips_from_first": FLIPS},
        "calibration": {"reliability": {"verbal": {"0": {"width": BINS, "mass": BINS, "n": 10,
                                                         "label": "verbalized"}}}},
        "best_of_n": {"n": [1, 2], "accuracy": {"majority": [0.2, 0.3]}, "borda_p": 0.5},
        "critique": {"by_attempt": {"0": {"confusion": {"exclude": {"tp": 7, "fp": 2, "fn": 1, "tn": 9}},
                                          "unparsed": {"response_correct": 4, "response_wrong": 0}}}},
        "contamination": {"roc": [{"plot": "roc", "subset": "gsm8k",
                                   "detectors": {"ppl": {"fpr": [0, 0.5, 1], "tpr": [0, 1, 1], "auc": 0.75}}}]},
    }
    figs, notes = task_figures(upgraded_task("t", {"metrics": rows, "extras": extras}))  # the old shapes, translated
    assert notes == []
    by_kind = {f.kind: f for f in figs}
    assert sorted(by_kind) == ["accuracy_vs_n", "confusion", "flip_matrix", "reliability", "roc", "rounds"]
    assert len([f for f in figs if f.kind == "flip_matrix"]) == 1, "0→1 from flips_from_first repeats flips[0]"
    flips = texts(by_kind["flip_matrix"].uri)
    assert flips[flips.index("attempt 0 → 1") - 8:] == ["5", "45%", "1", "9%", "3", "27%", "2", "18%", "attempt 0 → 1"]
    conf = texts(by_kind["confusion"].uri)  # gold rows (correct, wrong) × (judged correct, judged wrong, no verdict)
    assert conf[conf.index("gold") + 1:] == ["9", "2", "4", "1", "7", "0"] and "no verdict" in conf
    assert "AUC 0.750" in svg_text(by_kind["roc"].uri)
    assert "majority" in svg_text(by_kind["accuracy_vs_n"].uri)
    assert "equal-mass bins" in svg_text(by_kind["reliability"].uri)
    assert "ROC curves (gsm8k)" == by_kind["roc"].title


def test_absent_data_draws_nothing_and_bad_old_shapes_are_said_and_left_out(rd, capsys):
    only_parse = [rd.row("t", "parse_rate", 0.5).to_dict()]
    assert task_figures(upgraded_task("t", {"metrics": only_parse, "extras": {}})) == ([], [])
    bad = {"x": {"plot": "roc", "detectors": {"ppl": {"fpr": [0, 1], "tpr": [0]}}}}
    figs, notes = task_figures(upgraded_task("t", {"metrics": only_parse, "extras": bad}))
    assert figs == [] and notes == []
    assert capsys.readouterr().out.startswith("note: tasks.t plot x left out (detector 'ppl': fpr and tpr")


def test_metric_table_marks_the_best_round_by_direction(rd):
    rows = [rd.row("t", "accuracy", v, r) for r, v in enumerate([0.4, 0.6, 0.5])]
    rows += [rd.row("t", "ece", v, r, direction="lower") for r, v in enumerate([0.2, 0.1, 0.3])]
    rows += [rd.row("t", "parse_rate", 0.5, r) for r in range(3)]
    lines = {ln["metric"]: ln for ln in metric_table(rows)["lines"]}
    assert [lines["accuracy"]["cells"][r]["best"] for r in range(3)] == [False, True, False]
    assert [lines["ece"]["cells"][r]["best"] for r in range(3)] == [False, True, False]
    assert not any(c["best"] for c in lines["parse_rate"]["cells"].values()), "equal values: no best"
    assert lines["accuracy"]["cells"][1]["ci"] == "[0.000, 1.000]"


def test_chains_carry_status_and_flips(rd, tmp_path):
    s = rd.sample
    samples = [
        s("t", "a", 0, "first: 4", True), s("t", "a", 1, "looks fine", None, kind="feedback"),
        s("t", "a", 2, "revised: 5", False, attempt=1),
        s("t", "b", 0, "4", True), s("t", "b", 1, "4", True, attempt=1),
        s("t", "c", 0, "no idea", False), s("t", "c", 1, "4", True, attempt=1),
        s("t", "d", 0, "(critique only)", None, kind="feedback"),
    ]
    run = rd.write_run(tmp_path / "run", [rd.row("t", "accuracy", 0.5)], samples)
    html = write_report(run).read_text()
    chains = Page(html).find("details", **{"class": "chain"})
    status = [(c["data-status"], c["data-flipped"]) for c in chains]
    assert status == [("incorrect", "yes"), ("correct", "no"), ("correct", "yes"), ("unscored", "no")]
    for text in ("all (4)", "correct (2)", "incorrect (1)", "flipped (2)", "✓ → ✗", "✗ → ✓"):
        assert text in html
    assert html.index("first: 4") < html.index("looks fine") < html.index("revised: 5"), "rounds in order"


def test_visible_shows_control_characters():
    assert visible("a\x1fb\x7fc\n\td\ud800") == "a␟b␡c\n\td\ufffd"
    assert visible(None) == ""


def test_metrics_explain_themselves_on_hover_and_in_the_glossary(rd, tmp_path):
    rows = [rd.row("t", "accuracy", 0.5, 0, protocol="review"), rd.row("t", "accuracy", 0.6, 1, protocol="review"),
            rd.row("t", "cl", 0.75, 1, protocol="review"), rd.row("t", "bon_accuracy[borda p=0.5 (streamed), N=4]", 0.4, -1)]
    html = write_report(rd.write_run(tmp_path / "run", rows)).read_text()
    cl_title = html_lib.unescape(re.search(r'<tr data-metric="cl">\s*<td title="([^"]*)"', html).group(1))
    assert "P(right at attempt r | right at attempt 0)" in cl_title and "arXiv 2412.19513" in cl_title
    heads = re.findall(r'<th class="num">([^<]*)</th>', html)
    assert heads[:3] == ["attempt 0", "attempt 1", "all attempts"]
    glossary = html_lib.unescape(html[html.index('id="glossary"'):html.index('id="run-config"')])
    for name, source in (("Accuracy", "official scorer"), ("CL (0→r)", "Yang et al. 2025"),
                         ("Best-of-N accuracy", "arXiv 2502.18581"), ("Borda vote (power p)", "Self-Certainty")):
        assert name in glossary and source in glossary, name
