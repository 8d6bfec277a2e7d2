"""RL-MIA: its cards and scorer (`utils.py`, named by the cards with `!function`)."""
