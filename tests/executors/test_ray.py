"""The ray executor on a local Ray: 2 replicas of the hf backend give the in-process run's samples, byte for byte."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

TASK = dict(tasks="correctbench_gsm8k", limit=4, max_tokens=8, rounds=2, progress=False, log=lambda m: None)


@pytest.fixture(scope="module")
def in_process(tiny_model_dir, tmp_path_factory):
    from evalsuite import evaluate

    out = tmp_path_factory.mktemp("local")
    evaluate(model=f"hf:{tiny_model_dir}", model_args="batch_size=3", output_dir=out, **TASK)
    return out


def test_two_replicas_equal_the_in_process_run(local_ray, in_process, same_outputs, tiny_model_dir, tmp_path):
    from evalsuite import evaluate

    res = evaluate(model=f"hf:{tiny_model_dir}", model_args="batch_size=3", output_dir=tmp_path, executor="ray",
                   replicas=2, **TASK)
    same_outputs(in_process, tmp_path)
    assert len({s.round for s in res.samples}) == 5  # answer, then (critique, improved answer) twice
    ex = json.loads((tmp_path / "results.json").read_text())["execution"]
    assert ex["executor"] == "ray" and ex["replicas"] == 2 and ex["chunking"] == "batch"
    assert len(ex["rounds"]) == 5
    threads = json.loads((tmp_path / "results.json").read_text())["config"]["threads"]
    for rep in ex["replica_info"]:
        assert rep["requests"] > 0 and rep["tokens"] > 0 and rep["device"] == "cpu"
        assert rep["threads"] == threads  # the driver's thread count: it changes float rounding
        assert rep["engines_built"] == 1 and rep["restarts"] == 0  # one warm engine for every round
    assert sum(r["requests"] for r in ex["replica_info"]) == res.stats.generated


@pytest.fixture(scope="module")
def in_process_one_by_one(tiny_model_dir, tmp_path_factory):
    from evalsuite import evaluate

    out = tmp_path_factory.mktemp("local1")
    return out, evaluate(model=f"hf:{tiny_model_dir}", model_args="batch_size=1", output_dir=out, **TASK)


def test_one_request_chunks_keep_every_chain_on_its_replica(local_ray, in_process_one_by_one, same_outputs,
                                                            tiny_model_dir, tmp_path):
    from evalsuite import evaluate

    local_dir, local = in_process_one_by_one
    evaluate(model=f"hf:{tiny_model_dir}", model_args="batch_size=1", output_dir=tmp_path, executor="ray",
             replicas=2, **TASK)
    same_outputs(local_dir, tmp_path)
    ex = json.loads((tmp_path / "results.json").read_text())["execution"]
    assert ex["chains_moved"] == 0 and ex["chunks_stolen"] == 0
    assert [r["requests"] for r in ex["replica_info"]] == [local.stats.generated // 2] * 2


def test_resume_with_another_replica_count_makes_no_model_call(local_ray, in_process, same_outputs, tiny_model_dir,
                                                               tmp_path):
    import shutil

    from evalsuite import evaluate

    shutil.copytree(in_process, tmp_path, dirs_exist_ok=True)
    res = evaluate(model=f"hf:{tiny_model_dir}", model_args="batch_size=3", output_dir=tmp_path, executor="ray",
                   replicas=2, **TASK)
    assert res.stats.generated == 0 and res.stats.from_store > 0
    same_outputs(in_process, tmp_path)


def test_tokenprob_on_replicas_asks_them_nothing_after_the_round(local_ray, tiny_model_dir, tmp_path, monkeypatch):
    """The answers carry their token offsets from the replica, so a finished chain costs no call to a replica; a
    Backend made by load_backend is a model the replicas can build (it carries its spec)."""
    from evalsuite import evaluate
    from evalsuite.backends.base import load_backend
    from evalsuite.executors.ray import RayExecutor

    conf = dict(tasks="gsm8k", limit=3, max_tokens=12, options={"confidence": "tokenprob"}, progress=False,
                log=lambda m: None)
    local = evaluate(model=f"hf:{tiny_model_dir}", output_dir=tmp_path / "local", **conf)

    def refuse(self, ids):
        raise AssertionError("a replica was asked for token offsets")

    monkeypatch.setattr(RayExecutor, "token_offsets", refuse)
    ray = evaluate(model=load_backend(f"hf:{tiny_model_dir}"), output_dir=tmp_path / "ray", executor="ray",
                   replicas=1, **conf)
    got = [s.confidence["tokenprob"] for s in ray.samples if s.attempt == 0]
    assert got == [s.confidence["tokenprob"] for s in local.samples if s.attempt == 0] and len(got) == 3


def test_a_backend_error_in_a_replica_is_its_own_one_line_error(local_ray, tiny_model_dir, tmp_path):
    from evalsuite import evaluate
    from evalsuite.errors import UsageError

    with pytest.raises(UsageError, match="no CUDA device is visible") as err:
        evaluate(model=f"hf:{tiny_model_dir}", model_args="device=cuda", output_dir=tmp_path, executor="ray",
                 replicas=1, **TASK)
    assert "\n" not in str(err.value) and "Ray" not in type(err.value).__name__


def _tree(pid: int) -> set[int]:
    """`pid` and every process below it (from /proc)."""
    import os
    from pathlib import Path

    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        found.add(p)
        todo += [c for c, pp in parents.items() if pp == p and c not in found]
    return found


def test_ctrl_c_stops_the_replicas_and_keeps_the_store(tiny_model_dir, tmp_path):
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "evalsuite", "run", "--tasks", "correctbench_gsm8k", "--limit", "8", "--rounds", "2",
           "--max-tokens", "24", "--model", f"hf:{tiny_model_dir}", "--model-args", "batch_size=1", "--executor", "ray",
           "--replicas", "2", "--output-dir", str(out), "--no-progress"]
    # SIGINT's default action back: a suite started as a background job (`pytest ... &` in a script) inherits an
    # ignored SIGINT, and Python then installs no KeyboardInterrupt handler (seen: exit 0 instead of 130)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def stored() -> int:
        try:
            with sqlite3.connect(out / "samples.sqlite", timeout=5) as con:
                return con.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
        except sqlite3.Error:
            return 0

    deadline = time.monotonic() + 180
    while stored() < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read()[-2000:]
    spawned = _tree(proc.pid) - {proc.pid}
    assert len(spawned) >= 3  # Ray's own processes and the two replicas
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    ours = [x for x in err.splitlines() if x.startswith("evalsuite:")]  # Ray forwards replica logs in between
    assert ours[-1] == "evalsuite: interrupted; everything generated so far is in the sample store", err[-2000:]
    assert stored() >= 2
    deadline = time.monotonic() + 60
    while _alive(spawned) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _alive(spawned)  # the replicas and the local Ray it started are gone


def _alive(pids: set[int]) -> list[int]:
    from pathlib import Path

    out = []
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.append(p)
    return out
