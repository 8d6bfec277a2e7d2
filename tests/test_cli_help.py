"""`evalsuite run --help`: flags grouped under headings (protocol options by protocol) with their defaults shown."""
from __future__ import annotations

import re

import pytest

from evalsuite.cli import main
from evalsuite.registry import RUN_OPTION_GROUPS, RUN_OPTIONS, load_plugins


@pytest.fixture
def run_help(capsys) -> str:
    with pytest.raises(SystemExit) as e:
        main(["run", "--help"])
    assert e.value.code == 0
    return capsys.readouterr().out


def _sections(text: str) -> dict[str, str]:
    """Help text split at its group headings (lines ending in ':' at column 0)."""
    parts = re.split(r"^(\S[^\n]*):\n", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_run_help_groups_flags(run_help):
    sec = _sections(run_help)
    assert {"tasks and data", "model", "generation", "protocol", "output", "execution"} <= set(sec)
    assert "--tasks" in sec["tasks and data"] and "--full" in sec["tasks and data"]
    assert "--model-args" in sec["model"] and "--temperature" in sec["generation"]
    assert "--rounds" in sec["protocol"] and "--output-dir" in sec["output"]
    assert "--threads" in sec["execution"]
    assert "--borda-p" in sec["best_of_n protocol options"]
    assert "--cdd-samples" in sec["contamination protocol options"]
    assert "--observer-model" in sec["self_predict protocol options"]


def test_run_help_shows_defaults(run_help):
    text = " ".join(run_help.split())
    assert "--max-tokens N token budget of each reply (default: 512)" in text
    assert "--temperature T 0 is greedy (default: 0.0)" in text
    assert "--samples N samples per doc (default: 1)" in text
    assert "(default: None)" not in text and "(default: False)" not in text


def test_every_run_option_has_a_group():
    load_plugins()
    assert set(RUN_OPTIONS) <= set(RUN_OPTION_GROUPS)
    assert RUN_OPTION_GROUPS["--confidence"] == "confidence protocol options"
    assert RUN_OPTION_GROUPS["--full"] == "tasks and data"
