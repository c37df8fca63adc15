"""What ``engage report`` measures: what the owner accepts per model (from the review store), and how
published posts did against the owner's own posts made close in time (from a newer archive).

Every rate comes with its 95% Wilson interval, every difference with an exact test, and a plain
warning (with how much more data would be needed) where the sample cannot support a conclusion.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from engage.dataset.pairing import PairRule
from engage.dataset.scoring import LIKE_WEIGHT, MIN_AGE, REPOST_WEIGHT, engagement_scores
from engage.errors import NothingYet
from engage.review.export import DEFAULT_DISCLOSURE, with_label
from engage.review.near_copy import normalise
from engage.review.store import BAIT_LABEL, ReviewStore
from engage.stats import (
    EXACT_LIMIT,
    fisher_exact,
    n_for_one_proportion,
    n_for_two_proportions,
    sign_test,
    wilson,
)


@dataclass(frozen=True)
class MatchRule:
    window: timedelta = PairRule.window  # as the DPO pairs
    min_age: timedelta = MIN_AGE  # as build-dataset: younger posts' counts are not final
    like_weight: float = LIKE_WEIGHT
    repost_weight: float = REPOST_WEIGHT


def _rate(k: int, n: int) -> dict:
    lo, hi = wilson(k, n)
    return {"k": k, "n": n, "rate": k / n if n else None, "ci95": [lo, hi]}


def acceptance(store: ReviewStore) -> dict:
    """Per model label: acceptance, bait and label rates, all over the decided candidates (labels of
    pending ones, e.g. of an undone decision, are not counted); between labels, Fisher's exact test."""
    models = []
    for s in store.stats():
        bait = s.labels.get(BAIT_LABEL, 0)
        models.append(
            {
                "model": s.model_label,
                "candidates": s.candidates,
                "pending": s.pending,
                "decided": s.decided,
                "approved": s.approved,
                "rejected": s.rejected,
                "edited": s.edited,
                "published": s.published,
                "acceptance": _rate(s.approved, s.decided),
                "bait": _rate(bait, s.decided),
                "labels": {name: _rate(count, s.decided) for name, count in sorted(s.labels.items())},
            }
        )
    comparisons = []
    for a, b in itertools.combinations(models, 2):
        ra, rb = a["acceptance"]["rate"], b["acceptance"]["rate"]
        entry = {"a": a["model"], "b": b["model"], "difference": None, "fisher_p": None, "needed_per_model": None}
        if ra is not None and rb is not None:
            p = fisher_exact(a["approved"], a["rejected"], b["approved"], b["rejected"])
            needed = n_for_two_proportions(ra, rb)
            entry.update(difference=rb - ra, fisher_p=p, needed_per_model=needed)
            entry["warning"] = _two_model_warning(a, b, p, ra, rb, needed)
        else:
            entry["warning"] = f"{a['model'] if ra is None else b['model']} has no decisions yet: nothing to compare"
        comparisons.append(entry)
    return {"models": models, "comparisons": comparisons}


def _two_model_warning(a: dict, b: dict, p: float, ra: float, rb: float, needed: int | None) -> str | None:
    if p < 0.05:
        return None
    if ra == rb:
        return f"{a['model']} and {b['model']} are accepted at the same rate here; nothing to tell apart"
    have = min(a["decided"], b["decided"])
    if needed is None:
        more = f"more than {EXACT_LIMIT} decisions per model"
    else:
        more = f"about {needed} decisions per model ({max(0, needed - have)} more than the smaller has)"
    return (
        f"too few decisions to say {a['model']} and {b['model']} differ (exact p = {p:.2f}); for Fisher's exact "
        f"test to detect a difference this size 80% of the time needs {more}"
    )


def performance(store: ReviewStore, archive: Path, rule: MatchRule = MatchRule()) -> dict:
    """Published candidates found in a newer archive, each against the owner's own post made closest in time."""
    from archive_parsers import read_posts
    from archive_parsers.post import REPLY, REPOST

    data = read_posts(archive)
    posts = [p for p in data.posts if not p.dropped]
    as_of = data.generated_at or max((p.created_at for p in posts), default=datetime.now(timezone.utc))
    by_id = {p.id: p for p in posts}
    by_text: dict[str, list] = {}
    for p in sorted(posts, key=lambda p: p.created_at):
        by_text.setdefault(normalise(p.text), []).append(p)

    published = [c for c in store.candidates("approved") if c.published_ref]
    matched: dict[str, tuple] = {}
    not_found = []
    for c in published:
        post = by_id.get(c.published_post_id or "")
        how = "id"
        if post is None:
            how = "text"
            post = _posted_text(c, by_text, set(matched))
        if post is None:
            not_found.append(c.id)
        else:
            matched[post.id] = (c, post, how)

    def score(p) -> float:
        return float(engagement_scores(p.likes, p.reposts, rule.like_weight, rule.repost_weight))

    settled = lambda p: p.created_at <= as_of - rule.min_age  # noqa: E731
    own = sorted(
        (p for p in posts if p.id not in matched and p.kind not in (REPLY, REPOST) and settled(p)),
        key=lambda p: p.created_at,
    )
    rows, too_young, no_neighbour = [], 0, 0
    for c, post, how in matched.values():
        if not settled(post):
            too_young += 1
            continue
        near = [p for p in own if abs(p.created_at - post.created_at) <= rule.window]
        if not near:
            no_neighbour += 1
            continue
        other = min(near, key=lambda p: abs(p.created_at - post.created_at))
        s, o = score(post), score(other)
        rows.append(
            {
                "candidate": c.id,
                "model": c.model_label,
                "post_id": post.id,
                "matched_by": how,
                "score": s,
                "own_post_id": other.id,
                "own_score": o,
                "seconds_apart": abs((other.created_at - post.created_at).total_seconds()),
                "outcome": "win" if s > o else "loss" if s < o else "tie",
                "ratio": (s + 1) / (o + 1),
            }
        )
    wins = sum(r["outcome"] == "win" for r in rows)
    losses = sum(r["outcome"] == "loss" for r in rows)
    ties = len(rows) - wins - losses
    judged = wins + losses
    p = sign_test(wins, losses)
    out = {
        "archive": str(archive),
        "as_of": as_of.isoformat(),
        "window_s": rule.window.total_seconds(),
        "min_age_s": rule.min_age.total_seconds(),
        "published": len(published),
        "not_found": not_found,
        "too_young": too_young,
        "no_own_post_in_window": no_neighbour,
        "judged": judged,
        "wins": wins,
        "losses": losses,
        "ties": ties,
        "win_rate": _rate(wins, judged),
        "sign_test_p": p,
        "posts": rows,
        "warning": None,
    }
    if judged == 0:
        out["warning"] = (
            "no published post could be judged yet: publish some, wait past --min-age, then export a newer archive"
        )
    elif p >= 0.05:
        needed = n_for_one_proportion(wins / judged)
        if needed:
            more = f"about {needed} judged posts ({max(0, needed - judged)} more)"
        else:
            more = "far more posts" if wins == losses else f"more than {EXACT_LIMIT} judged posts"
        out["warning"] = (
            f"too few published posts to say they do better or worse than your own (exact sign test p = {p:.2f}); "
            f"for the exact sign test to detect a win rate this far from 50% 80% of the time needs {more}"
        )
    return out


def _posted_text(candidate, by_text: dict[str, list], taken: set[str]):
    """The first post made at or after the candidate was decided whose whole text (case and white space
    aside) is the candidate's, alone or with the default AI-generated label ``engage export`` adds."""
    from archive_parsers.x_text import parse_iso_utc

    decided = parse_iso_utc(candidate.decided_at)
    text = candidate.current_text
    wanted = {normalise(text), normalise(with_label(text, DEFAULT_DISCLOSURE))}
    found = [p for key in wanted for p in by_text.get(key, ()) if p.created_at >= decided and p.id not in taken]
    return min(found, key=lambda p: p.created_at, default=None)


def build_report(store: ReviewStore, archive: Path | None = None, rule: MatchRule = MatchRule()) -> dict:
    """The report; NothingYet when no candidate has been decided (there is no rate to give)."""
    if not any(s.decided for s in store.stats()):
        pending = store.count("pending")
        raise NothingYet(
            f"nothing to report yet: {store.path} holds no decisions ({pending} candidates waiting for review); "
            "decide some with `engage review`"
        )
    report = {
        "tool": "engage",
        "made": "engage report",
        "store": str(store.path),
        "made_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    report.update(acceptance(store))
    if archive is not None:
        report["performance"] = performance(store, archive, rule)
    return report
