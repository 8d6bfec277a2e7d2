"""Fast checks of the Ray executor's pieces that need no cluster: what reaches the replicas, token auth, which Ray
errors mean a lost replica, the restart budget's window, chunk deadlines, placement strategy, replica counts."""
from __future__ import annotations

import pytest

from evalsuite.errors import UsageError
from evalsuite.executors import ray_connect, ray_faults
from evalsuite.backends.base import ModelSpec
from evalsuite.backends.mock import MockBackend
from evalsuite.backends.openai import OpenAIBackend
from evalsuite.backends.vllm import VLLMBackend
from evalsuite.executors.ray_replica import Resources, default_replicas, on_gpu_for, pack_strategy, resources


def test_replica_env_sends_the_allow_list_and_named_extras_only():
    environ = {"HF_HOME": "/shared/hf", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "VLLM_HOST_IP": "10.0.0.1", "EVALSUITE_TASKS_PATH": "/t", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "2",
               "PATH": "/usr/bin", "AWS_SECRET_ACCESS_KEY": "s", "MY_EXTRA": "x", "EVALSUITE_STORE_DIR": "/local"}
    hf = MockBackend("m")  # a backend that asks for no variables of its own
    got = ray_connect.replica_env(hf, ["MY_EXTRA"], environ)
    assert got == {"HF_HOME": "/shared/hf", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                   "TRANSFORMERS_OFFLINE": "1", "VLLM_HOST_IP": "10.0.0.1", "EVALSUITE_TASKS_PATH": "/t",
                   "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "2", "MY_EXTRA": "x"}


def test_replica_env_sends_the_key_variable_an_openai_spec_names():
    environ = {"MY_KEY": "k", "OPENAI_API_KEY": "o", "OTHER_KEY": "no"}
    api = OpenAIBackend("m@http://127.0.0.1:9/v1", "api_key_env=MY_KEY")
    assert ray_connect.replica_env(api, (), environ) == {"MY_KEY": "k", "OPENAI_API_KEY": "o"}


def test_replica_env_names_are_checked_in_one_line(monkeypatch):
    monkeypatch.setenv("SET_HERE", "1")
    monkeypatch.delenv("NOT_SET_HERE", raising=False)
    assert ray_connect.check_env_names(["SET_HERE"]) == ["SET_HERE"]
    with pytest.raises(UsageError, match="not an environment variable name"):
        ray_connect.check_env_names(["A=B"])
    with pytest.raises(UsageError, match="NOT_SET_HERE is not set"):
        ray_connect.check_env_names(["NOT_SET_HERE"])


def test_replica_env_needs_the_ray_executor_and_replicas_0_is_refused(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_EXTRA", "1")
    run = ("run", "--tasks", "correctbench_gsm8k", "--limit", "1", "--output-dir", str(tmp_path / "out"))
    cli(*run, "--replica-env", "MY_EXTRA").one_line(2, "--replica-env", "need --executor ray")
    cli(*run, "--executor", "ray", "--replicas", "0").one_line(2, "--replicas must be at least 1, got 0")
    cli(*run, "--data-parallel", "0").one_line(2, "--replicas must be at least 1, got 0")


@pytest.mark.parametrize("token_file, env, mode_before, mode_after", [
    (True, {}, None, "token"),                          # the usual place: ~/.ray/auth_token
    (False, {"RAY_AUTH_TOKEN": "abc"}, None, "token"),  # or the variable
    (False, {}, None, None),                            # no token: nothing to send
    (True, {}, "disabled", "disabled"),                 # an explicit mode is never overridden
])
def test_an_explicit_address_sends_the_token_when_there_is_one(tmp_path, monkeypatch, token_file, env, mode_before,
                                                               mode_after):
    pytest.importorskip("ray")
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE"):
        monkeypatch.delenv(name, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    if mode_before:
        monkeypatch.setenv("RAY_AUTH_MODE", mode_before)
    if token_file:
        (tmp_path / ".ray").mkdir()
        (tmp_path / ".ray" / "auth_token").write_text("0123456789abcdef\n")
    import os

    from ray._raylet import Config

    try:
        ray_connect._use_token_auth()
        assert os.environ.get("RAY_AUTH_MODE") == mode_after
    finally:
        monkeypatch.undo()
        Config.initialize("")  # this process's Ray config back to its own environment


def test_an_auth_refusal_is_one_line_naming_the_mode_and_the_token_file():
    msg = ray_connect._connect_error("10.0.0.1:6379", RuntimeError("InvalidAuthToken: missing or incorrect\nmore"))
    assert "\n" not in msg and "RAY_AUTH_MODE=token" in msg and "auth_token" in msg and "10.0.0.1:6379" in msg
    other = ray_connect._connect_error(None, ValueError("num_cpus must not be provided\nx"))
    assert "\n" not in other and other.startswith("could not start a local Ray")
    refused = ray_connect._connect_error("10.0.0.1:6379", ConnectionError("Failed to connect to Ray cluster\nx"))
    assert "\n" not in refused and "RAY_AUTH_MODE=token" in refused and "auth_token" in refused


def test_every_lost_replica_error_is_resent_and_unavailable_is_apart():
    ray = pytest.importorskip("ray")
    x = ray.exceptions
    lost = ray_faults.lost_errors(ray)
    for cls in (x.RaySystemError, x.OutOfMemoryError, x.ObjectStoreFullError, x.ActorDiedError, x.NodeDiedError,
                x.WorkerCrashedError, x.ObjectLostError, x.OutOfDiskError, x.ActorUnschedulableError):
        assert issubclass(cls, lost), cls
    assert ray_faults.unavailable_error(ray) == (x.ActorUnavailableError,)
    assert not issubclass(x.RayTaskError, lost)
    assert ray_faults.preempted(x.ActorDiedError()) is False


def test_the_restart_budget_counts_deaths_in_a_sliding_window():
    b = ray_faults.RestartBudget(max_restarts=2, window=100.0)
    assert b.charge(0.0) and b.charge(10.0)
    assert not b.charge(20.0)           # a third death within 100 s is over budget
    b = ray_faults.RestartBudget(max_restarts=2, window=100.0)
    assert b.charge(0.0) and b.charge(10.0) and b.charge(150.0)  # the first two left the window
    assert b.total == 3


def test_a_chunk_deadline_follows_the_replica_rate_with_a_floor():
    assert ray_faults.chunk_deadline(512, 0, 0.0, floor=60) == 60             # nothing measured yet: the floor
    assert ray_faults.chunk_deadline(1000, 100, 10.0, floor=60, factor=10) == 1000  # 10 tok/s: 100 s x 10
    assert ray_faults.chunk_deadline(10, 1000, 1.0, floor=60, factor=10) == 60  # fast: never under the floor


def test_tensor_parallel_groups_stay_on_one_node(tiny_model_dir):
    tp = VLLMBackend(str(tiny_model_dir), "tensor_parallel_size=8")
    pp = VLLMBackend(str(tiny_model_dir), "tensor_parallel_size=8,pipeline_parallel_size=2")
    assert pack_strategy(tp) == "STRICT_PACK" and pack_strategy(pp) == "PACK"
    assert pack_strategy(MockBackend("m")) == "STRICT_PACK"


def _backend(device_request: str, gpus_per_engine: int) -> MockBackend:
    be = MockBackend("m")
    be.device_request, be.gpus_per_engine = device_request, gpus_per_engine
    return be


def test_default_replicas_come_from_free_gpus_not_the_total():
    two = _backend("auto", 2)
    assert default_replicas(two, {"GPU": 3.0, "CPU": 8}, nodes=1, cluster={"GPU": 8.0}) == 1
    assert default_replicas(two, {"GPU": 8.0}, nodes=1, cluster={"GPU": 8.0}) == 4
    cpu = _backend("cpu", 1)
    assert default_replicas(cpu, {"CPU": 4}, nodes=3, cluster={"CPU": 12}) == 3


def test_the_backend_says_whether_its_replicas_take_gpus():
    assert _backend("auto", 1).uses_gpus(2) and _backend("cuda:0", 1).uses_gpus(1)
    assert not _backend("auto", 1).uses_gpus(0)        # a CPU-only cluster
    assert not _backend("cpu", 1).uses_gpus(8)         # its options ask for the CPU
    assert not OpenAIBackend("m@http://127.0.0.1:9/v1").uses_gpus(8)  # its model runs on servers
    assert resources(_backend("auto", 4), 2, {"CPU": 8, "GPU": 8}) == Resources(cpus=1.0, bundle_gpus=4)
    assert resources(_backend("auto", 1), 4, {"CPU": 2, "GPU": 8}) == Resources(cpus=0.5, gpus=1)


def test_a_tensor_parallel_vllm_replica_is_told_it_runs_on_gpus(tiny_model_dir):
    """The replica actor of a TP group reserves no GPU (num_gpus=0: its workers hold them); whether it runs on GPUs
    comes from the driver, not from torch.cuda inside that actor (review G2)."""
    pytest.importorskip("ray")
    from evalsuite.executors.ray_replica import Replica

    assert on_gpu_for(Resources(cpus=1, bundle_gpus=8)) is True
    assert on_gpu_for(Resources(cpus=1, gpus=1)) is True and on_gpu_for(Resources(cpus=1)) is False
    replica = Replica(0, ModelSpec(f"vllm:{tiny_model_dir}", "tensor_parallel_size=8"), on_gpu=True)
    assert replica.backend.on_gpu is True  # the engine then gets GPU defaults (bfloat16, no eager mode)
    kw = replica.backend.engine_kwargs(replica.backend.on_gpu)
    assert kw["dtype"] == "bfloat16" and kw["distributed_executor_backend"] == "ray"
    one = Replica(0, ModelSpec(f"vllm:{tiny_model_dir}"), on_gpu=True)  # one GPU: its worker is in the replica
    assert "distributed_executor_backend" not in one.backend.engine_kwargs(True)
    assert "distributed_executor_backend" not in VLLMBackend(str(tiny_model_dir)).engine_kwargs(True)  # in process


def test_a_vllm_replica_gets_its_whole_share_of_a_round_as_one_chunk(tiny_model_dir):
    """vLLM batches a whole round itself; 256-request chunks would drain its engine at every chunk (review G6)."""
    pytest.importorskip("ray")
    from evalsuite.backends.base import load_backend
    from evalsuite.executors.ray import WHOLE_SHARE, RayExecutor

    ex = RayExecutor(load_backend(f"vllm:{tiny_model_dir}"))
    assert ex.mode == "chain" and ex.size == WHOLE_SHARE
    fixed = RayExecutor(load_backend(f"vllm:{tiny_model_dir}", "batch_size=16"))
    assert fixed.mode == "batch" and fixed.size == 16
