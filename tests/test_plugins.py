"""Python plugins from outside the package: a module named by `--plugins` (or $EVALSUITE_PLUGINS), and an
installed package's `evalsuite.plugins` entry point, each registering a backend that `run --help` lists and a run
uses."""
from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evalsuite import registry
from evalsuite.registry import BACKENDS

PLUGIN = textwrap.dedent('''\
    from evalsuite.backends.mock import MockBackend
    from evalsuite.registry import backend


    @backend("{name}")
    class Fixed(MockBackend):
        """Always answers '#### 18' (the first GSM8K answer)."""

        def __init__(self, rest, model_args=None):
            super().__init__(rest, {{"reply": "#### 18"}})
''')


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    (tmp_path / "fixed_plugin.py").write_text(PLUGIN.format(name="fixed"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("EVALSUITE_PLUGINS", "")  # undone after the test, whatever --plugins set
    yield tmp_path
    dict.pop(BACKENDS, "fixed", None)
    sys.modules.pop("fixed_plugin", None)
    registry._loaded.discard("fixed_plugin")


def test_a_plugins_module_adds_a_backend_to_help_and_runs(plugin_dir, tmp_path, cli):
    out = tmp_path / "run"
    res = cli("run", "--plugins", "fixed_plugin", "--tasks", "gsm8k", "--limit", "2", "--model", "fixed:x",
              "--output-dir", str(out), "--no-progress")
    assert res.returncode == 0, res.stderr
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert [s["output"] for s in samples] == ["#### 18", "#### 18"]
    assert [s["correct"] for s in samples] == [True, False]  # gold of the first two GSM8K docs: 18 and 3
    assert os.environ["EVALSUITE_PLUGINS"] == "fixed_plugin"  # what Ray replicas receive


def test_the_help_lists_a_plugin_backend(plugin_dir, capsys):
    from evalsuite.cli import main

    with pytest.raises(SystemExit):
        main(["run", "--plugins", "fixed_plugin", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "backends: fixed, hf, mock, openai, vllm" in help_text


def test_a_plugin_that_cannot_be_imported_is_one_line(monkeypatch, tmp_path, cli):
    monkeypatch.setenv("EVALSUITE_PLUGINS", "")  # undone after the test, whatever --plugins set
    res = cli("run", "--plugins", "no_such_plugin_module", "--tasks", "gsm8k", "--model", "mock:m",
              "--output-dir", str(tmp_path / "run"))
    assert res.returncode == 2 and "no_such_plugin_module" in res.stderr and len(res.stderr.splitlines()) == 1
    monkeypatch.setenv("EVALSUITE_PLUGINS", "")  # undone after the test, whatever --plugins set
    registry._loaded.discard("no_such_plugin_module")


@pytest.mark.slow
def test_an_installed_package_adds_a_backend_by_entry_point(tmp_path):
    """A plugin package installed in a new venv (which sees this environment's packages through a .pth file, also
    when this environment is itself a venv) declares its module under
    the `evalsuite.plugins` entry point; `evalsuite run --help` there lists its backend with no flag."""
    pkg = tmp_path / "pkg"
    (pkg / "evalsuite_fixed").mkdir(parents=True)
    (pkg / "evalsuite_fixed" / "__init__.py").write_text(PLUGIN.format(name="fixed_ep"))
    (pkg / "pyproject.toml").write_text(textwrap.dedent('''\
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "evalsuite-fixed"
        version = "0.1"

        [project.entry-points."evalsuite.plugins"]
        fixed = "evalsuite_fixed"
        '''))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    inner = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           capture_output=True, text=True, check=True).stdout.strip()
    outer = [p for p in site.getsitepackages() if os.path.isdir(p)]  # this environment's, editable install included
    Path(inner, "outer_env.pth").write_text("import site; " + "; ".join(f"site.addsitedir({p!r})" for p in outer))
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(pkg)],
                   check=True, capture_output=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k != "EVALSUITE_PLUGINS"}
    done = subprocess.run([str(py), "-m", "evalsuite", "run", "--help"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "backends: fixed_ep, hf, mock, openai, vllm" in " ".join(done.stdout.split())
    outside = subprocess.run([sys.executable, "-m", "evalsuite", "run", "--help"], capture_output=True, text=True,
                             env=env, timeout=120)
    assert "fixed_ep" not in outside.stdout
