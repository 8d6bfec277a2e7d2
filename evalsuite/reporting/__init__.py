"""Run outputs and reports."""
