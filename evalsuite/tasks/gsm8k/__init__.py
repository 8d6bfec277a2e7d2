"""GSM8K: its card, data and scorer (`utils.py`, named by the card as `!function utils.GSM8KScorer`)."""
