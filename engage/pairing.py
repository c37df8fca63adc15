"""DPO preference pairs from posts made close together in time.

Posts made within a few hours of each other meet about the same audience, at about the same
time of day and day of week, so when one clearly beat the other the difference is mostly the
words. Options narrow what else could explain it: ``match`` pairs only posts alike in media,
links and quoting; ``adjust=hour`` compares scores after taking out the owner's own
hour-of-day effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

MATCH_FIELDS = ("media", "link", "quote", "lang")
ADJUSTMENTS = ("none", "hour")


@dataclass(frozen=True)
class PairRule:
    window: timedelta = timedelta(hours=3)
    min_ratio: float = 2.0
    max_pairs_per_post: int = 5
    match: tuple[str, ...] = ("media", "link", "quote")
    adjust: str = "hour"


@dataclass(frozen=True)
class Pair:
    chosen: int
    rejected: int
    seconds_apart: float
    ratio: float


def find_pairs(
    times: np.ndarray,
    values: np.ndarray,
    group: np.ndarray,
    text_key: np.ndarray,
    window_seconds: float,
    min_ratio: float,
    max_pairs_per_post: int,
) -> list[Pair]:
    """Greedy pairing, nearest in time first.

    ``values`` are the smoothed scores compared by ratio (``score + 1``, or that divided by the
    hour-of-day effect). A candidate pair is two posts within ``window_seconds``, in the same
    ``group``, with different ``text_key`` and ``hi >= min_ratio * lo``. Candidates are taken
    in order of time apart (ties by position, so the result is deterministic); one whose post
    already has ``max_pairs_per_post`` pairs is passed over. Indices refer to the inputs.
    """
    n = len(times)
    if n < 2 or max_pairs_per_post <= 0:
        return []
    order = np.lexsort((np.arange(n), times))
    ts, vs, gs, ks = times[order], values[order], group[order], text_key[order]
    end = np.searchsorted(ts, ts + window_seconds, side="right")
    active = np.arange(n)
    gaps, firsts, seconds = [], [], []
    d = 1
    while True:
        active = active[end[active] - active > d]
        if active.size == 0:
            break
        other = active + d
        vi, vj = vs[active], vs[other]
        hi, lo = np.maximum(vi, vj), np.minimum(vi, vj)
        ok = (hi > lo) & (hi >= lo * min_ratio * (1 - 1e-12)) & (gs[active] == gs[other]) & (ks[active] != ks[other])
        a, b = active[ok], other[ok]
        gaps.append(ts[b] - ts[a])
        firsts.append(a)
        seconds.append(b)
        d += 1
    if not gaps:
        return []
    gap = np.concatenate(gaps)
    a = np.concatenate(firsts)
    b = np.concatenate(seconds)
    rank = np.lexsort((b, a, gap))
    used = [0] * n
    cap = max_pairs_per_post
    pairs: list[Pair] = []
    for g, i, j in zip(gap[rank].tolist(), a[rank].tolist(), b[rank].tolist()):
        if used[i] >= cap or used[j] >= cap:
            continue
        used[i] += 1
        used[j] += 1
        c, r = (i, j) if vs[i] > vs[j] else (j, i)
        pairs.append(Pair(int(order[c]), int(order[r]), g, float(vs[c] / vs[r])))
    return pairs
