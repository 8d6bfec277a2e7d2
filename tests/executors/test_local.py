"""The in-process executor: the model loads before a round's clock starts, so tokens/s measures generation."""
from __future__ import annotations

import json
import time

from evalsuite import evaluate
from evalsuite.backends.mock import MockBackend


class SlowLoad(MockBackend):
    """The mock model with a first load as slow as converting the embedded model (scaled down)."""

    loads = 0

    def load(self) -> None:
        SlowLoad.loads += 1
        time.sleep(0.5)


def test_a_slow_first_load_is_not_generation_time(tmp_path):
    evaluate(tasks=["gsm8k"], model=SlowLoad("mock"), limit=3, output_dir=tmp_path / "run", progress=False,
             log=lambda *_: None)
    run = json.loads((tmp_path / "run" / "results.json").read_text())["run"]
    assert SlowLoad.loads >= 1 and run["generated"] == 3
    assert run["gen_seconds"] < 0.5 <= run["wall_seconds"]


def test_a_run_whose_replies_are_all_stored_never_loads_the_model(tmp_path):
    evaluate(tasks=["gsm8k"], model=SlowLoad("mock"), limit=2, output_dir=tmp_path / "run", progress=False,
             log=lambda *_: None)
    SlowLoad.loads = 0
    evaluate(tasks=["gsm8k"], model=SlowLoad("mock"), limit=2, output_dir=tmp_path / "run", progress=False,
             log=lambda *_: None)
    assert SlowLoad.loads == 0
