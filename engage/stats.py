"""The statistics reports and the review app show: intervals and exact tests, no approximations hidden."""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a proportion (95% by default); (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
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


def n_for_two_proportions(p1: float, p2: float) -> int | None:
    """Decisions per model needed to tell p1 from p2 (two-sided 5%, 80% power; normal approximation)."""
    if p1 == p2:
        return None
    pbar = (p1 + p2) / 2
    num = Z95 * math.sqrt(2 * pbar * (1 - pbar)) + Z80 * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil((num / (p1 - p2)) ** 2)


def n_for_one_proportion(p: float, p0: float = 0.5) -> int | None:
    """Judged posts needed to tell a win rate p from p0 (two-sided 5%, 80% power; normal approximation)."""
    if p == p0:
        return None
    num = Z95 * math.sqrt(p0 * (1 - p0)) + Z80 * math.sqrt(p * (1 - p))
    return math.ceil((num / (p - p0)) ** 2)
