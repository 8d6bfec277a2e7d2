"""The Slurm script of docs/scale.md, read from the page and submitted unchanged to a real Slurm (one host; see
.ci/setup_slurm.sh) with a tiny embedded-model run: the job's samples equal the in-process run's, once straight
through and once with `scontrol requeue` in the middle (its output dir on a FUSE mount, so the store is kept on
local disk and copied back). Skips without a running Slurm, unless EVALSUITE_REQUIRE_SLURM=1 (as .ci/run sets)."""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CMD = ["evalsuite", "run", "--tasks", "correctbench_gsm8k", "--limit", "2", "--max-tokens", "16", "--threads", "1",
       "--no-progress"]
FINAL = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE")


def slurm_script() -> str:
    """The first bash block under "## Slurm" in docs/scale.md, as the user would save it."""
    text = (ROOT / "docs" / "scale.md").read_text()
    section = text[text.index("\n## Slurm\n"):]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def _slurm_missing() -> str | None:
    if not shutil.which("sbatch") or not shutil.which("sinfo"):
        return "Slurm is not installed (bash .ci/setup_slurm.sh installs and starts it)"
    res = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    if res.returncode != 0 or not re.search(r"idle|mixed|allocated", res.stdout):
        return f"Slurm is not running ({(res.stderr or res.stdout).strip()[:200]}); run bash .ci/setup_slurm.sh"
    return None


@pytest.fixture(scope="module")
def slurm() -> None:
    why = _slurm_missing()
    if why and os.environ.get("EVALSUITE_REQUIRE_SLURM") == "1":
        pytest.fail(f"EVALSUITE_REQUIRE_SLURM=1 but {why}")
    if why:
        pytest.skip(why)


@pytest.fixture(scope="module")
def in_process(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("in-process")
    subprocess.run([sys.executable, "-m", "evalsuite", *CMD[1:], "--output-dir", str(out)], check=True,
                   capture_output=True, timeout=600)
    return out


def _submit(script: Path, out: Path, log: Path, **settings: str) -> str:
    env = {**os.environ, "EVALSUITE_CMD": " ".join([sys.executable, "-m", "evalsuite", *CMD[1:]]),
           "EVALSUITE_OUTPUT_DIR": str(out), "EVALSUITE_RAY_WAIT": "180",
           "EVALSUITE_RAY_START_ARGS": "--object-store-memory=100000000", **settings}
    cpus = str(len(os.sched_getaffinity(0)))
    res = subprocess.run(["sbatch", "--parsable", "--nodes=1", f"--cpus-per-task={cpus}", f"--output={log}",
                          "--export=ALL", str(script)], env=env, capture_output=True, text=True, cwd=out.parent)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip().split(";")[0]


def _job(job: str) -> dict[str, str]:
    res = subprocess.run(["scontrol", "show", "job", "-o", job], capture_output=True, text=True)
    return dict(kv.split("=", 1) for kv in res.stdout.split() if "=" in kv)


def _wait(job: str, log: Path, until=lambda info: info.get("JobState") in FINAL, limit: float = 600) -> dict:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        info = _job(job)
        if until(info):
            return info
        time.sleep(0.1)
    subprocess.run(["scancel", job])
    pytest.fail(f"job {job} did not get there in {limit:.0f} s: {_job(job).get('JobState')}\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no job log)"


def _same(a: Path, b: Path) -> None:
    assert (a / "samples.jsonl").read_bytes() == (b / "samples.jsonl").read_bytes()
    ra, rb = (json.loads((d / "results.json").read_text()) for d in (a, b))
    assert {k: v["metrics"] for k, v in ra["tasks"].items()} == {k: v["metrics"] for k, v in rb["tasks"].items()}


def _stored(db: Path) -> int:
    try:
        copy = db.with_name("peek.sqlite")
        copy.write_bytes(db.read_bytes())  # read a copy: never open SQLite on the shared filesystem
        with sqlite3.connect(copy) as con:
            return con.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    except (OSError, sqlite3.Error):
        return 0


def test_the_docs_script_runs_unchanged_under_slurm(slurm, in_process, tmp_path):
    script = tmp_path / "evalsuite.sbatch"
    script.write_text(slurm_script())
    out, log = tmp_path / "run", tmp_path / "job.log"
    job = _submit(script, out, log)
    t0 = time.monotonic()
    info = _wait(job, log)
    assert info["JobState"] == "COMPLETED", _tail(log)
    print(f"slurm job {job}: {time.monotonic() - t0:.0f} s")
    _same(in_process, out)
    ex = json.loads((out / "results.json").read_text())["execution"]
    assert ex["executor"] == "ray" and re.fullmatch(r"[0-9.]+:\d+", ex["ray_address"]), ex["ray_address"]
    assert "ready on 1 node(s)" in log.read_text()


def test_a_job_requeued_mid_run_resumes_to_the_same_samples(slurm, in_process, tmp_path, request):
    try:
        shared = request.getfixturevalue("fuse_dir")  # the output dir on a network-like (FUSE) filesystem
    except pytest.skip.Exception:
        shared = tmp_path
    script = tmp_path / "evalsuite.sbatch"
    script.write_text(slurm_script())
    out, log = shared / "run", tmp_path / "job.log"
    job = _submit(script, out, log)
    deadline = time.monotonic() + 600
    while _stored(out / "samples.sqlite") < 2:  # the first round is stored (and copied back)
        assert _job(job).get("JobState") in ("PENDING", "RUNNING", "CONFIGURING"), _tail(log)
        assert time.monotonic() < deadline, _tail(log)
        time.sleep(0.1)
    kept = _stored(out / "samples.sqlite")
    res = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    info = _wait(job, log, until=lambda i: i.get("JobState") in FINAL and i.get("Restarts", "0") != "0", limit=900)
    assert info["JobState"] == "COMPLETED" and info["Restarts"] == "1", _tail(log)
    print(f"slurm job {job}: requeued after {kept} stored generations, then completed")
    text = log.read_text()
    assert text.count("ready on 1 node(s)") == 2  # two runs of the script, one log (--open-mode=append)
    got = re.findall(r"model calls: (\d+) generated, (\d+) read from the store", text)
    assert len(got) == 1 and int(got[0][1]) >= kept >= 2, text[-3000:]  # only the requeued run got to the end
    _same(in_process, out)


def test_a_node_that_never_joins_fails_the_job_with_one_line(slurm, tmp_path):
    script = tmp_path / "evalsuite.sbatch"
    script.write_text(slurm_script())
    out, log = tmp_path / "run", tmp_path / "job.log"
    job = _submit(script, out, log, EVALSUITE_NODES="2", EVALSUITE_RAY_WAIT="20")  # one node allocated, two awaited
    info = _wait(job, log, limit=300)
    assert info["JobState"] == "FAILED", _tail(log)
    ours = [x for x in log.read_text().splitlines() if x.startswith("evalsuite.sbatch:")]
    assert ours == ["evalsuite.sbatch: 1 of 2 Ray nodes came up in time; see the worker steps' output"], _tail(log)
    assert not out.exists()  # evalsuite never started
