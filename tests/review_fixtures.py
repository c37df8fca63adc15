"""Review stores built by code for the store, app, export and report tests."""

from __future__ import annotations

from pathlib import Path

from engage.review.post_flags import flag_post
from engage.review.store import NewCandidate, ReviewStore


def candidate(text: str, **nearest) -> NewCandidate:
    flags = flag_post(text).as_dict()
    flags["near_copy"] = bool(nearest.get("nearest_similarity", 0) >= 0.8)
    return NewCandidate(text, flags, **nearest)


def make_store(path: Path, texts_by_label: dict[str, list[str]], prompt: str = "Write a post:\n") -> ReviewStore:
    """A store with one batch per model label, candidates in the order given."""
    store = ReviewStore(path, create=True)
    for label, texts in texts_by_label.items():
        batch = store.add_batch(label, "tiny-base", f"runs/{label}", prompt, {"temperature": 0.9})
        store.add_candidates(batch, [candidate(t) for t in texts])
    return store


def score_bound(k: int, n: int, upper: bool, z: float = 1.959963984540054) -> float:
    """The Wilson bound found another way: the p where the score statistic equals z, by bisection."""
    lo, hi = (k / n, 1.0) if upper else (0.0, k / n)
    for _ in range(200):
        mid = (lo + hi) / 2
        if (abs(k / n - mid) <= z * (mid * (1 - mid) / n) ** 0.5) == upper:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
