"""The statistics reports and the review app show: intervals and exact tests, no approximations hidden."""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a proportion (95% by default); (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"{successes} successes out of {n}: a proportion needs 0 <= successes <= n")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


Z80 = 0.8416212335729143  # one-sided z for 80% power


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of Fisher's exact test for the 2x2 table [[a, b], [c, d]].

    Sums the probabilities (hypergeometric, margins fixed) of every table no more likely than
    the observed one, as R's fisher.test and SciPy do.
    """
    row1, col1, n = a + b, a + c, a + b + c + d
    if n == 0:
        return 1.0
    lo, hi = max(0, col1 - (n - row1)), min(row1, col1)

    def logp(x: int) -> float:
        return _log_choose(col1, x) + _log_choose(n - col1, row1 - x) - _log_choose(n, row1)

    observed = logp(a)
    total = sum(math.exp(lp) for lp in map(logp, range(lo, hi + 1)) if lp <= observed + 1e-7)
    return min(1.0, total)


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial (sign) test of wins against losses at p = 1/2; ties are left out first."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.exp(_log_choose(n, i) - n * math.log(2)) for i in range(k + 1))
    return min(1.0, 2 * tail)


POWER = 0.8
ALPHA = 0.05
EXACT_LIMIT = 1000  # largest sample (per model, or judged posts) searched exactly; past it, "more than this"


def _binomial_pmf(n: int, p: float):
    import numpy as np

    x = np.arange(n + 1)
    if p <= 0 or p >= 1:
        return (x == (0 if p <= 0 else n)).astype(float)
    lc = np.array([_log_choose(n, k) for k in range(n + 1)])
    return np.exp(lc + x * math.log(p) + (n - x) * math.log1p(-p))


def fisher_power(n: int, p1: float, p2: float, alpha: float = ALPHA) -> float:
    """Power of the two-sided Fisher exact test (as ``fisher_exact`` decides it) at level ``alpha``
    with ``n`` decisions per model whose true acceptance rates are ``p1`` and ``p2``: the chance,
    summed over every outcome (x1 of n approved, x2 of n approved), that the test rejects."""
    import numpy as np

    b1, b2 = _binomial_pmf(n, p1), _binomial_pmf(n, p2)
    lc = np.array([_log_choose(n, k) for k in range(n + 1)])
    power = 0.0
    for m in range(2 * n + 1):  # tables with m approved in all: the hypergeometric over x1 given m
        x = np.arange(max(0, m - n), min(n, m) + 1)
        logh = lc[x] + lc[m - x] - _log_choose(2 * n, m)
        order = np.sort(logh)
        cum = np.cumsum(np.exp(order))
        pvalue = np.minimum(1.0, cum[np.searchsorted(order, logh + 1e-7, side="right") - 1])
        rejected = x[pvalue <= alpha]
        power += float(np.dot(b1[rejected], b2[m - rejected]))
    return power


def sign_power(n: int, p: float, alpha: float = ALPHA) -> float:
    """Power of the two-sided exact sign test (as ``sign_test`` decides it) at level ``alpha`` with
    ``n`` judged posts whose true win rate is ``p``."""
    import numpy as np

    null = _binomial_pmf(n, 0.5)
    lower = np.cumsum(null)  # P(W <= w)
    tail = np.minimum(lower, lower[::-1])  # P(W <= min(w, n - w)), by symmetry
    rejected = np.flatnonzero(np.minimum(1.0, 2 * tail) <= alpha)
    return float(_binomial_pmf(n, p)[rejected].sum())


def _smallest_n(power, start: int) -> int | None:
    """The smallest n near ``start`` with power(n) >= POWER: up from ``start`` until it is reached,
    or down from it while it still holds. None when more than EXACT_LIMIT would be needed."""
    n = max(2, min(start, EXACT_LIMIT))
    if power(n) >= POWER:
        while n > 2 and power(n - 1) >= POWER:
            n -= 1
        return n
    while n < EXACT_LIMIT:
        n += 1
        if power(n) >= POWER:
            return n
    return None


def n_for_two_proportions(p1: float, p2: float) -> int | None:
    """Decisions per model needed for the exact test to tell p1 from p2 (two-sided 5%, 80% power).

    The exact power of the test the report runs (Fisher's), searched from the normal-approximation
    estimate, which is only the starting point. None when the rates are equal or more than
    EXACT_LIMIT per model would be needed."""
    if p1 == p2:
        return None
    pbar = (p1 + p2) / 2
    num = Z95 * math.sqrt(2 * pbar * (1 - pbar)) + Z80 * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    if (num / (p1 - p2)) ** 2 > 4 * EXACT_LIMIT:
        return None
    return _smallest_n(lambda n: fisher_power(n, p1, p2), math.ceil((num / (p1 - p2)) ** 2))


def n_for_one_proportion(p: float, p0: float = 0.5) -> int | None:
    """Judged posts needed for the exact sign test to tell a win rate p from 1/2 (two-sided 5%, 80% power),
    searched like ``n_for_two_proportions``. None when p is 1/2 or more than EXACT_LIMIT would be needed."""
    if p == p0:
        return None
    num = Z95 * math.sqrt(p0 * (1 - p0)) + Z80 * math.sqrt(p * (1 - p))
    if (num / (p - p0)) ** 2 > 4 * EXACT_LIMIT:
        return None
    return _smallest_n(lambda n: sign_power(n, p), math.ceil((num / (p - p0)) ** 2))
