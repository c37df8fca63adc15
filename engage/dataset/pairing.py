"""DPO preference pairs from posts made close together in time.

Posts made within a few hours of each other meet about the same audience, at about the same
time of day and day of week, so when one clearly beat the other the difference is mostly the
words. Options narrow what else could explain it: ``match`` pairs only posts alike in media,
links and quoting; ``adjust=hour`` compares scores after taking out the owner's own
hour-of-day effect; ``evidence`` drops pairs whose lead is likely noise at their counts
(engage.dataset.evidence).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from engage.dataset.evidence import DEFAULT_ALPHA, noise_p_values

MATCH_FIELDS = ("media", "link", "quote", "lang")
ADJUSTMENTS = ("none", "hour")


@dataclass(frozen=True)
class PairRule:
    window: timedelta = timedelta(hours=3)
    min_ratio: float = 2.0
    max_pairs_per_post: int = 5
    match: tuple[str, ...] = ("media", "link", "quote")
    adjust: str = "hour"
    evidence: float = DEFAULT_ALPHA  # keep a pair only when its noise p-value is at most this (1 = off)


@dataclass
class Pairs:
    """Pairs as parallel arrays, nearest in time first. Indices refer to the inputs of find_pairs."""

    chosen: np.ndarray
    rejected: np.ndarray
    seconds_apart: np.ndarray
    ratio: np.ndarray
    noise_dropped: int = 0  # candidate pairs that passed the ratio but not the evidence test

    def __len__(self) -> int:
        return len(self.chosen)

    def take(self, index: np.ndarray) -> Pairs:
        """The same pairs with indices mapped through ``index``."""
        return Pairs(index[self.chosen], index[self.rejected], self.seconds_apart, self.ratio, self.noise_dropped)


def _empty(noise_dropped: int = 0) -> Pairs:
    z = np.empty(0, dtype=np.int64)
    return Pairs(z, z, np.empty(0), np.empty(0), noise_dropped)


def find_pairs(
    times: np.ndarray,
    values: np.ndarray,
    group: np.ndarray,
    text_key: np.ndarray,
    window_seconds: float,
    min_ratio: float,
    max_pairs_per_post: int,
    events: np.ndarray | None = None,
    exposure: np.ndarray | None = None,
    alpha: float = 1.0,
) -> Pairs:
    """Greedy pairing, nearest in time first.

    ``values`` are the smoothed scores compared by ratio (``score + 1``, or that divided by the
    hour-of-day effect). A candidate pair is two posts within ``window_seconds``, in the same
    ``group``, with different ``text_key`` and ``hi >= min_ratio * lo`` (``hi > lo``). With
    ``events`` (each post's engagement count) and ``alpha < 1`` a candidate also needs the
    exact binomial p-value of the higher post's lead, given both counts, at most ``alpha``;
    ``exposure`` is each post's expected audience (the hour effect), which sets the chance
    ``e_hi / (e_hi + e_lo)`` that one engagement lands on the higher post when words are equal.
    Candidates are taken in order of time apart (ties in a fixed order, so the result is
    deterministic); one whose post already has ``max_pairs_per_post`` pairs is passed over.
    """
    n = len(times)
    if n < 2 or max_pairs_per_post <= 0:
        return _empty()
    order = np.lexsort((np.arange(n), times))
    ts, vs, gs, ks = times[order], values[order], group[order], text_key[order]
    test = events is not None and alpha < 1.0
    if test:
        ev = np.asarray(events, dtype=np.int64)[order]
        ex = np.ones(n) if exposure is None else np.asarray(exposure, dtype=float)[order]
    noise_dropped = 0
    end = np.searchsorted(ts, ts + window_seconds, side="right")
    active = np.arange(n)
    firsts, seconds = [], []
    d = 1
    while True:
        active = active[end[active] - active > d]
        if active.size == 0:
            break
        other = active + d
        vi, vj = vs[active], vs[other]
        hi, lo = np.maximum(vi, vj), np.minimum(vi, vj)
        ok = (hi > lo) & (hi >= lo * min_ratio * (1 - 1e-12)) & (gs[active] == gs[other]) & (ks[active] != ks[other])
        if test and ok.any():
            i_hi = np.where(vi >= vj, active, other)[ok]
            i_lo = np.where(vi >= vj, other, active)[ok]
            p = noise_p_values(ev[i_hi], ev[i_lo], ex[i_hi] / (ex[i_hi] + ex[i_lo]))
            passed = p <= alpha
            noise_dropped += int((~passed).sum())
            ok[np.flatnonzero(ok)[~passed]] = False
        firsts.append(active[ok])
        seconds.append(other[ok])
        d += 1
    if not firsts:
        return _empty(noise_dropped)
    a = np.concatenate(firsts)
    b = np.concatenate(seconds)
    rank = np.argsort(ts[b] - ts[a], kind="stable")
    a, b = a[rank], b[rank]
    used = [0] * n
    cap = max_pairs_per_post
    keep = []
    for k, (i, j) in enumerate(zip(a.tolist(), b.tolist())):
        if used[i] < cap and used[j] < cap:
            used[i] += 1
            used[j] += 1
            keep.append(k)
    a, b = a[keep], b[keep]
    swap = vs[b] > vs[a]
    c, r = np.where(swap, b, a), np.where(swap, a, b)
    return Pairs(order[c], order[r], ts[b] - ts[a], vs[c] / vs[r], noise_dropped)
