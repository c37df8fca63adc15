"""Errors a person can cause. The CLI prints the message as one line and exits non-zero."""


class UserError(Exception):
    """Something the user can fix; the message says what is wrong and what to do."""
