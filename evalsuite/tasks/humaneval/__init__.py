"""HumanEval: its card, data and scorer (`utils.py`, named by the card with `!function`)."""
