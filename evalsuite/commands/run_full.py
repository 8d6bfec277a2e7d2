"""`evalsuite run --full`: run every doc of tasks whose card sets `default_limit` (CorrectBench's first 100)."""
from __future__ import annotations

from evalsuite.registry import run_option

run_option("--full", group="tasks and data", action="store_true",
           help="run every doc of tasks whose card keeps only the first N by default (e.g. correctbench's 100)")
