"""Errors a person can cause by handing the parsers a bad input."""


class ArchiveError(Exception):
    """The input is not something we can read. The message is one line a person can act on."""
