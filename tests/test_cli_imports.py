"""The everyday commands start without torch, transformers, vLLM or datasets (each checked in a fresh interpreter),
and reading plugin declarations registers exactly what importing every plugin module would."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "vllm", "datasets")

_RUN_MAIN = """
import contextlib, io, json, sys
from evalsuite.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as e:
        code = e.code
print(json.dumps({"code": code, "out": out.getvalue()[:2000],
                  "modules": sorted({m.split('.')[0] for m in sys.modules})}))
"""


def _run(args: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", _RUN_MAIN, *args], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    cache = tmp_path_factory.mktemp("cache")
    return {**os.environ, "EVALSUITE_CACHE": str(cache)}


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["tasks"]])
def test_everyday_commands_import_no_heavy_library(args, env):
    got = _run(args, env)
    assert got["code"] == 0
    assert got["out"].strip(), "the command printed nothing"
    assert not set(HEAVY) & set(got["modules"]), f"evalsuite {' '.join(args)} imported {set(HEAVY) & set(got['modules'])}"


def test_lm_eval_path_reuses_its_folder_without_heavy_libraries(env, tmp_path):
    # the first call writes the folder (reading one doc per task through `datasets`); later calls only check the stamp
    from evalsuite.lmeval.folder import fingerprint

    for _ in range(3):  # a package file edited between the calls (a shared checkout) legitimately forces a rebuild
        before = fingerprint()
        first = _run(["lm-eval-path", "--dir", str(tmp_path / "tasks")], env)
        again = _run(["lm-eval-path", "--dir", str(tmp_path / "tasks")], env)
        if fingerprint() == before:
            break
    assert first["code"] == again["code"] == 0
    assert again["out"].strip() == str(tmp_path / "tasks")
    assert not set(HEAVY) & set(again["modules"])


_TABLES = """
import importlib, json, pkgutil, sys
from evalsuite import registry
from evalsuite.metrics.base import METRICS
from evalsuite.summaries.base import SUMMARIZERS

def snapshot():
    return {"backends": sorted(registry.BACKENDS), "protocols": sorted(registry.PROTOCOLS),
            "scorers": sorted(registry.SCORERS), "metrics": sorted(METRICS), "summarizers": sorted(SUMMARIZERS),
            "commands": sorted(registry.COMMANDS), "run_options": sorted(registry.RUN_OPTIONS),
            "executors": sorted(registry.EXECUTORS)}

registry.load_plugins()
declared = snapshot()
heavy = sorted(m for m in ("torch", "transformers", "vllm", "datasets") if m in sys.modules)
for sub in registry.PLUGIN_PACKAGES:
    pkg = importlib.import_module("evalsuite." + sub)
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"evalsuite.{sub}.{info.name}")
print(json.dumps({"declared": declared, "imported": snapshot(), "heavy": heavy,
                  "hf": registry.BACKENDS["hf"].__name__}))
"""


def test_declarations_register_what_importing_every_plugin_would():
    proc = subprocess.run([sys.executable, "-c", _TABLES], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.splitlines()[-1])
    assert got["declared"] == got["imported"]
    assert {"hf", "vllm", "openai"} <= set(got["declared"]["backends"])
    assert {"local", "ray"} <= set(got["declared"]["executors"])
    assert got["heavy"] == [] and got["hf"] == "HFBackend"


def test_a_lazily_declared_backend_resolves_to_its_class():
    from evalsuite.registry import BACKENDS, load_plugins, lookup

    load_plugins()
    cls = lookup(BACKENDS, "backend", "openai")
    assert cls.__name__ == "OpenAIBackend" and cls.registry_name == "openai"
    assert BACKENDS["openai"] is cls and BACKENDS.get("nope") is None
