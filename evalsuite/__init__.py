"""evalsuite: self-correction, critique, calibration and contamination evaluation for language models."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalsuite.api import Results, evaluate

__all__ = ["Results", "evaluate"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """`evaluate` and `Results` load the engine on first use, so `evalsuite --help` starts without it."""
    if name in __all__:
        from evalsuite import api  # local: `import evalsuite` does not load the engine

        return getattr(api, name)
    raise AttributeError(f"module 'evalsuite' has no attribute {name!r}")
