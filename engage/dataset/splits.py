"""Split by time: the most recent slice of eligible posts is the test set."""

from __future__ import annotations

import math
from collections.abc import Sequence


def split_cutoff(times: Sequence[float], test_fraction: float) -> float | None:
    """The time from which on posts are test posts, or None when there is no test set.

    At least ``test_fraction`` of the posts (rounded up) are at or after the cutoff; posts
    made at the same instant always land on the same side. Train is never left empty: when
    the cutoff would fall on the oldest instant, the test set shrinks to the posts after it.
    With one post, one instant, or a fraction of 0, there is no test set.
    """
    n = len(times)
    if n < 2 or test_fraction <= 0:
        return None
    n_test = min(n - 1, math.ceil(test_fraction * n - 1e-9))
    if n_test <= 0:
        return None
    ordered = sorted(times)
    cut = ordered[n - n_test]
    if cut <= ordered[0]:
        later = [t for t in ordered if t > ordered[0]]
        return later[0] if later else None
    return cut
