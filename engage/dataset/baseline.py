"""The owner's typical engagement around a moment, and how it moves with the hour of day.

Both adjust for what is not the words: the audience grows over the years (a post from 2019
cannot be compared with one from 2024 on raw likes), and a post sent at 4 a.m. meets a
sleeping audience.
"""

from __future__ import annotations

import numpy as np

GRID_STEPS = 30  # the median is taken on a grid of half_window / 30 (one day for a 30-day window)


def rolling_median(times: np.ndarray, values: np.ndarray, half_window: float) -> np.ndarray:
    """For each post, the median of ``values`` over posts within ``half_window`` seconds of it.

    Evaluated on a time grid of ``half_window / 30`` and read off at each post's grid point,
    so the window of a post is off by at most half a grid step (half a day for 30 days).
    """
    n = len(times)
    if n == 0:
        return np.empty(0)
    order = np.argsort(times, kind="stable")
    ts, vs = times[order], values[order]
    step = half_window / GRID_STEPS
    cell = np.floor((ts - ts[0]) / step).astype(np.int64)
    cells, first = np.unique(cell, return_index=True)
    centres = ts[0] + (cells + 0.5) * step
    lo = np.searchsorted(ts, centres - half_window, side="left")
    hi = np.searchsorted(ts, centres + half_window, side="right")
    medians = np.array([np.median(vs[a:b]) if b > a else np.nan for a, b in zip(lo.tolist(), hi.tolist())])
    counts = np.diff(np.append(first, n))
    out = np.empty(n)
    out[order] = np.repeat(medians, counts)
    return out


def relative_log_score(times: np.ndarray, scores: np.ndarray, half_window: float) -> np.ndarray:
    """``log((score + 1) / (typical score nearby + 1))``: how a post did against the owner's norm at the time."""
    logs = np.log1p(scores)
    return logs - rolling_median(times, logs, half_window)


HOUR_PRIOR = 20.0  # posts' worth of pull toward "no hour effect" for hours with few posts


def hour_effect(times: np.ndarray, scores: np.ndarray, half_window: float) -> np.ndarray:
    """Per UTC hour, the mean log-ratio of a post's score to the owner's norm at the time.

    Hours with few posts are shrunk toward 0 so that one lucky post at 3 a.m. does not set
    the hour's effect. Returns 24 values (log scale), weighted to average 0 over the posts.
    """
    rel = relative_log_score(times, scores, half_window)
    hours = ((times // 3600) % 24).astype(int)
    sums = np.bincount(hours, weights=rel, minlength=24)
    counts = np.bincount(hours, minlength=24)
    effect = sums / (counts + HOUR_PRIOR)
    return effect - np.average(effect, weights=counts) if counts.sum() else effect
