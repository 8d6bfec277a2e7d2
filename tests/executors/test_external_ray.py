"""A real external Ray cluster: `ray start --head` (token auth on, as Ray 2.60 starts it when a token exists) in its
own process group, temp dir and port, from an environment that lacks the driver's variables. Runs join it by
HEAD:PORT and by `auto` and equal the in-process run; the replicas see the driver's allow-listed variables; a model
cached only in the driver's temp HF_HOME loads on them; a wrong token is one line; and with no address, neither
this running head nor a stale address file is joined."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

RUN = ["run", "--tasks", "correctbench_gsm8k", "--limit", "2", "--max-tokens", "8", "--threads", "1",
       "--no-progress"]
DRIVER_ONLY = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "EVALSUITE_PROBE": "from-the-driver", "MY_EXTRA": "named-with-replica-env", "NOT_SENT_VAR": "x"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bare_env(**extra: str) -> dict[str, str]:
    """An environment without the driver's variables (no HF_*, EVALSUITE_*, RAY_* settings)."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYENV_ROOT", "VIRTUAL_ENV")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, **extra}


def _ours(tmp: Path) -> list[int]:
    """Processes whose command line names this head's temp dir (Ray's own, started under it)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if str(tmp) in cmd:
                out.append(int(entry))
    return out


@pytest.fixture(scope="module")
def head():
    """A `ray start --head` cluster of 2 CPUs; yields (address, the RAY_TMPDIR whose address file names it)."""
    if not shutil.which("ray"):
        pytest.skip('needs the ray CLI: pip install -e ".[ray]"')
    token = Path.home() / ".ray" / "auth_token"
    if not token.exists() and not os.environ.get("RAY_AUTH_TOKEN"):
        subprocess.run(["ray", "get-auth-token", "--generate"], check=True, capture_output=True, env=_bare_env())
    tmp = Path(tempfile.mkdtemp(prefix="rh", dir="/tmp"))  # short: Ray's socket paths must stay short
    port = _free_port()
    cmd = ["ray", "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
           f"--dashboard-agent-listen-port={_free_port()}", "--include-dashboard=false", f"--temp-dir={tmp}/ray",
           "--num-cpus=2", "--object-store-memory=100000000", "--disable-usage-stats", "--block"]
    proc = subprocess.Popen(cmd, env=_bare_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "ray start --head did not open its port in 120 s"
            time.sleep(0.5)
    time.sleep(2)  # the raylet registers after GCS opens its port
    try:
        yield f"127.0.0.1:{port}", tmp
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in _ours(tmp):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)


def _evalsuite(args: list[str], env: dict[str, str], timeout: float = 400) -> subprocess.CompletedProcess:
    env = {k: v for k, v in env.items() if k not in ("RAY_AUTH_MODE", "RAY_ADDRESS")}
    return subprocess.run([sys.executable, "-m", "evalsuite", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _same(a: Path, b: Path) -> None:
    assert (a / "samples.jsonl").read_bytes() == (b / "samples.jsonl").read_bytes()


@pytest.fixture(scope="module")
def in_process(tiny_model_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local")
    res = _evalsuite([*RUN, "--model", f"hf:{tiny_model_dir}", "--model-args", "batch_size=2", "--output-dir",
                      str(out)], {**os.environ, **DRIVER_ONLY})
    assert res.returncode == 0, res.stderr[-2000:]
    return out


@pytest.mark.parametrize("how", ["HEAD:PORT", "auto"])
def test_a_run_joins_the_token_auth_head_and_equals_in_process(head, in_process, tiny_model_dir, tmp_path, how):
    address, tmp = head
    env = {**os.environ, **DRIVER_ONLY, "RAY_TMPDIR": str(tmp)}  # `auto` reads the address file under it
    out = tmp_path / "ray"
    res = _evalsuite([*RUN, "--model", f"hf:{tiny_model_dir}", "--model-args", "batch_size=2", "--executor", "ray",
                      "--replicas", "2", "--ray-address", address if how == "HEAD:PORT" else "auto",
                      "--output-dir", str(out)], env)
    assert res.returncode == 0, res.stderr[-3000:]
    _same(in_process, out)
    ex = json.loads((out / "results.json").read_text())["execution"]
    assert ex["replicas"] == 2 and {r["node"] for r in ex["replica_info"]} == {ex["replica_info"][0]["node"]}


PROBE = """
import json, sys
from evalsuite.backends.base import load_backend
from evalsuite.executors.ray import RayExecutor
spec, address, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
backend = load_backend(spec, "batch_size=2")
ex = RayExecutor(backend, replicas=1, address=address, replica_env_names=["MY_EXTRA"], log=lambda m: None)
ex.start()
import ray, os
replica = ray.get(ex.slots[0].actor.environ.remote(names))
bare = ray.get(ray.remote(lambda: {n: os.environ.get(n) for n in names}).options(num_cpus=0).remote())
ex.close()
print(json.dumps({"replica": replica, "raylet": bare}))
"""


def test_the_replicas_get_the_driver_allow_listed_variables(head, tiny_model_dir):
    address, _ = head
    names = list(DRIVER_ONLY)
    res = subprocess.run([sys.executable, "-c", PROBE, f"hf:{tiny_model_dir}", address, ",".join(names)],
                         env={k: v for k, v in {**os.environ, **DRIVER_ONLY}.items() if k != "RAY_AUTH_MODE"},
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["raylet"] == {n: None for n in names}  # the cluster was started without them
    assert got["replica"] == {**DRIVER_ONLY, "NOT_SENT_VAR": None}


def _hub_cache(hf_home: Path, model_dir: Path, repo: str = "evalsuite-test/tiny") -> str:
    """Put `model_dir` into `hf_home` the way huggingface_hub caches a download of `repo` at `main`."""
    commit = "0" * 39 + "1"
    folder = hf_home / "hub" / f"models--{repo.replace('/', '--')}"
    shutil.copytree(model_dir, folder / "snapshots" / commit)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)
    return repo


def test_a_model_cached_only_in_the_driver_hf_home_loads_on_the_replicas(head, tiny_model_dir, tmp_path):
    address, _ = head
    repo = _hub_cache(tmp_path / "hf-home", tiny_model_dir)
    env = {**os.environ, **DRIVER_ONLY, "HF_HOME": str(tmp_path / "hf-home")}
    args = [*RUN, "--model", f"hf:{repo}", "--model-args", "batch_size=2"]
    local = _evalsuite([*args, "--output-dir", str(tmp_path / "local")], env)
    assert local.returncode == 0, local.stderr[-2000:]
    res = _evalsuite([*args, "--executor", "ray", "--replicas", "1", "--ray-address", address, "--output-dir",
                      str(tmp_path / "ray")], env)
    assert res.returncode == 0, res.stderr[-3000:]
    _same(tmp_path / "local", tmp_path / "ray")


def test_a_wrong_token_is_one_line_naming_the_token_file(head, tiny_model_dir, tmp_path):
    address, _ = head
    res = _evalsuite([*RUN, "--model", f"hf:{tiny_model_dir}", "--executor", "ray", "--ray-address", address,
                      "--output-dir", str(tmp_path / "ray")],
                     {**os.environ, "RAY_AUTH_TOKEN": "0" * 32, "RAY_AUTH_MODE": "token"}, timeout=300)
    ours = [x for x in res.stderr.splitlines() if x.startswith("evalsuite:")]
    assert res.returncode == 2 and len(ours) == 1, res.stderr[-3000:]
    assert "RAY_AUTH_MODE=token" in ours[0] and "auth_token" in ours[0] and address in ours[0]


@pytest.mark.parametrize("address_file", ["the running head's", "stale"])
def test_without_an_address_the_run_uses_a_ray_of_its_own(head, in_process, tiny_model_dir, tmp_path, address_file):
    _, tmp = head
    ray_tmpdir = tmp
    if address_file == "stale":  # a head that was killed left its address file behind
        ray_tmpdir = Path(tempfile.mkdtemp(prefix="rs", dir="/tmp"))  # short: Ray's socket paths
        (ray_tmpdir / "ray").mkdir(parents=True)
        (ray_tmpdir / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{_free_port()}")
    else:
        assert (tmp / "ray" / "ray_current_cluster").exists()
    out = tmp_path / "ray"
    res = _evalsuite([*RUN, "--model", f"hf:{tiny_model_dir}", "--model-args", "batch_size=2", "--executor", "ray",
                      "--replicas", "2", "--output-dir", str(out)],
                     {**os.environ, **DRIVER_ONLY, "RAY_TMPDIR": str(ray_tmpdir)})
    try:
        assert res.returncode == 0, res.stderr[-3000:]
        _same(in_process, out)
        assert json.loads((out / "results.json").read_text())["execution"]["ray_address"] == "local"
    finally:
        if address_file == "stale":
            shutil.rmtree(ray_tmpdir, ignore_errors=True)
