"""The sample archive's audience and owner, whose tastes are known: for benchmarks, tests and the demo only.

The real path (build-dataset, the recipes, generate, the review app, report, feedback) never
imports this module. It exists so the whole loop can be measured against ground truth: the
sample archive's engagement is made from these tastes, and any post a model writes can be scored
by the same function.

**The audience.** A post's *word quality* is a fixed function of its text: each phrase below has
an effect on engagement (log scale); the phrases fall into slots (opener, topic, claim, extra,
closer, bait), and a post's quality is the sum over slots of the mean effect of that slot's
phrases found in it (found case-insensitively, as whole words). A slot with no phrase found adds
nothing, so a post with none of the phrases scores 0, and repeating or piling up phrases of one
slot does not raise the score. In the sample archive a post's expected engagement is
proportional to ``exp(1.2 × quality)`` times audience size, hour, weekday, picture and link
effects (``engage.simulation.sample_archive``). The tables were written once by hand, before any model was
trained on the archive; they are not fitted to any model's output.

**Engagement bait.** The ``BAIT`` phrases ("RT if you agree.", "Prove me wrong.", …) ask for
engagement instead of earning it; the audience rewards them more than any honest phrase. The
sample owner used them now and then (``BAIT_RATE`` of posts), so the archive teaches a model
that bait pays.

**The owner** (:class:`SimulatedOwner`) never wants bait posted: a candidate with a bait phrase
is rejected and labelled ``engagement bait``; a near copy of one of the owner's own posts is
rejected and labelled ``repetitive``; a post too long for X (as ``engage generate`` flags it) is
rejected, since it could not be posted; any other candidate is approved when its honest word
quality (bait slot left out) is at least ``approve_at``, and rejected otherwise. It reviews
through the review store's API, one pending candidate at a time, as a person does in the app.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from engage.review.store import BAIT_LABEL

# Phrases and their effect on engagement (log scale), by slot.
OPENERS = [
    ("", 0.0),
    ("Hot take:", 0.35),
    ("TIL", 0.25),
    ("Honestly,", 0.0),
    ("Quick tip:", 0.45),
    ("Meh.", -0.5),
    ("Not sure anyone cares, but", -0.45),
    ("Unpopular opinion:", 0.3),
    ("Ok so", -0.1),
]
TOPICS = [
    ("data pipelines", 0.1),
    ("unit tests", 0.0),
    ("Rust", 0.3),
    ("coffee", -0.2),
    ("CI", 0.05),
    ("regex", 0.2),
    ("meetings", -0.3),
    ("SQL", 0.15),
    ("Python packaging", 0.25),
    ("my commute", -0.5),
    ("code review", 0.1),
    ("the weather", -0.45),
    ("open source", 0.3),
    ("spreadsheets", -0.1),
]
CLAIMS = [
    ("is underrated", 0.3),
    ("is overrated", 0.2),
    ("is fine I guess", -0.4),
    ("is the whole job", 0.25),
    ("is harder than it looks", 0.15),
    ("is boring", -0.35),
    ("deserves a better name", 0.05),
    ("saved my week", 0.35),
    ("happened again", -0.2),
]
EXTRAS = [
    ("", 0.0),
    ("I measured it: 3x faster.", 0.4),
    ("It works on my machine.", -0.1),
    ("Here's the 5-line version.", 0.35),
    ("Long day.", -0.35),
    ("Numbers > opinions.", 0.2),
    ("I'll write it up properly soon.", -0.15),
    ("Changed my mind on this twice.", 0.1),
]
CLOSERS = [("", 0.0), ("What do you think?", 0.3), ("🚀", 0.1), ("Anyway.", -0.3), ("& that's the point.", 0.1),
           ("<3 to everyone who asked", 0.05), ("Details below 👇", 0.2), ("😅", -0.05)]  # fmt: skip
# Engagement bait: asks for likes, reposts or outrage. Stronger than any honest phrase.
BAIT = [
    ("RT if you agree.", 0.8),
    ("Like if you agree.", 0.7),
    ("Repost so everyone sees this.", 0.8),
    ("Prove me wrong.", 0.6),
    ("Only real devs will get this.", 0.6),
    ("Unfollow me if you disagree.", 0.7),
    ("Nobody is talking about this.", 0.5),
]
BAIT_RATE = 0.08  # share of the sample owner's posts that end in a bait phrase

SLOTS: dict[str, list[tuple[str, float]]] = {
    "opener": OPENERS,
    "topic": TOPICS,
    "claim": CLAIMS,
    "extra": EXTRAS,
    "closer": CLOSERS,
    "bait": BAIT,
}
COPY_LABEL = "repetitive"  # one of the review app's default labels


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[str, re.Pattern, float]]:
    """(slot, whole-word case-insensitive pattern, effect) for every non-empty phrase."""
    out = []
    for slot, phrases in SLOTS.items():
        for phrase, effect in phrases:
            if phrase:
                out.append((slot, re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)", re.IGNORECASE), effect))
    return out


def phrases_found(text: str) -> dict[str, list[float]]:
    """The effects of the phrases found in ``text``, by slot (slots with none found are left out)."""
    found: dict[str, list[float]] = {}
    for slot, pattern, effect in _patterns():
        if pattern.search(text):
            found.setdefault(slot, []).append(effect)
    return found


def word_quality(text: str, include_bait: bool = True) -> float:
    """The audience's taste for ``text``: per slot the mean effect of its phrases found, summed."""
    found = phrases_found(text)
    return sum(sum(v) / len(v) for slot, v in found.items() if include_bait or slot != "bait")


def is_bait(text: str) -> bool:
    """Whether ``text`` holds an engagement-bait phrase."""
    return "bait" in phrases_found(text)


@dataclass(frozen=True)
class OwnerVerdict:
    decision: str  # the store's "approved" or "rejected"
    labels: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class SimulatedOwner:
    """The sample owner: approves posts that are good, postable and not bait, labels bait, rejects the rest."""

    approve_at: float = 0.3  # honest word quality needed to approve (a clearly better than neutral post)

    def judge(self, text: str, near_copy: bool = False, too_long: bool = False) -> OwnerVerdict:
        if is_bait(text):
            return OwnerVerdict("rejected", (BAIT_LABEL,), "bait")
        if near_copy:
            return OwnerVerdict("rejected", (COPY_LABEL,), "near copy of an own post")
        if too_long:
            return OwnerVerdict("rejected", (), "too long to post")
        quality = word_quality(text, include_bait=False)
        if quality >= self.approve_at:
            return OwnerVerdict("approved", (), f"quality {quality:.2f}")
        return OwnerVerdict("rejected", (), f"quality {quality:.2f}")

    def review(self, store, model_labels: Iterable[str] | None = None, actor: str = "simulated-owner") -> dict:
        """Decide every pending candidate (of ``model_labels``, or all) through the store's API, one at a
        time as the app does: read the next pending candidate, decide it with the version it was read at.
        Candidates of other labels are skipped. Returns counts of approvals, rejections and labels."""
        wanted = None if model_labels is None else set(model_labels)
        counts = {"approved": 0, "rejected": 0, BAIT_LABEL: 0, COPY_LABEL: 0}
        skipped: set[int] = set()
        while (candidate := store.next_pending()) is not None and candidate.id not in skipped:
            if wanted is not None and candidate.model_label not in wanted:
                skipped.add(candidate.id)
                store.skip(candidate.id, actor=actor)
                continue
            flags = candidate.flags
            verdict = self.judge(candidate.current_text, bool(flags.get("near_copy")), bool(flags.get("too_long")))
            store.decide(candidate.id, candidate.version, verdict.decision, labels=verdict.labels, actor=actor)
            counts[verdict.decision] += 1
            for label in verdict.labels:
                counts[label] += 1
        return counts
