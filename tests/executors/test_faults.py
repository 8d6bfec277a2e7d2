"""Faults on a local Ray with real replicas of the tiny model: a backend raising RaySystemError, a hung chunk, a
replica killed with SIGKILL whose restart cannot reload the model, and every replica gone. The run finishes with
the in-process run's samples, or stops with one line and resumes to them.

The faults are injected by a Replica subclass (shipped to the workers by value) that misbehaves once, keyed by
marker files, so a restarted replica behaves normally unless the test armed it."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest

from evalsuite.executors.ray_replica import Replica

pytestmark = pytest.mark.slow

TASK = dict(tasks="correctbench_gsm8k", limit=4, max_tokens=8, rounds=2, progress=False)


class EngineDeadError(RuntimeError):
    """Named like vLLM's error for a dead engine (a TP worker or its GPU gone)."""


class FaultyReplica(Replica):
    """A real replica that, once per marker, raises or hangs in `run`, and refuses to reload when armed."""

    fault = ""
    where_marks = ""

    def __init__(self, index, *args, **kwargs):
        super().__init__(index, *args, **kwargs)
        Path(self.where_marks, f"pid-{index}").write_text(str(os.getpid()))
        if self.fault == "enginedead" and index == 1:
            generate, mark = self.backend.generate, Path(self.where_marks, "done-enginedead")

            def dying_engine(*a, **kw):
                if not mark.exists():
                    mark.write_text("")
                    raise EngineDeadError("EngineCore encountered an issue (injected)")
                return generate(*a, **kw)

            self.backend.generate = dying_engine

    def ready(self):
        if self.index == 1 and Path(self.where_marks, "refuse-reload").exists():
            Path(self.where_marks, "refused").write_text("")
            raise ValueError("the model files went away (injected)")
        return super().ready()

    def run(self, requests):
        marks = Path(self.where_marks)
        mark = marks / f"done-{self.fault}"
        if self.index == 1 and self.fault in ("system", "hang") and not mark.exists():
            mark.write_text("")
            if self.fault == "system":
                import ray

                raise ray.exceptions.RaySystemError("the raylet went away (injected)")
            time.sleep(3600)
        if self.fault == "killall" and (marks / "armed").exists():
            os.kill(os.getpid(), signal.SIGKILL)  # every replica dies in its next chunk
        if self.fault == "reload" and self.index == 0 and (marks / "refuse-reload").exists():
            deadline = time.monotonic() + 300  # keep the run going until replica 1 has been restarted and refused
            while not (marks / "refused").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            if not (marks / "waited").exists():
                (marks / "waited").write_text("")
                time.sleep(2)  # the driver takes the refusal before this chunk (maybe the last) returns
        busy = marks / f"busy-{self.index}"
        busy.write_text("")
        try:
            return super().run(requests)
        finally:
            busy.unlink(missing_ok=True)


def _faulty(monkeypatch, tmp_path, fault: str) -> Path:
    import ray.cloudpickle

    from evalsuite.executors import ray_replica

    marks = tmp_path / "marks"
    marks.mkdir()
    cls = type("FaultyReplica", (FaultyReplica,), {"fault": fault, "where_marks": str(marks),
                                                   "__module__": __name__})
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setattr(ray_replica, "Replica", cls)
    return marks


@pytest.fixture(scope="module")
def in_process(tiny_model_dir, tmp_path_factory):
    from evalsuite import evaluate

    out = tmp_path_factory.mktemp("local")
    return out, evaluate(model=f"hf:{tiny_model_dir}", model_args="batch_size=1", output_dir=out,
                         log=lambda m: None, **TASK)


def _stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return con.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    except sqlite3.Error:
        return 0


def _run(tiny_model_dir, out: Path, lines: list[str], replicas: int = 2):
    from evalsuite import evaluate

    return evaluate(model=f"hf:{tiny_model_dir}", model_args="batch_size=1", output_dir=out, executor="ray",
                    replicas=replicas, log=lines.append, **TASK)


def _execution(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())["execution"]


def test_a_backend_raising_ray_system_error_is_resent(local_ray, in_process, same_outputs, tiny_model_dir, tmp_path,
                                                      monkeypatch):
    marks = _faulty(monkeypatch, tmp_path, "system")
    lines: list[str] = []
    _run(tiny_model_dir, tmp_path / "ray", lines)
    assert (marks / "done-system").exists()  # the fault fired
    same_outputs(in_process[0], tmp_path / "ray")
    ex = _execution(tmp_path / "ray")
    assert ex["chunks_resent"] >= 1 and ex["replica_info"][1]["restarts"] == 1
    assert any("replica 1" in x and "resending its chunks" in x for x in lines), lines


def test_a_hung_chunk_is_resent_after_its_deadline(local_ray, in_process, same_outputs, tiny_model_dir, tmp_path,
                                                   monkeypatch):
    from evalsuite.executors import ray_faults

    monkeypatch.setattr(ray_faults, "CHUNK_DEADLINE_FLOOR", 8.0)
    marks = _faulty(monkeypatch, tmp_path, "hang")
    lines: list[str] = []
    t0 = time.monotonic()
    _run(tiny_model_dir, tmp_path / "ray", lines)
    assert (marks / "done-hang").exists() and time.monotonic() - t0 < 600  # the chunk hung; the run did not wait
    assert any("has not returned a chunk by its deadline" in x for x in lines), lines
    same_outputs(in_process[0], tmp_path / "ray")
    assert _execution(tmp_path / "ray")["chunks_resent"] >= 1


def test_a_dead_engine_restarts_its_replica_and_the_run_finishes(local_ray, in_process, same_outputs,
                                                                  tiny_model_dir, tmp_path, monkeypatch):
    marks = _faulty(monkeypatch, tmp_path, "enginedead")
    lines: list[str] = []
    _run(tiny_model_dir, tmp_path / "ray", lines)
    assert (marks / "done-enginedead").exists()  # the engine died once, in replica 1
    same_outputs(in_process[0], tmp_path / "ray")
    info = _execution(tmp_path / "ray")["replica_info"][1]
    assert info["restarts"] == 1 and not info["gone"], "\n".join(lines)  # restarted by Ray, not dropped


def _kill_mid_round(marks: Path, db: Path, after: int) -> threading.Thread:
    """Once `after` generations are stored, arm replica 1's refusal to reload and SIGKILL its process while it is
    in the middle of a chunk."""
    def kill() -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and (_stored(db) < after or not (marks / "busy-1").exists()):
            time.sleep(0.002)
        (marks / "refuse-reload").write_text("")
        os.kill(int((marks / "pid-1").read_text()), signal.SIGKILL)

    t = threading.Thread(target=kill, daemon=True)
    t.start()
    return t


def test_a_killed_replica_that_cannot_reload_is_dropped_and_the_run_goes_on(local_ray, in_process, same_outputs,
                                                                            tiny_model_dir, tmp_path, monkeypatch):
    marks = _faulty(monkeypatch, tmp_path, "reload")
    lines: list[str] = []
    killer = _kill_mid_round(marks, tmp_path / "ray" / "samples.sqlite", 3)
    res = _run(tiny_model_dir, tmp_path / "ray", lines)
    killer.join(timeout=30)
    assert res.stats.generated + res.stats.from_store == in_process[1].stats.generated
    same_outputs(in_process[0], tmp_path / "ray")
    gone = [x for x in lines if "is gone for good" in x]
    assert len(gone) == 1 and "could not reload the model: the model files went away" in gone[0], "\n".join(lines)
    assert "going on with 1 replica(s)" in gone[0] and "\n" not in gone[0]
    info = _execution(tmp_path / "ray")["replica_info"]
    assert info[1]["gone"] and not info[0]["gone"] and info[0]["requests"] > info[1]["requests"]


def test_no_replica_left_stops_with_one_line_and_the_same_command_resumes(local_ray, in_process, same_outputs,
                                                                          tiny_model_dir, tmp_path, monkeypatch):
    from evalsuite.executors import ray as ray_executor

    monkeypatch.setattr(ray_executor, "MAX_RESTARTS", 0)
    marks = _faulty(monkeypatch, tmp_path, "killall")
    out = tmp_path / "ray"

    def arm() -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and _stored(out / "samples.sqlite") < 3:
            time.sleep(0.01)
        (marks / "armed").write_text("")

    armer = threading.Thread(target=arm, daemon=True)
    armer.start()
    with pytest.raises(ray_executor.ReplicaLost) as err:
        _run(tiny_model_dir, out, [])
    armer.join(timeout=30)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("no replica is left") and "run the same command again" in msg
    kept = _stored(out / "samples.sqlite")
    assert 3 <= kept < in_process[1].stats.generated
    monkeypatch.setattr(ray_executor, "MAX_RESTARTS", 3)
    (marks / "armed").unlink()  # a healthy cluster again
    again = _run(tiny_model_dir, out, [])
    assert again.stats.from_store >= kept and again.stats.generated > 0
    same_outputs(in_process[0], out)



@pytest.mark.parametrize("key, value", [("revision", "local-0123456789abcdef"), ("evalsuite", "0.0.1-other")])
def test_a_replica_that_sees_another_model_or_version_refuses_naming_its_node(local_ray, tiny_model_dir, tmp_path,
                                                                              monkeypatch, key, value):
    from evalsuite import evaluate
    from evalsuite.errors import UsageError
    from evalsuite.executors import ray as ray_executor
    from evalsuite.executors.ray_replica import expected_identity

    def drivers(backend):  # the driver holds another copy of the model, or another install of evalsuite
        return {**expected_identity(backend), key: value}

    monkeypatch.setattr(ray_executor, "expected_identity", drivers)
    with pytest.raises(UsageError) as err:
        evaluate(model=f"hf:{tiny_model_dir}", model_args="batch_size=1", output_dir=tmp_path, executor="ray",
                 replicas=1, log=lambda m: None, **TASK)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("replica 0 on node ") and repr(value) in msg, msg
    assert ("evalsuite version" if key == "evalsuite" else "model revision") in msg
