"""Durations written the way people write them: ``90m``, ``6h``, ``2d``, ``1w``, ``45s``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PATTERN = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", re.I)


def parse_duration(text: str) -> timedelta:
    """Parse ``<number><unit>`` with unit s, m, h, d or w. Raises ValueError with a readable message."""
    m = _PATTERN.fullmatch(str(text))
    if m is None:
        raise ValueError(f"{text!r} is not a duration; write a number and a unit, like 90m, 6h, 2d or 1w")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2).lower()])


def format_duration(delta: timedelta) -> str:
    """The shortest exact spelling of a duration: 3h, 90m, 7d."""
    seconds = delta.total_seconds()
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s" if seconds == int(seconds) else f"{seconds}s"
