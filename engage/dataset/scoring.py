"""Engagement scores and which posts are eligible to train on, with the reason for each that is not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from archive_parsers.post import REPLY, REPOST, THREAD, Post

# Reasons a post is left out, in the order they are checked (the first that applies is kept).
REASONS = ("deleted", "edit_superseded", "repost", "reply", "thread", "too_recent", "empty_text")

LIKE_WEIGHT, REPOST_WEIGHT = 1.0, 3.0  # a repost puts the post in front of a new audience
MIN_AGE = timedelta(days=7)  # younger posts' counts are not final


def engagement_scores(
    likes: np.ndarray, reposts: np.ndarray, like_weight: float = LIKE_WEIGHT, repost_weight: float = REPOST_WEIGHT
) -> np.ndarray:
    """score = like_weight x likes + repost_weight x reposts, per post."""
    return like_weight * np.asarray(likes, dtype=float) + repost_weight * np.asarray(reposts, dtype=float)


@dataclass(frozen=True)
class EligibilityRule:
    """Which posts count as the owner's own, settled voice."""

    as_of: datetime
    min_age: timedelta = MIN_AGE
    include_replies: bool = False
    include_threads: bool = False

    def reason(self, post: Post, text: str) -> str | None:
        """Why ``post`` is left out (None if it is eligible); ``text`` is its text after the link policy."""
        if post.dropped:
            return post.dropped
        if post.kind == REPOST:
            return "repost"
        if post.kind == REPLY and not self.include_replies:
            return "reply"
        if post.kind == THREAD and not self.include_threads:
            return "thread"
        if post.created_at > self.as_of - self.min_age:
            return "too_recent"
        if not text:
            return "empty_text"
        return None
