"""evalsuite: self-correction, critique, calibration and contamination evaluation for language models."""
from evalsuite.api import Results, evaluate

__all__ = ["Results", "evaluate"]
__version__ = "0.1.0"
