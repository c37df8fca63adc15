"""The data rules applied to scored posts: which are eligible, the time split, the SFT set, the DPO pairs.

``apply_rules`` is the one place they run; ``engage build-dataset`` calls it once for the
datasets it writes and again, on the same posts, for each looser setting of the small-archive
what-if table (engage.dataset.what_if).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from archive_parsers.post import THREAD, Post
from engage.dataset.baseline import hour_effect, relative_log_score
from engage.dataset.pairing import PairRule, Pairs, find_pairs
from engage.dataset.scoring import EligibilityRule
from engage.dataset.selection import top_fraction
from engage.dataset.splits import split_cutoff


@dataclass
class ScoredPosts:
    """Every post read, as columns the rules work on."""

    posts: list[Post]
    times: np.ndarray  # Unix seconds
    texts: list[str]  # after the link policy
    scores: np.ndarray
    events: np.ndarray  # engagements (likes and reposts that carry score weight): the evidence test's counts
    text_key: np.ndarray  # equal keys: the same text (never paired)


@dataclass
class Selection:
    reasons: list[str | None]
    elig: np.ndarray  # indices of eligible posts
    cut: float | None  # test posts are made at or after this time
    is_test: np.ndarray  # per post
    in_sft: np.ndarray  # per post
    pairs: dict[str, Pairs]  # per split


def engagement_events(likes: np.ndarray, reposts: np.ndarray, like_weight: float, repost_weight: float) -> np.ndarray:
    """Each post's count of engagements that carry score weight: one per like and one per repost.

    A repost weighs 3 in the score but is still one person's action: counting it three times
    would triple the evidence a pair seems to have.
    """
    return (likes if like_weight > 0 else 0) + (reposts if repost_weight > 0 else 0)


def apply_rules(
    data: ScoredPosts,
    as_of: datetime,
    eligibility: EligibilityRule,
    test_fraction: float,
    sft_fraction: float,
    rank: str,
    baseline_seconds: float,
    rule: PairRule,
) -> Selection:
    posts, times, scores = data.posts, data.times, data.scores
    n = len(posts)
    reasons = [eligibility.reason(p, t) for p, t in zip(posts, data.texts)]
    elig = np.array([i for i, r in enumerate(reasons) if r is None], dtype=int)
    e_times, e_scores = times[elig], scores[elig]
    cut = split_cutoff(e_times, test_fraction)
    is_test = np.zeros(n, dtype=bool)
    if cut is not None:
        is_test[elig[e_times >= cut]] = True

    # SFT: the top fraction within each side of the time split, so the test set holds about
    # test_fraction of the SFT rows even when the audience grew or shrank over the years.
    keys = e_scores if rank == "absolute" else relative_log_score(e_times, e_scores, baseline_seconds)
    in_sft = np.zeros(n, dtype=bool)
    e_test = is_test[elig]
    for side in (~e_test, e_test):
        side_idx = np.flatnonzero(side)
        in_sft[elig[side_idx[top_fraction(keys[side_idx], e_times[side_idx], sft_fraction)]]] = True

    # DPO: pairs close in time, within each split; a thread continuation pairs only with another.
    values = scores + 1.0
    exposure = np.ones(n)
    if rule.adjust == "hour":
        effect = hour_effect(e_times, e_scores, baseline_seconds)
        exposure = np.exp(effect[((times // 3600) % 24).astype(int)])
        values = values / exposure
    group = match_groups(posts, rule.match)
    pairs: dict[str, Pairs] = {}
    for split, mask in (("train", ~e_test), ("test", e_test)):
        idx = elig[mask]
        found = find_pairs(
            times[idx], values[idx], group[idx], data.text_key[idx],
            rule.window.total_seconds(), rule.min_ratio, rule.max_pairs_per_post,
            data.events[idx], exposure[idx], rule.evidence,
        )  # fmt: skip
        pairs[split] = found.take(idx)
    return Selection(reasons, elig, cut, is_test, in_sft, pairs)


def match_groups(posts: list[Post], match: tuple[str, ...]) -> np.ndarray:
    """An integer per post; two posts may pair only if theirs are equal (threads never pair with standalone posts)."""
    n = len(posts)
    group = np.fromiter((p.kind == THREAD for p in posts), dtype=np.int64, count=n)
    for name in match:
        if name == "lang":
            codes: dict[str, int] = {}
            column = np.fromiter((codes.setdefault(p.lang, len(codes)) for p in posts), dtype=np.int64, count=n)
        else:
            attr = {"media": "has_media", "link": "has_link", "quote": "is_quote"}[name]
            column = np.fromiter((getattr(p, attr) for p in posts), dtype=np.int64, count=n)
        group = group * (int(column.max(initial=0)) + 1) + column
    return group
