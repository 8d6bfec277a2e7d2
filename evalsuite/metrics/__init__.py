"""Metrics: pure functions with metadata (name, direction, label, plot)."""
from evalsuite.metrics.accuracy import accuracy, mean_tokens, parse_rate
from evalsuite.metrics.base import MetricSpec, metric, spec
from evalsuite.metrics.bootstrap import bootstrap_ci, bootstrap_mean_ci

__all__ = ["MetricSpec", "accuracy", "bootstrap_ci", "bootstrap_mean_ci", "mean_tokens", "metric", "parse_rate", "spec"]
