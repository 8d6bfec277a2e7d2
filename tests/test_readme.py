"""README.md stays true to the code: the results.csv columns it lists, its layout section and its flag table."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from evalsuite.reporting.outputs import write_results_csv
from evalsuite.summaries import MetricRow

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PKG = ROOT / "evalsuite"


def _bullet(start: str) -> str:
    """The README bullet that opens with `start`, continuation lines included."""
    m = re.search(rf"^- {re.escape(start)}.*?(?=^- |^\n|^#)", README, flags=re.M | re.S)
    assert m, f"README has no bullet starting {start!r}"
    return m.group(0)


def test_results_csv_columns_match_what_is_written(tmp_path):
    m = re.search(r"one row per `([^`]+)`\s+with `([^`]+)`", _bullet("`results.csv`"))
    assert m, "README's results.csv bullet no longer says 'one row per `KEYS` with `VALUES`'"
    listed = [c.strip() for part in m.groups() for c in part.split(",")]
    row = MetricRow("gsm8k", "", "cot", 0, "accuracy", 0.5, 0.25, 0.75, 4, "higher", "Accuracy")
    write_results_csv(tmp_path / "results.csv", [row])
    with open(tmp_path / "results.csv", newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert listed == header


def _layout() -> dict[str, list[str]]:
    """The layout block's package lines: '' for evalsuite/ itself, else the subpackage name -> names listed."""
    block = README.split("## Layout", 1)[1].split("```", 2)[1]
    out: dict[str, str] = {}
    current = None
    for line in block.splitlines():
        if line.startswith("evalsuite/"):
            current, line = "", line[len("evalsuite/"):]
        elif m := re.match(r"^  ([a-z_]+)/\s", line):
            current, line = m.group(1), line[m.end():]
        elif not line.startswith(" "):
            current = None
        if current is None:
            continue
        out[current] = out.get(current, "") + " " + line
    # a parenthesised note (over lines too) and a "prose intro:" before the names are descriptions, not names
    return {sub: re.sub(r"^\s*[^:()]*:\s", " ", re.sub(r"\([^)]*\)", " ", text)).split()
            for sub, text in out.items()}


def test_layout_names_every_subpackage_and_module_that_exists():
    layout = _layout()
    subpackages = {p.parent.name for p in PKG.glob("*/__init__.py")}
    assert set(layout) - {""} == subpackages, "README's Layout section and evalsuite/'s subpackages differ"
    top = {p.name for p in PKG.glob("*.py") if not p.name.startswith("_")}
    assert set(layout[""]) == top, (f"README's Layout section misses evalsuite/{sorted(top - set(layout['']))} "
                                    f"or names gone modules {sorted(set(layout['']) - top)}")
    for sub, names in layout.items():
        if not sub:
            continue
        modules = {p.stem for p in (PKG / sub).glob("*.py") if p.stem != "__init__"}
        missing = [n for n in names if not list((PKG / sub).glob(n.rstrip("/")))
                   and not (PKG / sub / f"{n}.py").exists()]
        assert not missing, f"README layout names {sub}/{missing}, which do not exist"
        assert modules <= set(names), f"README layout misses {sub}/{sorted(modules - set(names))}"


def _run_flags() -> set[str]:
    from evalsuite.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {o for a in sub.choices["run"]._actions for o in a.option_strings if o.startswith("--") and o != "--help"}


def test_flag_table_covers_every_run_flag():
    table = "\n".join(line for line in README.splitlines() if line.startswith("| "))
    in_table = set(re.findall(r"`(--[a-z][a-z0-9-]*)", table))
    missing = sorted(_run_flags() - in_table)
    assert not missing, f"README's flag table lacks {missing}"
    stale = sorted(in_table - _run_flags() - {"--debug"})
    assert not stale, f"README's flag table lists flags `evalsuite run` does not have: {stale}"


@pytest.mark.parametrize("fact", ["Python 3.10–3.12", "https://download.pytorch.org/whl/cpu", "Q4_1",
                                  "SmolLM2-135M-Instruct", "--threads 1"])
def test_set_up_facts_are_stated(fact):
    assert fact in README
