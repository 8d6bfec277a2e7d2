"""Progress of a round: finished requests, and tokens as a backend decodes them, so tokens/s moves mid-batch.

The token listener is a context variable set around a round by the engine, so backends need no extra argument;
a backend that never reports (a server, a replica in another process) leaves the bar to count finished replies.
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

TokenListener = Callable[[int], None]

_listener: ContextVar[TokenListener | None] = ContextVar("evalsuite_token_listener", default=None)


def tokens_decoded(n: int) -> None:
    """Report `n` tokens just decoded (one decode step of `n` live rows); a no-op when nobody listens."""
    fn = _listener.get()
    if fn is not None and n:
        fn(n)


@contextmanager
def token_listener(fn: TokenListener) -> Iterator[None]:
    """Send every `tokens_decoded(n)` made inside the block (in this thread or context) to `fn`."""
    token = _listener.set(fn)
    try:
        yield
    finally:
        _listener.reset(token)


class RoundBar:
    """One round's bar: advances once per finished request and shows the round's tokens/s, refreshed at most every
    `every` seconds from decoded tokens (or, for backends that do not report tokens, from finished replies)."""

    def __init__(self, total: int, desc: str, enabled: bool, every: float = 1.0):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="req", disable=not enabled or total == 0, file=sys.stderr,
                        leave=False)
        self.every = every
        self.t0 = self.shown_at = time.perf_counter()
        self.decoded = self.finished_tokens = 0
        self.decode_t0: float | None = None

    def rate(self) -> float:
        """Tokens per second in this round so far: decoded tokens since the first decode step (so model loading
        and the first prefill do not count), else finished replies' tokens since the round began."""
        now = time.perf_counter()
        if self.decode_t0 is not None and self.decoded:
            return self.decoded / max(now - self.decode_t0, 1e-9)
        return self.finished_tokens / max(now - self.t0, 1e-9)

    def tokens(self, n: int) -> None:
        """`n` tokens were just decoded (a token listener); the first report starts the decode clock."""
        if self.decode_t0 is None:
            self.decode_t0 = time.perf_counter()
            return
        self.decoded += n
        if time.perf_counter() - self.shown_at >= self.every:
            self._show()

    def finished(self, n_tokens: int, requests: int = 1) -> None:
        """`requests` requests (one, or a stored batch) finished with `n_tokens` tokens between them."""
        self.finished_tokens += n_tokens
        self.bar.update(requests)
        self._show()

    def _show(self) -> None:
        self.shown_at = time.perf_counter()
        self.bar.set_postfix(tok_s=f"{self.rate():.0f}")

    def close(self) -> None:
        self.bar.close()
