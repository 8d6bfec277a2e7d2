"""Scorers: answer extraction and equivalence per answer type, with each benchmark's official convention."""
from evalsuite.scoring import gsm8k, math  # noqa: F401
from evalsuite.scoring.base import Score, Scorer

__all__ = ["Score", "Scorer"]
