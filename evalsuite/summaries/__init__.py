"""Summarizers: samples of a (task, protocol) group -> metric rows and plot data."""
from evalsuite.summaries.base import Group, MetricRow, Summary, summarize, summarizer

__all__ = ["Group", "MetricRow", "Summary", "summarize", "summarizer"]
