"""Whether a pair's difference in engagement is more than noise at its counts.

Each like or repost is one person's action. If the two posts of a pair met the same audience
and their words were equally good, each of the pair's ``n`` engagements would land on the
chosen post with probability ``p0`` (1/2, or each post's share of the audience expected at its
hour when scores are hour-adjusted), so the chosen post's count is Binomial(n, p0) given n.
The one-sided p-value ``P(X >= k_chosen)`` says how often equal words would give a lead at
least this large; a pair is kept when it is at most ``alpha``.

1 like against 0 has p = 1/2 (a coin flip); 5 against 0 has p = 1/32; at hundreds of likes a
ratio of 2 has p far below any alpha, so the rule only bites where counts are small.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_ALPHA = 0.05
OFF = 1.0  # alpha 1 keeps every pair: the evidence rule is off


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """``P(X >= k)`` for X ~ Binomial(n, p), exactly (a sum of the binomial terms)."""
    return float(_upper_tails(np.array([k]), np.array([n]), np.array([float(p)]))[0])


def _upper_tails(k: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``P(X >= k)`` per element, summed term by term for all elements at once.

    The first term comes from a table of log-factorials; each next term is the one before times
    ``(n - i) / (i + 1) * p / (1 - p)``. An element stops once its terms are past the mode and too
    small to change the sum in double precision.
    """
    k, n = np.asarray(k, dtype=np.int64), np.asarray(n, dtype=np.int64)
    p = np.asarray(p, dtype=float)
    out = np.where(k <= 0, 1.0, 0.0)
    live = np.flatnonzero((k > 0) & (k <= n) & (p > 0))
    full = live[p[live] >= 1.0]
    out[full] = 1.0
    live = live[p[live] < 1.0]
    if live.size == 0:
        return out
    kk, nn, pp = k[live], n[live], p[live]
    log_fact = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, int(nn.max()) + 1)))))
    term = np.exp(log_fact[nn] - log_fact[kk] - log_fact[nn - kk] + kk * np.log(pp) + (nn - kk) * np.log1p(-pp))
    odds = pp / (1 - pp)
    total = term.copy()
    idx = np.arange(live.size)
    i = kk.astype(float)
    while idx.size:
        more = (i[idx] < nn[idx]) & ~((i[idx] > nn[idx] * pp[idx]) & (term[idx] <= total[idx] * 1e-17))
        idx = idx[more]
        if idx.size == 0:
            break
        term[idx] *= (nn[idx] - i[idx]) / (i[idx] + 1) * odds[idx]
        i[idx] += 1
        total[idx] += term[idx]
    out[live] = np.minimum(total, 1.0)
    return out


def _chernoff_log_bound(k: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``log`` of the Chernoff bound ``exp(-n KL(k/n || p))`` on ``P(X >= k)`` (valid when k/n > p; else 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        q = k / n
        kl = np.where(q > 0, q * np.log(q / p), 0.0) + np.where(q < 1, (1 - q) * np.log((1 - q) / (1 - p)), 0.0)
        out = np.where((n > 0) & (q > p), -n * kl, 0.0)
    return np.nan_to_num(out, nan=0.0)


def noise_p_values(k_chosen: np.ndarray, k_rejected: np.ndarray, p0: np.ndarray) -> np.ndarray:
    """Per pair, the one-sided exact p-value of the chosen post's lead in engagements.

    A Chernoff bound already below 1e-12 settles the large-count pairs without summing (their
    value is that bound); the rest are summed exactly.
    """
    kc = np.asarray(k_chosen, dtype=np.int64)
    n = kc + np.asarray(k_rejected, dtype=np.int64)
    p = np.clip(np.asarray(p0, dtype=float), 1e-12, 1 - 1e-12)
    out = np.ones(len(kc))
    if len(kc) == 0:
        return out
    bound = _chernoff_log_bound(kc.astype(float), n.astype(float), p)
    clear = bound < math.log(1e-12)
    out[clear] = np.exp(bound[clear])
    rest = np.flatnonzero(~clear)
    if rest.size:
        # Many pairs share their counts and hours: sum each distinct (k, n, p) once.
        p_values, p_code = np.unique(p[rest], return_inverse=True)
        key = (n[rest] * (int(kc[rest].max()) + 1) + kc[rest]) * len(p_values) + p_code.reshape(-1)
        keys, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        at = rest[first]
        out[rest] = _upper_tails(kc[at], n[at], p[at])[inverse.reshape(-1)]
    return out
