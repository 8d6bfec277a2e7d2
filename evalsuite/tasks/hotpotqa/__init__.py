"""HotpotQA: its data, include-only card and scorer (`utils.py`, named by the card with `!function`)."""
