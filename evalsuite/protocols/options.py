"""Moved to `evalsuite.options` (a leaf module every layer may import); this name stays for plugins written against it."""
import importlib
import sys

sys.modules[__name__] = importlib.import_module("evalsuite.options")
