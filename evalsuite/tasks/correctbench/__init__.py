"""CorrectBench: its cards and the GPQA data hook (`utils.py`, named by its card with `!function`)."""
