"""Leaderboard specs ship inside the package: a bare name resolves there from any working directory."""
from __future__ import annotations

import pytest

from evalsuite.errors import UsageError
from evalsuite.reporting.leaderboard_spec import SPEC_DIR, load_spec


def test_a_shipped_spec_loads_by_name_outside_the_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert SPEC_DIR.parent.name == "evalsuite"
    assert {p.stem for p in SPEC_DIR.glob("*.yaml")} == {"core", "self_correction", "introspection", "contamination", "pushback"}
    core = load_spec("core")
    assert core.name == "core" and core.columns and core.scored


def test_an_unknown_name_lists_the_shipped_specs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=r"nosuch not found; .*\(contamination, core, introspection, pushback, self_correction\)"):
        load_spec("nosuch")
