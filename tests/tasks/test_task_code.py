"""A shipped benchmark's code sits in its task folder (`evalsuite/tasks/<benchmark>/utils.py`), and the names its
scorers register still resolve in a process that has imported none of it (the registry reads task folders)."""
from __future__ import annotations

import subprocess
import sys

MOVED = {"gsm8k": "gsm8k", "cruxeval_o": "cruxeval", "cruxeval_i": "cruxeval", "humaneval": "humaneval",
         "hotpotqa": "hotpotqa", "rl_mia": "rl_mia"}


def test_registered_names_of_task_folder_scorers_resolve_in_a_fresh_process():
    code = ("import sys; from evalsuite.registry import SCORERS, lookup\n"
            f"print(*(lookup(SCORERS, 'scorer', n).__module__ for n in {list(MOVED)!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [f"evalsuite.tasks.{folder}.utils" for folder in MOVED.values()]


def test_only_shared_conventions_stay_in_scoring():
    from evalsuite.registry import SCORERS, load_plugins

    load_plugins()
    in_scoring = sorted(n for n, cls in SCORERS.items() if cls.__module__.startswith("evalsuite.scoring."))
    assert in_scoring == ["choice", "math", "regex", "verdict"]
