"""Protocols: how a doc becomes one or more rounds of requests."""
from evalsuite.protocols.base import Protocol, Settings, Turn, render

__all__ = ["Protocol", "Settings", "Turn", "render"]
