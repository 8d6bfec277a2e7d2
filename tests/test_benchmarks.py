"""Benchmarks cannot rot: every script under benchmarks/ declares a `--smoke` mode (seconds), which `.ci/run`
runs for each one (`benchmarks/smoke.sh`), failing CI when one crashes."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _declares_smoke(path: Path) -> bool:
    """Whether the script's source has an `add_argument("--smoke", ...)` call."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument"
                and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == "--smoke"):
            return True
    return False


def test_every_benchmark_has_a_smoke_mode():
    scripts = sorted(BENCH.glob("*.py"))
    assert len(scripts) >= 9, [p.name for p in scripts]
    assert [p.name for p in scripts if not _declares_smoke(p)] == []


def test_the_smoke_check_sees_a_script_without_one(tmp_path):
    bare = tmp_path / "bare.py"
    bare.write_text('import argparse\np = argparse.ArgumentParser()\np.add_argument("--n", type=int)\n')
    assert not _declares_smoke(bare)
    bare.write_text('import argparse\np = argparse.ArgumentParser()\np.add_argument("--smoke", action="store_true")\n')
    assert _declares_smoke(bare)


def test_smoke_script_runs_every_benchmark_and_fails_on_a_crash(tmp_path):
    """benchmarks/smoke.sh runs each script it finds; one that crashes makes it exit non-zero, naming it."""
    (tmp_path / "good.py").write_text("import sys\nassert '--smoke' in sys.argv\n")
    (tmp_path / "broken.py").write_text("import evalsuite.no_such_module\n")
    done = subprocess.run(["bash", str(BENCH / "smoke.sh"), str(tmp_path)], capture_output=True, text=True,
                          timeout=120, env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED broken.py" in done.stdout and "ok good.py" in done.stdout


@pytest.mark.parametrize("script", ["harness.py"])
def test_harness_smoke_prints_its_json_line(script):
    import json

    done = subprocess.run([sys.executable, str(BENCH / script), "--smoke", "--json"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads(done.stdout.strip().splitlines()[-1])
    assert row["generations"] == 120 and row["rerun_generated"] == 0 and row["rerun_from_store"] == 120
