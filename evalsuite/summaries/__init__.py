"""Summarizers: samples of a (task, protocol) group -> metric rows and plot data."""
from evalsuite.summaries import accuracy  # noqa: F401
from evalsuite.summaries.base import Group, MetricRow, Summary, summarize, summarizer

__all__ = ["Group", "MetricRow", "Summary", "summarize", "summarizer"]
