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
    """``P(X >= k)`` for X ~ Binomial(n, p), summed exactly in log space."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    lgn = math.lgamma(n + 1)
    terms = [lgn - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq for i in range(k, n + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def _chernoff_log_bound(k: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``log`` of the Chernoff bound ``exp(-n KL(k/n || p))`` on ``P(X >= k)`` (valid when k/n > p; else 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        q = k / n
        kl = np.where(q > 0, q * np.log(q / p), 0.0) + np.where(q < 1, (1 - q) * np.log((1 - q) / (1 - p)), 0.0)
        out = np.where((n > 0) & (q > p), -n * kl, 0.0)
    return np.nan_to_num(out, nan=0.0)


def noise_p_values(k_chosen: np.ndarray, k_rejected: np.ndarray, p0: np.ndarray) -> np.ndarray:
    """Per pair, the one-sided exact p-value of the chosen post's lead in engagements.

    Vectorised where the answer is clear: a Chernoff bound already below 1e-12 settles the
    large-count pairs without summing; the rest (small counts) are summed exactly.
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
    for i in np.flatnonzero(~clear).tolist():
        out[i] = binomial_upper_tail(int(kc[i]), int(n[i]), float(p[i]))
    return out
