"""Backends: `hf` (transformers) is always available; others import their libraries only when selected."""
from evalsuite.backends.base import Backend, load_backend, parse_model_args, split_model_spec

__all__ = ["Backend", "load_backend", "parse_model_args", "split_model_spec"]
