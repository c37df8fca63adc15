"""Errors a person can cause. The CLI prints the message as one line and exits non-zero."""


class UserError(Exception):
    """Something the user can fix; the message says what is wrong and what to do."""


class NothingYet(UserError):
    """Nothing to work on yet (no decisions to report, nothing approved to export): not a failure of the
    command, but not a result either. The CLI prints the message and exits with EXIT_NOTHING_YET, so a
    script can tell it from success (0) and from an error (1)."""


EXIT_NOTHING_YET = 3
