"""CRUXEval: its cards, data and scorers (`utils.py`, named by the cards with `!function`)."""
