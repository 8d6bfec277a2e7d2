"""`evalsuite matrix`: 2 generator runs x 2 critic runs (the embedded model and `mock:`) with --limit 4; the matrix
CSV equals the cells read from each run's own results.json; refusals are one line."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from evalsuite import evaluate
from evalsuite.errors import UsageError
from evalsuite.reporting.critique_matrix import CELLS, write_matrix

TASK = "correctbench_gsm8k"
MODELS = {"embedded": (None, None), "mock": ("mock:critic", "reply=I checked it. #### 18\nVerdict: incorrect")}


def _run(model, args, out, **kw):
    return evaluate(tasks=TASK, model=model, model_args=args, limit=4, max_tokens=24, output_dir=out,
                    progress=False, log=lambda m: None, **kw)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    pytest.importorskip("gguf")
    root = tmp_path_factory.mktemp("matrix")
    gens = {}
    for name, (model, args) in MODELS.items():
        gens[name] = root / f"gen-{name}"
        _run(model, args, gens[name], protocol="direct")
    critic_runs = []
    for critic, (model, args) in MODELS.items():
        for gen, path in gens.items():
            out = root / f"critic-{critic}-x-{gen}"
            _run(model, args, out, protocol="critique_correct", options={"policy_run": str(path)})
            critic_runs.append(out)
    return root, critic_runs


@pytest.mark.slow
def test_matrix_csv_equals_each_runs_own_cells(runs):
    root, critic_runs = runs
    written = write_matrix([str(p) for p in critic_runs], root / "m")
    assert [p.name for p in written] == ["matrix.csv", "matrix.html"]
    got = list(csv.DictReader((root / "m" / "matrix.csv").open()))
    assert len(got) == len(CELLS) * 2 * 2
    critics = {r["critic"] for r in got}
    assert len(critics) == 2 and critics == {r["generator"] for r in got}, "same two models on both axes"
    for path in critic_runs:
        res = json.loads((path / "results.json").read_text())
        rows = res["tasks"][TASK]["metrics"]
        for name, which, _ in CELLS:
            mine = [r for r in rows if r["metric"] == name]
            want = (min if which == "first" else max)(mine, key=lambda r: r["round"])
            cell = [c for c in got if c["run"] == str(path) and c["metric"] == name]
            assert len(cell) == 1 and float(cell[0]["value"]) == pytest.approx(want["value"], abs=1e-12)
            assert int(cell[0]["n"]) == want["n"]
    page = (root / "m" / "matrix.html").read_text()
    assert "Critique F1" in page and "<script" not in page


@pytest.mark.slow
def test_missing_pair_is_an_empty_cell_and_cli_refusals_are_one_line(runs, tmp_path):
    root, critic_runs = runs
    write_matrix([str(p) for p in critic_runs[:3]], tmp_path / "m")
    got = list(csv.DictReader((tmp_path / "m" / "matrix.csv").open()))
    empty = [r for r in got if r["value"] == ""]
    assert len(empty) == len(CELLS) and {r["run"] for r in empty} == {""}
    with pytest.raises(UsageError, match="two runs"):
        write_matrix([str(critic_runs[0]), str(critic_runs[0])], tmp_path / "x")
    proc = subprocess.run([sys.executable, "-m", "evalsuite", "matrix", str(root / "gen-mock"), "--out",
                           str(tmp_path / "y")], capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "critique_correct" in proc.stderr
