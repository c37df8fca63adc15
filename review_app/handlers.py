"""The review app's server side: every button is one of these functions over the store.

They take plain values and return plain values (no Gradio here), so they are tested directly;
``review_app.app`` wires them to the page. All state lives in the store: a handler is told the
candidate id and the version the page showed, and the store refuses a change to a candidate that
moved on since.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from archive_parsers.x_text import parse_iso_utc
from engage.review.store import Candidate, Conflict, ReviewStore, iso_z
from engage.stats import wilson

ACTIONS = ("approve", "reject", "skip", "undo")


@dataclass
class CandidateView:
    """What the queue shows: one candidate (or none), plus a message about the last action."""

    id: int | None = None
    version: int = 0
    text: str = ""
    flags: str = ""
    nearest: str = ""
    nearest_title: str = "Nearest of your posts"
    model: str = ""
    labels: list[str] = field(default_factory=list)
    note: str = ""
    progress: str = ""
    message: str = ""
    warning: bool = False  # the last action was refused (the page shows the message as a warning too)


def describe_flags(c: Candidate) -> str:
    f = c.flags
    parts = []
    if f.get("near_copy"):
        parts.append(f"NEAR COPY of your post {c.nearest_post_id} ({c.nearest_similarity:.0%} alike)")
    if f.get("mentions"):
        parts.append("mentions " + " ".join(f["mentions"]))
    if f.get("urls"):
        parts.append("links " + " ".join(f["urls"]))
    if f.get("hashtags"):
        parts.append("hashtags " + " ".join(f["hashtags"]))
    if f.get("too_long"):
        parts.append(f"too long: {f.get('length')} characters as X counts them")
    return " · ".join(parts) if parts else "none"


def _progress(store: ReviewStore) -> str:
    pending = store.count("pending")
    return f"{pending} pending · {store.count('approved')} approved · {store.count('rejected')} rejected"


def view_of(store: ReviewStore, c: Candidate | None, message: str = "", warning: bool = False) -> CandidateView:
    if c is None:
        return CandidateView(progress=_progress(store), message=message or "Nothing left to review.", warning=warning)
    nearest_title = "Nearest of your posts"
    if c.nearest_post_id is not None:
        nearest_title = f"Nearest of your posts: {c.nearest_post_id} ({c.nearest_similarity:.0%} alike)"
    return CandidateView(
        id=c.id,
        version=c.version,
        text=c.current_text,
        flags=describe_flags(c),
        nearest=c.nearest_post_text or "",
        nearest_title=nearest_title,
        model=f"{c.model_label} · candidate {c.id} · {c.created_at}",
        labels=list(c.labels),
        note=c.note,
        progress=_progress(store),
        message=message,
        warning=warning,
    )


def show_next(store: ReviewStore, message: str = "", warning: bool = False) -> CandidateView:
    return view_of(store, store.next_pending(), message, warning)


def act(
    store: ReviewStore,
    action: str,
    candidate_id: int | None,
    version: int,
    text: str = "",
    labels: list[str] | None = None,
    note: str = "",
    actor: str = "owner",
) -> CandidateView:
    """Approve / reject (saving edit, labels, note with it), skip, or undo; then show what comes next."""
    if action not in ACTIONS:
        raise ValueError(action)
    if action == "undo":
        try:
            back = store.undo(actor)
        except Conflict as exc:
            return show_next(store, f"Cannot undo: {exc}", warning=True)
        if back is None:
            return show_next(store, "Nothing to undo.")
        return view_of(store, back, f"Undone: candidate {back.id} is pending again.")
    if candidate_id is None:
        return show_next(store)
    if action == "skip":
        store.skip(int(candidate_id), actor)
        return show_next(store, f"Skipped candidate {candidate_id}; it comes back at the end of the queue.")
    decision = "approved" if action == "approve" else "rejected"
    try:
        c = store.decide(
            int(candidate_id), int(version), decision, text=text, labels=labels or [], note=note, actor=actor
        )
    except Conflict as exc:
        return show_next(store, f"Not saved: {exc}.", warning=True)
    except ValueError as exc:
        return view_of(store, store.get(int(candidate_id)), f"Not saved: {exc}.", warning=True)
    edited = " (edited; the original is kept)" if c.edited else ""
    return show_next(store, f"{decision.capitalize()} candidate {c.id}{edited}.")


@dataclass
class PairView:
    """Two candidates for one prompt, shown blind: the page shows texts only; models are named after the choice."""

    left_id: int | None = None
    right_id: int | None = None
    prompt: str = ""
    left: str = ""
    right: str = ""
    left_model: str = ""
    right_model: str = ""
    message: str = ""
    warning: bool = False


def _swap_sides(a: Candidate, b: Candidate) -> bool:
    """Which side each candidate goes on: fixed per pair (a reload shows the same) but not by id or model order."""
    return hashlib.sha256(f"{a.id}:{b.id}".encode()).digest()[0] & 1 == 1


def show_pair(store: ReviewStore, message: str = "", warning: bool = False) -> PairView:
    pair = store.compare_pair()
    if pair is None:
        return PairView(message=message or "No two candidates for the same prompt are left to compare.")
    a, b = pair
    if _swap_sides(a, b):
        a, b = b, a
    return PairView(
        a.id, b.id, a.prompt, a.current_text, b.current_text, a.model_label, b.model_label, message, warning
    )


def choose(
    store: ReviewStore, left_id: int | None, right_id: int | None, choice: str, actor: str = "owner"
) -> PairView:
    if left_id is None or right_id is None:
        return show_pair(store)
    try:
        store.compare(int(left_id), int(right_id), choice, actor)
    except Conflict as exc:
        return show_pair(store, f"Not saved: {exc}.", warning=True)
    said = {"left": f"{left_id} is better", "right": f"{right_id} is better", "tie": "a tie"}[choice]
    left, right = store.get(int(left_id)), store.get(int(right_id))
    reveal = f"Left ({left.id}) was {left.model_label}, right ({right.id}) was {right.model_label}"
    return show_pair(store, f"Saved: {said}. {reveal}.")


APPROVED_HEADERS = ["id", "model", "decided", "published", "text"]


def approved_rows(store: ReviewStore) -> list[list]:
    return [
        [c.id, c.model_label, c.decided_at, c.published_ref or "", c.current_text]
        for c in store.candidates("approved", order="decided")
    ]


def approved_one(store: ReviewStore, candidate_id: int | None) -> tuple[str, int, str]:
    """(text, version, message) of one approved candidate, for copying and marking published."""
    if candidate_id is None:
        return "", 0, ""
    try:
        c = store.get(int(candidate_id))
    except KeyError:
        return "", 0, f"There is no candidate {candidate_id}."
    if c.status != "approved":
        return "", 0, f"Candidate {c.id} is {c.status}, not approved."
    published = f" Published: {c.published_ref} at {c.published_at}." if c.published_ref else ""
    return c.current_text, c.version, f"Candidate {c.id}, approved {c.decided_at}.{published}"


def parse_time(text: str) -> str | None:
    """An ISO 8601 time as UTC ``…Z``; None for empty (meaning now). Raises ValueError when unreadable."""
    text = (text or "").strip()
    return iso_z(parse_iso_utc(text)) if text else None


def publish(
    store: ReviewStore, candidate_id: int | None, version: int, ref: str, when: str = "", actor: str = "owner"
) -> str:
    if candidate_id is None:
        return "Pick an approved candidate first."
    try:
        at = parse_time(when)
    except ValueError:
        return (
            f"Not saved: {when!r} is not a time; write ISO 8601 like 2024-11-16T11:33:22Z, or leave it empty for now."
        )
    try:
        c = store.publish(int(candidate_id), int(version), ref, at, actor)
    except (Conflict, ValueError) as exc:
        return f"Not saved: {exc}."
    return f"Marked candidate {c.id} published: {c.published_ref} at {c.published_at}."


STATS_HEADERS = [
    "model",
    "candidates",
    "decided",
    "approved",
    "rejected",
    "acceptance",
    "95% interval",
    "edited",
    "published",
]


def stats_rows(store: ReviewStore) -> tuple[list[list], list[str], list[list]]:
    """Per model label: counts and acceptance (approved / decided) with its 95% Wilson interval; label counts."""
    per_model = store.stats()
    rows = []
    for s in per_model:
        if s.decided:
            lo, hi = wilson(s.approved, s.decided)
            rate, interval = f"{s.approved / s.decided:.0%}", f"{lo:.0%} – {hi:.0%}"
        else:
            rate, interval = "–", "–"
        rows.append(
            [s.model_label, s.candidates, s.decided, s.approved, s.rejected, rate, interval, s.edited, s.published]
        )
    names = sorted({name for s in per_model for name in s.labels})
    label_rows = [[s.model_label, *(s.labels.get(n, 0) for n in names)] for s in per_model]
    return rows, ["model", *names], label_rows
