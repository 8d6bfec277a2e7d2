"""`evalsuite leaderboard`: hand-worked overall scores and ranks, missing entries never 0, config differences
flagged, runs of one model merged or kept apart, specs validated; and a real run over two tiny-model runs."""
from __future__ import annotations

import pandas as pd
import pytest

from evalsuite import evaluate
from evalsuite.cli import main
from evalsuite.errors import UsageError
from evalsuite.reporting.leaderboard import build_leaderboard
from evalsuite.reporting.leaderboard_spec import SPEC_DIR, load_spec, parse_spec
from evalsuite.reporting.leaderboard_write import csv_rows, write_leaderboard
from evalsuite.rundir import load_run

SPEC = {"title": "Test board", "columns": [
    {"task": "gsm8k", "metric": "accuracy", "round": 0, "weight": 2},
    {"task": "math500", "metric": "accuracy", "round": 0, "weight": 1},
    {"task": "gsm8k", "metric": "ece", "round": 0, "weight": 1, "direction": "lower"},
    {"task": "gsm8k", "metric": "parse_rate", "round": 0, "weight": 0},
]}


@pytest.fixture
def three_runs(rd, tmp_path):
    r = rd.row
    a = rd.write_run(tmp_path / "a", [r("gsm8k", "accuracy", 0.6), r("math500", "accuracy", 0.3),
                                      r("gsm8k", "ece", 0.1, direction="lower"), r("gsm8k", "parse_rate", 0.9)],
                     model_id="model-a")
    b = rd.write_run(tmp_path / "b", [r("gsm8k", "accuracy", 0.5), r("math500", "accuracy", 0.4),
                                      r("gsm8k", "ece", 0.3, direction="lower"), r("gsm8k", "parse_rate", 0.9)],
                     model_id="model-b")
    c = rd.write_run(tmp_path / "c", [r("gsm8k", "accuracy", 0.7), r("gsm8k", "ece", 0.05, direction="lower")],
                     model_id="model-c")
    return [load_run(p) for p in (a, b, c)]


def test_overall_ranks_and_missing_entries(three_runs, tmp_path):
    board = build_leaderboard(three_runs, parse_spec(SPEC, "test"))
    by = {e.label: e for e in board.entries}
    # a: (2*0.6 + 0.3 + (1 - 0.1)) / 4 = 0.6; b: (2*0.5 + 0.4 + (1 - 0.3)) / 4 = 0.525; c lacks math500
    assert by["model-a"].overall == pytest.approx(0.6)
    assert by["model-b"].overall == pytest.approx(0.525)
    assert by["model-c"].overall is None and by["model-c"].overall_missing == ["math500/accuracy/r0"]
    assert [e.label for e in board.entries] == ["model-a", "model-b", "model-c"]
    assert (by["model-a"].rank, by["model-b"].rank, by["model-c"].rank) == (1, 2, None)
    assert [by[m].ranks["gsm8k/accuracy/r0"] for m in ("model-c", "model-a", "model-b")] == [1, 2, 3]
    assert [by[m].ranks["gsm8k/ece/r0"] for m in ("model-c", "model-a", "model-b")] == [1, 2, 3]
    assert by["model-a"].ranks["gsm8k/parse_rate/r0"] == by["model-b"].ranks["gsm8k/parse_rate/r0"] == 1
    assert "math500/accuracy/r0" not in by["model-c"].ranks

    paths = write_leaderboard(board, tmp_path / "out")
    assert [p.name for p in paths] == ["leaderboard.csv", "leaderboard.md", "leaderboard.html"]
    df = pd.read_csv(paths[0])
    c = df[df.model == "model-c"].iloc[0]
    assert pd.isna(c["overall"]) and pd.isna(c["math500/accuracy/r0"]) and pd.isna(c["rank"])
    assert df.loc[df.model == "model-a", "overall"].iloc[0] == pytest.approx(0.6)
    assert df.loc[df.model == "model-b", "gsm8k/ece/r0 rank"].iloc[0] == 3
    md = paths[1].read_text()
    row_c = next(line for line in md.splitlines() if line.startswith("| – | model-c"))
    assert "missing" in row_c and " 0.000 " not in row_c.split("|")[3]
    assert "missing" in paths[2].read_text()


def test_config_differences_are_flagged(rd, tmp_path):
    r = rd.row
    a = rd.write_run(tmp_path / "a", [r("gsm8k", "accuracy", 0.5)], model_id="m1")
    b = rd.write_run(tmp_path / "b", [r("gsm8k", "accuracy", 0.4)], model_id="m2", config={"max_tokens": 256})
    c = rd.write_run(tmp_path / "c", [r("gsm8k", "accuracy", 0.4)], model_id="m3")
    same = build_leaderboard([load_run(a), load_run(c)])
    assert same.task_flags == {}
    diff = build_leaderboard([load_run(a), load_run(b), load_run(c)])
    assert set(diff.task_flags) == {"gsm8k"} and "max_tokens" in diff.task_flags["gsm8k"]
    assert "m2: 256" in diff.task_flags["gsm8k"] and "m1: 64" in diff.task_flags["gsm8k"]
    header, rows = csv_rows(diff)
    assert all("max_tokens" in row["notes"] for row in rows)


def test_runs_of_one_model_merge_unless_they_overlap(rd, tmp_path):
    r = rd.row
    g = rd.write_run(tmp_path / "g", [r("gsm8k", "accuracy", 0.5)], model_id="m")
    m = rd.write_run(tmp_path / "m", [r("math500", "accuracy", 0.2)], model_id="m")
    g2 = rd.write_run(tmp_path / "g2", [r("gsm8k", "accuracy", 0.7)], model_id="m", config={"max_tokens": 8})
    merged = build_leaderboard([load_run(g), load_run(m)])
    assert len(merged.entries) == 1 and merged.entries[0].cells["math500/accuracy@direct/r0"].value == 0.2
    apart = build_leaderboard([load_run(g), load_run(g2)])
    assert sorted(e.label for e in apart.entries) == ["m · max_tokens=64", "m · max_tokens=8"]
    assert not apart.notes
    g3 = rd.write_run(tmp_path / "g3", [r("gsm8k", "accuracy", 0.6)], model_id="m")
    twice = build_leaderboard([load_run(g), load_run(g3)])
    assert sorted(e.label for e in twice.entries) == ["m [g3]", "m [g]"]
    assert any("kept as separate rows" in n for n in twice.notes)


def test_one_model_under_two_protocols_is_two_full_rows(rd, tmp_path):
    r = rd.row
    cot = rd.write_run(tmp_path / "cot", [r("gsm8k", "accuracy", 0.5, protocol="cot")], model_id="m")
    ref = rd.write_run(tmp_path / "ref", [r("gsm8k", "accuracy", 0.4, 0, protocol="self_refine"),
                                          r("gsm8k", "accuracy", 0.6, 1, protocol="self_refine"),
                                          r("gsm8k", "cl", 0.25, 1, protocol="self_refine")], model_id="m")
    other = rd.write_run(tmp_path / "o", [r("gsm8k", "accuracy", 0.3, protocol="cot")], model_id="o")
    board = build_leaderboard([load_run(p) for p in (cot, ref, other)])
    by = {e.label: e for e in board.entries}
    assert sorted(by) == ["m · cot", "m · self_refine", "o · cot"]
    assert [c.id for c in board.columns] == ["gsm8k/accuracy/r0", "gsm8k/accuracy/r1", "gsm8k/cl/r1"]
    assert [by[k].cells["gsm8k/accuracy/r0"].value for k in sorted(by)] == [0.5, 0.4, 0.3]
    assert by["m · self_refine"].cells["gsm8k/cl/r1"].value == 0.25
    assert by["m · cot"].cells["gsm8k/cl/r1"].missing == "metric not in run"
    assert board.task_flags == {} and not board.all_notes()
    header, rows = csv_rows(board)
    assert sorted(row["model"] for row in rows) == sorted(by)


def test_round_last_and_ambiguous_cells(rd, tmp_path):
    r = rd.row
    run = rd.write_run(tmp_path / "r", [r("gsm8k", "accuracy", 0.4, 0, protocol="review"),
                                        r("gsm8k", "accuracy", 0.6, 1, protocol="review"),
                                        r("math500", "accuracy", 0.1, 0, protocol="review"),
                                        r("math500", "accuracy", 0.2, 0, protocol="review", subset="x")])
    spec = parse_spec({"title": "t", "columns": [{"task": ["gsm8k", "math500"], "metric": "accuracy"}]}, "t")
    e = build_leaderboard([load_run(run)], spec).entries[0]
    assert e.cells["gsm8k/accuracy/last"].value == 0.6 and e.cells["gsm8k/accuracy/last"].round == 1
    assert e.cells["math500/accuracy/last"].value is None
    assert e.cells["math500/accuracy/last"].missing.startswith("ambiguous")
    assert e.overall is None


@pytest.mark.parametrize("bad, needle", [
    ({"title": "t", "columns": []}, "non-empty"),
    ({"title": "t", "columns": [{"task": "g", "metric": "accuracy", "wieght": 1}]}, "unknown key(s) wieght"),
    ({"title": "t", "columns": [{"task": "g", "metric": "accuracy", "weight": -1}]}, "weight"),
    ({"title": "t", "columns": [{"task": "g", "metric": "accuracy", "round": "first"}]}, "round"),
    ({"title": "t", "columns": [{"task": "g", "metric": "accuracy", "scale": [1, 0]}]}, "scale"),
    ({"columns": [{"task": "g", "metric": "accuracy"}]}, "title"),
])
def test_bad_specs_are_one_line_usage_errors(bad, needle):
    with pytest.raises(UsageError) as e:
        parse_spec(bad, "bad")
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_shipped_specs_load():
    root = SPEC_DIR
    names = {p.stem for p in root.glob("*.yaml")}
    assert {"self_correction", "introspection", "contamination"} <= names
    for name in names:
        spec = load_spec(root / f"{name}.yaml")
        assert spec.columns and spec.scored
        assert all(c.direction in ("higher", "lower") for c in spec.columns), name


def test_cli_over_two_real_runs(tiny_model_dir, tmp_path, capsys):
    runs = []
    for name, max_tokens in (("short", 4), ("long", 8)):
        out = tmp_path / name
        evaluate(tasks="gsm8k", model=f"hf:{tiny_model_dir}", limit=2, max_tokens=max_tokens, output_dir=out,
                 progress=False, log=lambda m: None)
        runs.append(str(out))
    assert main(["leaderboard", *runs, "--out", str(tmp_path / "lb"), "--spec", "core"]) == 0
    printed = capsys.readouterr().out
    assert "flag: gsm8k" in printed and "max_tokens" in printed
    df = pd.read_csv(tmp_path / "lb" / "leaderboard.csv")
    assert len(df) == 2 and set(df["gsm8k/accuracy/r0 n"]) == {2}
    assert df["math500/accuracy/r0"].isna().all() and df["overall"].isna().all()
    assert (tmp_path / "lb" / "leaderboard.md").read_text().count("| – |") == 2
    assert main(["leaderboard", runs[0], "--out", str(tmp_path / "x"), "--spec", "nosuchspec"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "leaderboard spec nosuchspec not found" in err[0]


EVIL = {"=HYPERLINK(\"http://evil\",\"go\")": "csv", "<script>alert(1)</script>": "html",
        "<img src=x onerror=alert(2)>": "html", "[click](javascript:alert(3))": "md", "**bold** _it_ `code`": "md",
        "-2+3": "csv", "@SUM(A1)": "csv", "a|b": "md", "&lt;b&gt;": "md"}


@pytest.fixture
def evil_board(rd, tmp_path):
    """Entrants whose model names (from results.json, i.e. from users) attack each output format."""
    runs = []
    for i, name in enumerate(EVIL):
        rows = [rd.row("gsm8k", "accuracy", 0.5 + i / 100), rd.row("gsm8k", "delta", -0.25 - i / 100, ci=(-0.5, 0.0))]
        runs.append(load_run(rd.write_run(tmp_path / f"r{i}", rows, model_id=name)))
    return build_leaderboard(runs), tmp_path


def test_leaderboard_csv_neutralises_formulas_and_keeps_numbers(evil_board):
    board, tmp_path = evil_board
    csv_path = write_leaderboard(board, tmp_path / "lb")[0]
    df = pd.read_csv(csv_path)
    formulas = [m for m in df["model"] if m.lstrip("'")[0] in "=+-@"]
    assert len(formulas) == 3 and all(m.startswith("'") for m in formulas)
    assert set(df["model"].str.lstrip("'")) == set(EVIL)
    delta = [c for c in df.columns if c.startswith("gsm8k/delta") and c.endswith("r0")][0]
    assert df[delta].dtype.kind == "f" and df[f"{delta} ci_low"].dtype.kind == "f"
    assert sorted(df[delta].round(2)) == sorted(-0.25 - i / 100 for i in range(len(EVIL)))
    n_col = next(c for c in df.columns if c.startswith("gsm8k/accuracy") and c.endswith(" n"))
    assert df[f"{delta} rank"].dtype.kind == "i" and df[n_col].dtype.kind == "i"


def test_leaderboard_markdown_shows_names_literally(evil_board):
    from markdown_it import MarkdownIt

    board, tmp_path = evil_board
    md = write_leaderboard(board, tmp_path / "lb")[1].read_text()
    html = MarkdownIt("commonmark").enable("table").render(md)
    for bad in ("<script", "<img", "<a ", "<strong>", "<em>", "<code>code", "<b>"):
        assert bad not in html, bad
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "**bold** _it_ `code`" in html and "[click](javascript:alert(3))" in html and "&amp;lt;b&amp;gt;" in html
    body = [line for line in md.splitlines() if line.startswith("| ") and "a\\|b" in line]
    assert body and all(line.count(" | ") == body[0].count(" | ") for line in body)
    table = next(t for t in html.split("<table>")[1:] if "a|b" in t)
    assert '">a|b</td>' in table


def test_self_correction_board_has_cl_cs_rss_for_a_run_of_some_subsets(rd, tmp_path):
    """README's first run (correctbench_aqua and _csqa, no group): its CL, CS and RSS reach the shipped board."""
    r = rd.row
    rows = [r(t, m, v, 1, protocol="review", subset=t.split("_")[1]) for t, m, v in (
        ("correctbench_aqua", "accuracy", 0.35), ("correctbench_aqua", "cl", 0.8), ("correctbench_aqua", "cs", 0.2),
        ("correctbench_aqua", "rss", 0.77), ("correctbench_csqa", "accuracy", 0.3), ("correctbench_csqa", "cl", 0.5),
        ("correctbench_csqa", "cs", 0.1), ("correctbench_csqa", "rss", 0.4))]
    board = build_leaderboard([load_run(rd.write_run(tmp_path / "first", rows))], load_spec("self_correction"))
    cells = board.entries[0].cells
    assert cells["correctbench_aqua/cl/last"].value == 0.8 and cells["correctbench_aqua/rss/last"].value == 0.77
    assert cells["correctbench_csqa/cs/last"].value == 0.1
    assert cells["correctbench_gsm8k/cl/last"].missing == "task not run"


def test_runs_whose_roles_ran_other_models_are_not_one_row(rd, tmp_path):
    r = rd.row
    arguer = {"spec": "hf:big", "backend": "hf", "model_id": "big", "revision": "rev-big"}
    plain = rd.write_run(tmp_path / "a", [r("gsm8k", "accuracy", 0.5)], model_id="m")
    argued = rd.write_run(tmp_path / "b", [r("gsm8k", "accuracy", 0.3)], model_id="m", roles={"arguer": arguer})
    board = build_leaderboard([load_run(plain), load_run(argued)])
    assert len(board.entries) == 2 and any("arguer" in e.label for e in board.entries)
    assert "roles" in board.task_flags["gsm8k"]
