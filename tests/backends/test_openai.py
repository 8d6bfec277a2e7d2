"""The openai backend against real llama.cpp servers: key handling, retries, refusals, a server killed mid-run."""
from __future__ import annotations

import math
import sqlite3
import threading
import time

import pytest

from evalsuite.errors import UsageError
from evalsuite.records import GenParams, Request


def _req(q: str, want=("logprob",), **gen) -> Request:
    return Request(messages=(("user", q),), gen=GenParams(**{"max_tokens": 6, **gen}), want=want)


def test_model_spec_splits_at_the_last_at_before_the_url(monkeypatch):
    from evalsuite.backends.openai import split_spec

    assert split_spec("smol@http://127.0.0.1:8000/v1/") == ("smol", "http://127.0.0.1:8000/v1")
    assert split_spec("org/model@v2@https://api.example/v1") == ("org/model@v2", "https://api.example/v1")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("EVALSUITE_API_BASE", raising=False)
    with pytest.raises(UsageError, match="openai:MODEL@http://HOST:PORT/v1"):
        split_spec("gpt-x")
    monkeypatch.setenv("EVALSUITE_API_BASE", "http://10.0.0.1:9/v1")
    assert split_spec("gpt-x") == ("gpt-x", "http://10.0.0.1:9/v1")


@pytest.mark.parametrize("args, match", [("endpoint=grpc", "endpoint"), ("top_logprobs=500", "top_logprobs"),
                                         ("temperature=1", "unknown --model-args key")])
def test_bad_options_are_usage_errors(args, match):
    from evalsuite.backends.openai import OpenAIBackend

    with pytest.raises(UsageError, match=match):
        OpenAIBackend("m@http://127.0.0.1:1/v1", args)


def test_back_off_doubles_with_bounded_jitter_and_honours_retry_after():
    from evalsuite.backends.openai_client import Client

    c = Client("http://127.0.0.1:1/v1", None, 2, 1.0, 3, backoff=0.5)
    for attempt, base in ((0, 0.5), (1, 1.0), (3, 4.0)):
        for _ in range(20):
            assert base <= c.delay(attempt) <= base * 1.25
    assert c.delay(10) == 60.0
    assert c.delay(0, retry_after="7") == 7.0
    assert c.delay(2, retry_after="soon") >= 2.0


def test_api_key_comes_from_the_environment(llama_server_factory, monkeypatch):
    from evalsuite.backends.openai import OpenAIBackend
    from evalsuite.backends.openai_client import ServerRejected

    server = llama_server_factory(api_key="s3cret")
    for name in ("EVALSUITE_API_KEY", "OPENAI_API_KEY", "MY_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ServerRejected, match="HTTP 401") as err:
        OpenAIBackend(f"smol@{server.url}").generate([_req("Hi")])
    assert "\n" not in str(err.value)
    monkeypatch.setenv("MY_KEY", "s3cret")
    g = OpenAIBackend(f"smol@{server.url}", "api_key_env=MY_KEY").generate([_req("Hi")])[0]
    assert g.text and g.stats["logprob"]
    monkeypatch.setenv("OPENAI_API_KEY", "s3cret")
    assert OpenAIBackend(f"smol@{server.url}").generate([_req("Hi")])[0].text == g.text


def test_client_errors_fail_at_once_without_retries(llama_server):
    from evalsuite.backends.openai import OpenAIBackend
    from evalsuite.backends.openai_client import ServerRejected

    be = OpenAIBackend(f"smol@{llama_server.url}", "max_retries=4,backoff=5")
    t0 = time.monotonic()
    with pytest.raises(ServerRejected, match="HTTP 404"):
        be.client.post("chat/completion", {"model": "smol", "messages": [{"role": "user", "content": "Hi"}]})
    assert be.client.retries == 0 and time.monotonic() - t0 < 5


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_refused_connections_are_retried_until_the_server_is_up(llama_server_factory):
    from evalsuite.backends.openai import OpenAIBackend

    port = _free_port()
    be = OpenAIBackend(f"smol@http://127.0.0.1:{port}/v1", "max_retries=10,backoff=0.5")
    starter = threading.Timer(1.0, llama_server_factory, kwargs={"port": port})
    starter.start()
    try:
        g = be.generate([_req("Hi")])[0]
    finally:
        starter.join()
    assert g.text and be.client.retries >= 1


def test_full_vocabulary_statistics_are_absent_or_labelled(llama_server):
    from evalsuite.backends.openai import OpenAIBackend

    want = ("logprob", "entropy", "sc_term", "mink_mu", "mink_sigma")
    plain = OpenAIBackend(f"smol@{llama_server.url}").generate([_req("Hi", want)])[0]
    assert set(plain.stats) == {"logprob"} and plain.approximate == ()
    approx = OpenAIBackend(f"smol@{llama_server.url}", "approx_stats=true,top_logprobs=5").generate(
        [_req("Hi", want)])[0]
    assert "sc_term" not in approx.stats, "sc_term needs every log-prob; it is never approximated"
    assert {"entropy", "mink_mu", "mink_sigma"} <= set(approx.approximate) <= set(approx.stats)
    assert approx.stats["logprob"] == pytest.approx(plain.stats["logprob"], abs=1e-4)
    # greedy: the chosen token is the top-1, so its term -p log p is one of the five summed
    for lp, h in zip(approx.stats["logprob"], approx.stats["entropy"]):
        assert h >= -math.exp(lp) * lp - 1e-6


def test_chat_and_offset_scoring_are_refused_in_one_line(llama_server):
    from evalsuite.backends.openai import OpenAIBackend

    be = OpenAIBackend(f"smol@{llama_server.url}")
    with pytest.raises(UsageError, match="cannot score a chat request"):
        be.score(_req("Hi"), " there", ("logprob",))
    with pytest.raises(UsageError, match="cannot score with offset=1"):
        be.score(Request(prompt="Hi"), " there", ("logprob",), offset=1)
    with pytest.raises(UsageError, match="aligned prompt log-probs") as err:
        be.score(Request(prompt="The capital of France is"), " Paris", ("logprob",))
    assert "\n" not in str(err.value)


def _store_rows(path) -> int:
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_killed_server_fails_in_one_line_keeps_the_store_and_resumes(llama_server_factory, tmp_path, capsys):
    from evalsuite.cli import main

    server = llama_server_factory()
    out = tmp_path / "run"
    argv = ["run", "--tasks", "gsm8k", "--limit", "4", "--protocol", "cot", "--max-tokens", "16", "--no-progress",
            "--model", f"openai:smol@{server.url}", "--output-dir", str(out),
            "--model-args", "batch_size=2,concurrency=2,max_retries=2,backoff=0.2"]
    killed = threading.Event()

    def kill_after_first_batch():
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not killed.is_set():
            if _store_rows(out / "samples.sqlite") >= 2:
                server.kill()
                killed.set()
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_after_first_batch, daemon=True)
    watcher.start()
    assert main(argv) == 2
    killed.set()
    watcher.join()
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("evalsuite: error:")]
    assert len(errors) == 1, err
    assert f"server {server.url} failed after 3 tries" in errors[0] and "re-run the same command" in errors[0]
    kept = _store_rows(out / "samples.sqlite")
    assert 2 <= kept < 4

    llama_server_factory(port=server.port)
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"{4 - kept} generated, {kept} read from the store" in printed
    assert _store_rows(out / "samples.sqlite") == 4
    assert (out / "results.json").exists()
