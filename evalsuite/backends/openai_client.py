"""HTTP side of the openai backend: a bounded thread pool posting JSON, with exponential back-off on 429/5xx."""
from __future__ import annotations

import random
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, Callable, Sequence, TypeVar

from evalsuite.errors import UsageError

T = TypeVar("T")
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529})


class ServerUnavailable(UsageError):
    """The server kept failing (refused, timed out, 429/5xx) after every retry; a re-run resumes from the store."""


class ServerRejected(UsageError):
    """The server answered a request with a client error (4xx other than 429): retrying cannot help."""


class Client:
    """POSTs JSON to an OpenAI-compatible base URL from up to `concurrency` threads, retrying transient failures."""

    def __init__(self, base_url: str, api_key: str | None, concurrency: int, timeout: float, max_retries: int,
                 backoff: float, sleep: Callable[[float], None] = time.sleep):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.backoff = backoff
        self.sleep = sleep
        self._local = threading.local()
        self._abort = threading.Event()
        self.retries = 0

    def _session(self):
        import requests

        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
            if self.api_key:
                s.headers["Authorization"] = f"Bearer {self.api_key}"
        return s

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry `attempt` (0-based): Retry-After when the server gives one, else
        backoff * 2**attempt with up to 25% jitter, capped at 60 s."""
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), 60.0)
            except ValueError:
                pass
        return min(self.backoff * (2**attempt) * (1 + 0.25 * random.random()), 60.0)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST `body` to base_url + path; return the JSON reply or raise ServerUnavailable / ServerRejected."""
        import requests

        url = f"{self.base_url}/{path.lstrip('/')}"
        last = ""
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                r = self._session().post(url, json=body, timeout=self.timeout)
            except requests.Timeout:
                last = f"no reply within {self.timeout:g} s"
            except requests.ConnectionError as e:
                last = "connection failed" + (" (refused)" if "refused" in str(e).lower() else "")
            else:
                if r.status_code == 200:
                    try:
                        return r.json()
                    except ValueError:
                        last = "reply is not JSON"
                elif r.status_code in RETRY_STATUS:
                    last = f"HTTP {r.status_code}"
                    retry_after = r.headers.get("Retry-After")
                else:
                    raise ServerRejected(f"{url} rejected the request with HTTP {r.status_code}: "
                                         f"{_error_text(r)}; fix the request options (--model-args) or the model name")
            if attempt < self.max_retries and not self._abort.is_set():
                self.retries += 1
                self.sleep(self.delay(attempt, retry_after))
        raise ServerUnavailable(
            f"server {self.base_url} failed after {self.max_retries + 1} tries ({last}); what was generated before "
            "is kept in the sample store: start the server and re-run the same command to resume")

    def map(self, fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
        """Apply `fn` to every item on the pool, in order; the first failure cancels what has not started."""
        if len(items) <= 1 or self.concurrency == 1:
            return [fn(x) for x in items]
        self._abort.clear()
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(items)))
        try:
            futures = [pool.submit(fn, x) for x in items]
            wait(futures, return_when=FIRST_EXCEPTION)
            for f in futures:
                if f.done() and not f.cancelled() and f.exception() is not None:
                    self._abort.set()
                    for g in futures:
                        g.cancel()
                    raise f.exception()  # type: ignore[misc]
            return [f.result() for f in futures]
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _error_text(r) -> str:
    """The server's one-line error message (OpenAI's {"error": {"message": ...}} or the raw body)."""
    try:
        body = r.json()
        err = body.get("error", body) if isinstance(body, dict) else body
        msg = err.get("message", err) if isinstance(err, dict) else err
        text = str(msg)
    except ValueError:
        text = r.text
    text = " ".join(text.split())
    return text[:300] or "(empty body)"
