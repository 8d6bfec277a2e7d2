"""Scorers: answer extraction and equivalence per answer type, with each benchmark's official convention."""
from evalsuite.scoring.base import Score, Scorer

__all__ = ["Score", "Scorer"]
