"""CriticBench: its cards and data hooks (`utils.py`, named by the cards with `!function`)."""
