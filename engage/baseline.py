"""The owner's typical engagement around a moment, and how it moves with the hour of day.

Both adjust for what is not the words: the audience grows over the years (a post from 2019
cannot be compared with one from 2024 on raw likes), and a post sent at 4 a.m. meets a
sleeping audience.
"""

from __future__ import annotations

import numpy as np
from sortedcontainers import SortedList


def rolling_median(times: np.ndarray, values: np.ndarray, half_window: float) -> np.ndarray:
    """For each post, the median of ``values`` over the posts within ``half_window`` seconds of it.

    ``times`` need not be sorted. Exact, O(n log n).
    """
    n = len(times)
    out = np.empty(n, dtype=float)
    if n == 0:
        return out
    order = np.argsort(times, kind="stable")
    ts = times[order].tolist()
    vs = values[order].tolist()
    window = SortedList()
    lo = hi = 0
    for k in range(n):
        t = ts[k]
        while hi < n and ts[hi] <= t + half_window:
            window.add(vs[hi])
            hi += 1
        while ts[lo] < t - half_window:
            window.remove(vs[lo])
            lo += 1
        m = len(window)
        out[order[k]] = window[m // 2] if m % 2 else 0.5 * (window[m // 2 - 1] + window[m // 2])
    return out


def relative_log_score(times: np.ndarray, scores: np.ndarray, half_window: float) -> np.ndarray:
    """``log((score + 1) / (typical score nearby + 1))``: how a post did against the owner's norm at the time."""
    logs = np.log1p(scores)
    return logs - rolling_median(times, logs, half_window)


HOUR_PRIOR = 20.0  # posts' worth of pull toward "no hour effect" for hours with few posts


def hour_effect(times: np.ndarray, scores: np.ndarray, half_window: float) -> np.ndarray:
    """Per UTC hour, the mean log-ratio of a post's score to the owner's norm at the time.

    Hours with few posts are shrunk toward 0 so that one lucky post at 3 a.m. does not set
    the hour's effect. Returns 24 values (log scale).
    """
    rel = relative_log_score(times, scores, half_window)
    hours = ((times // 3600) % 24).astype(int)
    sums = np.bincount(hours, weights=rel, minlength=24)
    counts = np.bincount(hours, minlength=24)
    effect = sums / (counts + HOUR_PRIOR)
    return effect - np.average(effect, weights=counts + 1e-9) if counts.sum() else effect
