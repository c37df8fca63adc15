"""The one record type that crosses the parser boundary, and what a parser hands on with it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

# Kinds, in the order a post is classified (first that applies wins).
REPOST = "repost"
REPLY = "reply"  # a reply to someone else's post
THREAD = "thread"  # a reply to the owner's own post: a thread continuation, the owner's words to their own audience
COMMUNITY = "community"
QUOTE = "quote"
ORIGINAL = "original"
KINDS = (ORIGINAL, QUOTE, COMMUNITY, THREAD, REPLY, REPOST)

# Why a post read from an archive is not one of the owner's current posts at all.
DELETED = "deleted"
EDIT_SUPERSEDED = "edit_superseded"


@dataclass(slots=True)
class Post:
    """One post as its owner wrote it.

    ``text`` has t.co links replaced by the links they stand for, media links removed, HTML
    entities unescaped, the full note text for long posts, and (for replies) the leading
    ``@handle`` s the client adds taken off.  ``created_at`` is timezone-aware UTC.
    ``dropped`` is set by the parser for posts that are in the archive but are not the
    owner's current published posts (deleted, an earlier version of an edited post).
    """

    id: str
    created_at: datetime
    text: str
    likes: int
    reposts: int
    kind: str = ORIGINAL
    has_media: bool = False
    has_link: bool = False
    is_quote: bool = False
    is_community: bool = False
    lang: str = ""
    source: str = ""
    reply_to_id: str = ""
    dropped: str = ""


@dataclass
class ArchiveData:
    """What a parser hands on: the posts plus what is known about the archive."""

    posts: list[Post]
    input_type: str = "x-archive"
    handle: str = ""
    display_name: str = ""
    generated_at: datetime | None = None
    files: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)


def mark_threads(posts: dict[str, Post]) -> int:
    """Make every reply that answers one of these posts a thread continuation; return how many changed.

    The posts are all the owner's, so a reply to one of them is the owner continuing their own
    thread, whatever the reply's user fields say (some exports leave them out).
    """
    changed = 0
    for post in posts.values():
        if post.kind == REPLY and post.reply_to_id and post.reply_to_id in posts:
            post.kind = THREAD
            changed += 1
    return changed
