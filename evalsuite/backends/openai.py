"""OpenAI-compatible backend (`openai:MODEL@http://host:port/v1`): vLLM serve, llama.cpp, hosted APIs.

Chat requests go to /chat/completions and raw prompts to /completions, concurrently from a bounded pool with
retries. `openai:MODEL@URL1,URL2,...` spreads requests over several servers serving the same model; a
conversation always goes to the same server (its prefix cache is there), and neither the store keys nor the
results depend on which server answered. The server gives top-k log-probs at best, so statistics that need the
whole vocabulary are absent unless `approx_stats=true` asks for their top-k truncations, which are then listed
in `Generation.approximate`.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from evalsuite.backends.base import Backend, OnResult, parse_model_args
from evalsuite.backends.openai_client import Client
from evalsuite.errors import UsageError
from evalsuite.records import Generation, Request
from evalsuite.registry import backend

KEY_ENVS = ("EVALSUITE_API_KEY", "OPENAI_API_KEY")
URL_ENVS = ("EVALSUITE_API_BASE", "OPENAI_BASE_URL")
TOP_ENTROPY = "entropy_top"


def split_spec(rest: str) -> tuple[str, str]:
    """`MODEL@http://host:port/v1` -> (MODEL, URL); `MODEL@URL1,URL2` -> (MODEL, "URL1,URL2"); without `@URL` the
    base URL(s) come from the environment."""
    model, sep, url = rest.rpartition("@")
    if not sep or not url.startswith(("http://", "https://")):
        model, url = rest, next((os.environ[e] for e in URL_ENVS if os.environ.get(e)), "")
    if not model or not url:
        raise UsageError(f"openai model {rest!r} needs a model and a server: write openai:MODEL@http://HOST:PORT/v1 "
                         f"(or set {URL_ENVS[0]})")
    urls = [u.strip().rstrip("/") for u in url.split(",") if u.strip()]
    bad = [u for u in urls if not u.startswith(("http://", "https://"))]
    if bad or not urls:
        first = bad[0] if bad else url
        raise UsageError(f"openai server list {url!r} has an entry that is not an http(s) URL ({first!r}); "
                         "write openai:MODEL@http://HOST1:PORT/v1,http://HOST2:PORT/v1")
    if len(set(urls)) < len(urls):
        raise UsageError(f"openai server list {url!r} names a server twice; list each server once")
    return model, ",".join(urls)


def affinity(req: Request) -> str:
    """What ties a request to its conversation: the messages up to the first user turn (the doc's question, which
    every later round repeats), or a raw prompt whole. Samples of one doc share it, so they share a server too."""
    if req.messages is not None:
        head = []
        for role, content in req.messages:
            head.append([role, content])
            if role == "user":
                break
        return json.dumps(head, ensure_ascii=False)
    return req.prompt or ""


@backend("openai")
class OpenAIBackend(Backend):
    """Any OpenAI-compatible server; the API key comes from an environment variable, never from flags."""

    batch_invariant = True
    device_request = "remote"

    OPTIONS = {
        "endpoint": "auto",
        "concurrency": 8,
        "batch_size": 64,
        "timeout": 600.0,
        "max_retries": 5,
        "backoff": 1.0,
        "top_logprobs": 20,
        "logprobs": True,
        "approx_stats": False,
        "api_key_env": "",
        "revision": "",
    }

    def __init__(self, rest: str, model_args: str | dict | None = None):
        self.name = "openai"
        self.opts = parse_model_args(model_args, self.OPTIONS, "openai")
        if self.opts["endpoint"] not in ("auto", "chat", "completions"):
            raise UsageError(f"--model-args endpoint={self.opts['endpoint']!r} must be auto, chat or completions")
        if not 0 <= self.opts["top_logprobs"] <= 100:
            raise UsageError(f"--model-args top_logprobs must be within 0..100, got {self.opts['top_logprobs']}")
        self.model_id, urls = split_spec(rest)
        self.base_urls = urls.split(",")
        self.base_url = self.base_urls[0]
        self.revision = self.opts["revision"]
        self.batch_size = max(1, self.opts["batch_size"])
        envs = (self.opts["api_key_env"],) if self.opts["api_key_env"] else KEY_ENVS
        key = next((os.environ[e] for e in envs if os.environ.get(e)), None)
        self.clients = [Client(u, key, self.opts["concurrency"], self.opts["timeout"], self.opts["max_retries"],
                               self.opts["backoff"]) for u in self.base_urls]
        self.client = self.clients[0]
        self.served: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._echo_ok: dict[str, bool] = {}

    def device_label(self) -> str:
        return ",".join(self.base_urls)

    def replica_env_names(self) -> tuple[str, ...]:
        """The API key variable (its option, else the usual names) and the server URL variables."""
        return tuple(n for n in (self.opts["api_key_env"], *KEY_ENVS, *URL_ENVS) if n)

    def route(self, req: Request) -> Client:
        """The server for this request: a stable hash of its conversation's start, so every round of a chain (and
        every sample of a doc) goes where its prefix is cached; the result never depends on the choice."""
        i = 0
        if len(self.clients) > 1:
            digest = hashlib.sha256(affinity(req).encode()).digest()
            i = int.from_bytes(digest[:8], "little") % len(self.clients)
        with self._lock:
            self.served[self.base_urls[i]] += 1
        return self.clients[i]

    def _map(self, fn, requests: Sequence[Request]) -> list[Generation]:
        """Run `fn(request, client)` over the requests, each server's share on its own bounded pool, in order."""
        routed = [(req, self.route(req)) for req in requests]
        groups: dict[int, list[int]] = {}
        for i, (_, client) in enumerate(routed):
            groups.setdefault(id(client), []).append(i)
        out: list[Generation | None] = [None] * len(routed)

        def one_server(idx: list[int]) -> None:
            client = routed[idx[0]][1]
            for i, g in zip(idx, client.map(lambda r: fn(r, client), [routed[i][0] for i in idx])):
                out[i] = g

        if len(groups) == 1:
            one_server(next(iter(groups.values())))
        else:
            with ThreadPoolExecutor(max_workers=len(groups)) as pool:
                for f in [pool.submit(one_server, idx) for idx in groups.values()]:
                    f.result()
        return out  # type: ignore[return-value]

    def generate(self, requests: Sequence[Request], on_result: OnResult | None = None) -> list[Generation]:
        return self._map(self._one, list(requests))

    def _endpoint(self, req: Request) -> str:
        ep = self.opts["endpoint"]
        if ep == "completions" and req.messages is not None:
            raise UsageError("--model-args endpoint=completions cannot send chat requests (the server applies the "
                             "chat template); use endpoint=auto or chat")
        return "completions" if ep == "completions" or (ep == "auto" and req.messages is None) else "chat"

    def _top_k(self, req: Request) -> int:
        """How many top log-probs to ask for: only what a wanted statistic or the choices need."""
        k = self.opts["top_logprobs"]
        need = [k] if req.choices else []
        for w in req.want:
            if w.startswith(TOP_ENTROPY) and w[len(TOP_ENTROPY):].isdigit():
                need.append(int(w[len(TOP_ENTROPY):]))
            elif w in ("entropy", "mink_mu", "mink_sigma") and self.opts["approx_stats"]:
                need.append(k)
        return min(k, max(need)) if need else 0

    def _one(self, req: Request, client: Client) -> Generation:
        t0 = time.perf_counter()
        ep = self._endpoint(req)
        g = req.gen
        body: dict[str, Any] = {"model": self.model_id, "max_tokens": g.max_tokens, "temperature": g.temperature,
                                "top_p": g.top_p}
        if g.temperature > 0:
            body["seed"] = g.seed
        if g.stop:
            body["stop"] = list(g.stop)
        k = self._top_k(req)
        if ep == "chat":
            body["messages"] = req.chat()
            if self.opts["logprobs"]:
                body["logprobs"] = True
                body["top_logprobs"] = max(k, 1)
        else:
            body["prompt"] = req.prompt or ""
            if self.opts["logprobs"]:
                body["logprobs"] = max(k, 1)
        reply = client.post("chat/completions" if ep == "chat" else "completions", body)
        try:
            choice = reply["choices"][0]
            text = choice["message"]["content"] if ep == "chat" else choice["text"]
        except (KeyError, IndexError, TypeError):
            raise UsageError(f"server {client.base_url} sent a reply without choices[0] text; "
                             "is it OpenAI-compatible?") from None
        tokens, lps, tops = _parse_logprobs(choice.get("logprobs"), ep == "chat")
        stats, approx = self._stats(req, lps, tops, k)
        extra: dict[str, Any] = {}
        if req.choices:
            extra["choice_logprobs"], exact = _choice_logprobs(req.choices, dict(tops[0][::-1]) if tops else {})
            if not exact:
                approx.append("choice_logprobs")
        usage = reply.get("usage") or {}
        return Generation(text=text or "", token_ids=[], stats=stats,
                          finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
                          backend=self.name, model_id=self.model_id, seconds=time.perf_counter() - t0,
                          prompt_tokens=int(usage.get("prompt_tokens") or 0), approximate=tuple(approx), **extra)

    def _stats(self, req: Request, lps: list[float | None], tops: list["Top"], k: int):
        """Exact chosen-token log-probs; top-k statistics exact when the server gave k, else labelled."""
        stats: dict[str, list[float]] = {}
        approx: list[str] = []
        if not lps or any(v is None for v in lps):
            return stats, approx
        stats["logprob"] = [float(v) for v in lps]  # type: ignore[arg-type]
        given = min((len(t) for t in tops), default=0)
        for w in req.want:
            if w.startswith(TOP_ENTROPY) and w[len(TOP_ENTROPY):].isdigit() and tops:
                n = int(w[len(TOP_ENTROPY):])
                stats[w] = [-sum(math.exp(v) * v for v in sorted((v for _, v in t), reverse=True)[:n])
                            for t in tops]
                if given < n:
                    approx.append(w)
            elif w in ("entropy", "mink_mu", "mink_sigma") and self.opts["approx_stats"] and tops:
                mu = [sum(math.exp(v) * v for _, v in t) for t in tops]
                if w == "mink_sigma":
                    stats[w] = [math.sqrt(max(0.0, sum(math.exp(v) * v * v for _, v in t) - m * m))
                                for t, m in zip(tops, mu)]
                else:
                    stats[w] = [-m for m in mu] if w == "entropy" else mu
                approx.append(w)
        return stats, approx

    def score(self, prompt: Request, continuation: str, want: Sequence[str], offset: int = 0) -> dict[str, list[float]]:
        return self._score(prompt, continuation, tuple(want), offset, self.route(prompt))[1]

    def score_requests(self, requests: Sequence[Request]) -> list[Generation]:
        def one(req: Request, client: Client) -> Generation:
            t0 = time.perf_counter()
            want = tuple(sorted(set(req.want) | {"logprob"}))
            approx, stats = self._score(req, req.continuation or "", want, req.score_offset, client)
            return Generation(text=req.continuation or "", token_ids=[], stats=stats, finish_reason="scored",
                              backend=self.name, model_id=self.model_id, seconds=time.perf_counter() - t0,
                              approximate=approx)

        return self._map(one, list(requests))

    def _score(self, req: Request, cont: str, want: tuple[str, ...], offset: int, client: Client):
        """Teacher-forced log-probs via /completions with echo=True: raw prompts only, offset 0 only, and only
        on servers whose echoed log-probs agree with their own generation (checked once)."""
        if req.messages is not None:
            raise UsageError("the openai backend cannot score a chat request (the server applies its own chat "
                             "template); score raw-text prompts, or use the hf or vllm backend")
        if offset:
            raise UsageError("the openai backend cannot score with offset=1; use the hf or vllm backend")
        self._check_echo(client)
        prompt = req.prompt or ""
        k = self._top_k(req)
        reply = client.post("completions", {"model": self.model_id, "prompt": prompt + cont, "echo": True,
                                                 "max_tokens": 1, "temperature": 0.0, "logprobs": max(k, 1)})
        lp = (reply.get("choices") or [{}])[0].get("logprobs") or {}
        offsets, tokens = lp.get("text_offset") or [], lp.get("tokens") or []
        lps, tops = lp.get("token_logprobs") or [], lp.get("top_logprobs") or []
        end = len(prompt) + len(cont)
        keep = [i for i, o in enumerate(offsets[: len(tokens)]) if len(prompt) <= o < end]
        if any(lps[i] is None for i in keep):
            raise UsageError(f"server {client.base_url} gave no log-prob for a continuation token; it cannot score")
        sub = Request(prompt=prompt, want=want)
        stats, approx = self._stats(sub, [lps[i] for i in keep],
                                    [[(t, float(v)) for t, v in (tops[i] or {}).items()] for i in keep], k)
        return tuple(approx), {w: stats[w] for w in want if w in stats}

    def _check_echo(self, client: Client) -> None:
        """Ask for one greedy token, then echo prompt + that token: the echoed log-prob must match the generated
        one, or the server's prompt log-probs are misaligned (llama-cpp-python 0.3 shifts them by one)."""
        if client.base_url not in self._echo_ok:
            probe = "The capital of France is"
            gen = client.post("completions", {"model": self.model_id, "prompt": probe, "max_tokens": 1,
                                                   "temperature": 0.0, "logprobs": 1})
            c = gen["choices"][0]
            g_lp = ((c.get("logprobs") or {}).get("token_logprobs") or [None])[0]
            echo = client.post("completions", {"model": self.model_id, "prompt": probe + c["text"],
                                                    "echo": True, "max_tokens": 1, "temperature": 0.0,
                                                    "logprobs": 1})
            lp = echo["choices"][0].get("logprobs") or {}
            offs, e_lps = lp.get("text_offset") or [], lp.get("token_logprobs") or []
            at = [e_lps[i] for i, o in enumerate(offs[: len(e_lps)]) if o == len(probe)]
            self._echo_ok[client.base_url] = bool(g_lp is not None and at and at[0] is not None
                                                  and abs(at[0] - g_lp) < 1e-2)
        if not self._echo_ok[client.base_url]:
            raise UsageError(f"server {client.base_url} does not return aligned prompt log-probs with echo=True, so "
                             "the openai backend cannot score continuations there; use the hf or vllm backend")


Top = list[tuple[str, float]]


def _parse_logprobs(lp: Any, chat: bool) -> tuple[list[str], list[float | None], list[Top]]:
    """(tokens, chosen log-probs, top-k (token, log-prob) lists) from either endpoint's logprobs ([] if absent).
    Chat replies list the top-k; completions replies map token text to log-prob, so equal texts collapse there."""
    if not lp:
        return [], [], []
    if chat:
        content = lp.get("content") or []
        tops = [[(t["token"], float(t["logprob"])) for t in (c.get("top_logprobs") or [])] for c in content]
        return [c.get("token", "") for c in content], [c.get("logprob") for c in content], tops
    tokens = lp.get("tokens") or []
    tops = [[(k, float(v)) for k, v in (t or {}).items()] for t in (lp.get("top_logprobs") or [])]
    return tokens, list(lp.get("token_logprobs") or []), tops


def _choice_logprobs(choices: Sequence[str], top: dict[str, float]) -> tuple[dict[str, float], bool]:
    """Each choice's log-prob at the first position from the top-k, as the hf backend defines it: logsumexp over
    the tokens `c` and `" " + c`. A variant outside the top-k is missing, so the value is then a lower bound (not
    exact); a choice with neither variant falls back to the longest top-k token that prefixes it, or is left out."""
    out: dict[str, float] = {}
    exact = True
    for c in choices:
        found = [top[t] for t in (c, " " + c) if t in top]
        if len(found) < 2:
            exact = False
        if found:
            m = max(found)
            out[c] = m + math.log(sum(math.exp(x - m) for x in found))
            continue
        prefixes = [t for t in top if t.strip() and c.startswith(t.lstrip()) and len(t.lstrip()) > 0]
        if prefixes:
            out[c] = top[max(prefixes, key=lambda t: len(t.lstrip()))]
    return out, exact
