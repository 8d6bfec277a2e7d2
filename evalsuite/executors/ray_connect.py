"""How the driver reaches Ray and what it hands every replica: the connection (token auth, a local Ray of its own
when no address is given) and the allow-listed part of the driver's environment (`runtime_env`).

Replicas on an external cluster run in processes the raylet started at `ray start` time, so without a
`runtime_env` they see that shell's environment, not the driver's: no `HF_HOME`, no offline switches, no API key.
Ray is imported inside functions so this module imports without it.
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Iterable

from evalsuite.errors import UsageError

INSTALL = 'the ray executor needs Ray: pip install -e ".[ray]" (or pip install "ray>=2.43")'
LOCAL_OBJECT_STORE = 256 * 1024 * 1024
ENV_PREFIXES = ("HF_", "HUGGING_FACE_", "TRANSFORMERS_", "HF_DATASETS_", "EVALSUITE_", "VLLM_", "TOKENIZERS_")
ENV_NAMES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_DYNAMIC", "OMP_DYNAMIC")
"""What every replica gets from the driver's environment (plus the API key variable an openai spec reads and
each `--replica-env NAME`)."""
NOT_SENT = ("EVALSUITE_STORE_DIR",)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def import_ray():
    """Ray, or the one-line install hint as a UsageError."""
    try:
        import ray
    except ImportError:
        raise UsageError(INSTALL) from None
    return ray


def token_available() -> bool:
    """Whether this process has a Ray auth token: $RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or str(Path.home() / ".ray" / "auth_token")
    try:
        return bool(Path(path).read_text().strip())
    except OSError:
        return False


def _use_token_auth() -> None:
    """Ray 2.60 sends its token only when RAY_AUTH_MODE=token is set, and sets it by itself only for `auto`; a
    driver given an explicit address would otherwise be refused by a `ray start` head that has token auth on."""
    if os.environ.get("RAY_AUTH_MODE") or not token_available():
        return
    os.environ["RAY_AUTH_MODE"] = "token"
    try:  # the C++ config caches the mode at import; refresh it as Ray's own `auto` path does
        from ray._raylet import Config

        Config.initialize("")
    except (ImportError, AttributeError):
        pass


def connect(address: str | None) -> bool:
    """Join `address` (or $RAY_ADDRESS; `auto` = the cluster this node belongs to), or start a Ray of this
    run's own (never a `ray start` head on this host or a stale address file). True when this call started Ray."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    quiet = {"logging_level": logging.WARNING, "configure_logging": True}
    try:
        if address:
            _use_token_auth()
            ray.init(address=address, **quiet)
        else:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            ray.init(address="local", num_cpus=cores, object_store_memory=LOCAL_OBJECT_STORE,
                     include_dashboard=False, **quiet)
    except Exception as e:  # Ray raises ConnectionError, RuntimeError, ValueError, AuthenticationError...
        raise UsageError(_connect_error(address, e)) from None
    return True


def _connect_error(address: str | None, e: Exception) -> str:
    text = str(e).strip()
    first = (text.splitlines() or [type(e).__name__])[0][:200]
    if address and re.search(r"auth|token|unauthenticated", text, re.I):
        token = os.environ.get("RAY_AUTH_TOKEN_PATH") or "~/.ray/auth_token"
        return (f"the Ray cluster at {address} refused this driver's auth token ({first}); copy the head's token "
                f"to {token} or $RAY_AUTH_TOKEN and set RAY_AUTH_MODE=token (or use --ray-address auto on a node "
                "of the cluster)")
    if address:  # Ray 2.60 reports a refused token only in its own log lines: name the usual cause too
        token = os.environ.get("RAY_AUTH_TOKEN_PATH") or "~/.ray/auth_token"
        return (f"could not join the Ray cluster at {address} ({first}); check `ray status --address {address}`; "
                f"a cluster with token auth needs its token in {token} or $RAY_AUTH_TOKEN (with RAY_AUTH_MODE=token), "
                "or drop --ray-address to start a local Ray")
    return f"could not start a local Ray ({first}); check the temp dir (RAY_TMPDIR) and free memory"


def check_env_names(names: Iterable[str] | None) -> list[str]:
    """`--replica-env` names, checked: each a variable name that is set here (one line otherwise)."""
    out = []
    for name in names or ():
        if not _NAME.match(name):
            raise UsageError(f"--replica-env {name!r} is not an environment variable name (give NAME, not NAME=VALUE)")
        if name not in os.environ:
            raise UsageError(f"--replica-env {name}: {name} is not set in this environment, so there is nothing to "
                             "send to the replicas")
        out.append(name)
    return out


def replica_env(backend: Any, extra: Iterable[str] = (), environ: dict[str, str] | None = None) -> dict[str, str]:
    """The driver's variables every replica gets: the allow-list, those the backend says its replicas need
    (`Backend.replica_env_names`: the openai backend's API key and URL variables) and `extra` (`--replica-env`)."""
    env = dict(os.environ if environ is None else environ)
    names = {k for k in env if k.startswith(ENV_PREFIXES) or k in ENV_NAMES}
    names -= set(NOT_SENT)
    names |= set(backend.replica_env_names())
    names |= set(extra)
    return {k: env[k] for k in sorted(names) if k in env}
