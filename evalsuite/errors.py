"""Errors a user can fix: the CLI prints their message on one line and exits 2."""


class UsageError(Exception):
    """Bad input (flag, task, model, file): the message names the problem and the fix."""
