"""The run-dir lock: a second holder waits (and says so) until the first lets go; exceptions release it."""
from __future__ import annotations

import threading
import time

import pytest

from evalsuite import runlock


def test_second_holder_waits_with_a_message(tmp_path):
    said: list[str] = []
    order: list[str] = []
    got_it = threading.Event()

    def second():
        with runlock.run_dir_lock(tmp_path, said.append):
            order.append("second")
            got_it.set()

    with runlock.run_dir_lock(tmp_path, said.append):
        t = threading.Thread(target=second)
        t.start()
        deadline = time.time() + 10
        while not said and time.time() < deadline:
            time.sleep(0.01)
        assert not got_it.is_set()
        order.append("first")
    t.join(10)
    assert order == ["first", "second"]
    assert len(said) == 1 and "waiting for another evalsuite run" in said[0] and str(tmp_path) in said[0]
    assert "pid" in said[0]


def test_an_error_inside_the_block_releases_the_lock(tmp_path):
    with pytest.raises(ValueError):
        with runlock.run_dir_lock(tmp_path, lambda m: None):
            raise ValueError("boom")
    said: list[str] = []
    with runlock.run_dir_lock(tmp_path, said.append):
        pass
    assert said == []
