"""The task catalog: YAML cards in `cards/`, shipped data in `data/`, loaded through `datasets`."""
from evalsuite.tasks.cards import GroupCard, TaskCard, catalog, resolve_tasks
from evalsuite.tasks.loader import load_docs

__all__ = ["GroupCard", "TaskCard", "catalog", "load_docs", "resolve_tasks"]
