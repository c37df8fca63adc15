"""Which eligible posts make the SFT set: the top fraction by score."""

from __future__ import annotations

import math

import numpy as np

RANKS = ("absolute", "relative")


def top_fraction(keys: np.ndarray, times: np.ndarray, fraction: float) -> np.ndarray:
    """Indices of the top ``fraction`` (rounded up) by ``keys``; ties go to the more recent post."""
    n = len(keys)
    k = min(n, math.ceil(fraction * n - 1e-9)) if fraction > 0 else 0
    if k <= 0:
        return np.empty(0, dtype=int)
    order = np.lexsort((np.arange(n), -times, -keys))
    return np.sort(order[:k])
