"""The X (Twitter) data archive, every era: zip or unpacked folder.

Only the post files, the manifest and the account file are ever opened; direct messages,
e-mail, phone and IP logs in the same archive are never read.
"""

from __future__ import annotations

import bisect
import gc
import multiprocessing
import os
import re
import signal
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from archive_parsers.errors import ArchiveError
from archive_parsers.jsfile import iter_items, read_object
from archive_parsers.post import (
    COMMUNITY,
    DELETED,
    EDIT_SUPERSEDED,
    ORIGINAL,
    QUOTE,
    REPLY,
    REPOST,
    THREAD,
    ArchiveData,
    Post,
    mark_threads,
)
from archive_parsers.source import ArchiveSource, open_source, safe_name
from archive_parsers.x_text import (
    is_quote_url,
    note_text,
    parse_x_time,
    snowflake_ms,
    tweet_text,
)

# File roles, by the manifest's dataTypes key and by file name (older and newer spellings).
TWEETS, NOTES, COMMUNITY_POSTS, DELETED_POSTS = "tweets", "notes", "community", "deleted"
_MANIFEST_KEYS = {
    "tweets": TWEETS,
    "tweet": TWEETS,
    "noteTweet": NOTES,
    "communityTweet": COMMUNITY_POSTS,
    "deletedTweets": DELETED_POSTS,
    "deletedTweet": DELETED_POSTS,
}
_FILE_PATTERNS = [
    (re.compile(r"tweets?(?:-part\d+)?\.js"), TWEETS),
    (re.compile(r"note-tweet(?:-part\d+)?\.js"), NOTES),
    (re.compile(r"community-tweet(?:-part\d+)?\.js"), COMMUNITY_POSTS),
    (re.compile(r"deleted-tweets?(?:-part\d+)?\.js"), DELETED_POSTS),
]
_ROLE_ORDER = {TWEETS: 0, COMMUNITY_POSTS: 1, DELETED_POSTS: 2, NOTES: 3}
# A note's post is created a few to ~40 ms after the note; allow generous slack.
_NOTE_MATCH_MS = 5000
_URL = re.compile(r"https?://\S+")


def _role(name: str) -> str | None:
    base = PurePosixPath(name).name
    for pattern, role in _FILE_PATTERNS:
        if pattern.fullmatch(base):
            return role
    return None


def _find_root(names: list[str]) -> str:
    """The folder (inside the source) that plays the archive's root: holds data/ or, in 2019, the files."""
    by_depth = sorted(names, key=lambda n: n.count("/"))
    for n in by_depth:
        p = PurePosixPath(n)
        if p.name == "manifest.js" or _role(n) == TWEETS:
            parent = p.parent
            if parent.name == "data":
                parent = parent.parent
            return "" if str(parent) == "." else str(parent) + "/"
    return ""


def _dict(obj, key: str) -> dict:
    """``obj[key]`` when both are dicts, else an empty dict: a manifest of the wrong shape is ignored, not fatal."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


class _XReader:
    def __init__(self, source: ArchiveSource) -> None:
        self.source = source
        self.names = set(source.names())
        self.root = _find_root(sorted(self.names))
        self.counts: Counter = Counter()
        if source.unsafe_names:
            self.counts["members_ignored_unsafe_name"] = source.unsafe_names

    def read_manifest(self) -> dict | None:
        for cand in (self.root + "data/manifest.js", self.root + "manifest.js"):
            if cand in self.names:
                with self.source.open(cand) as fh:
                    obj = read_object(fh, cand)
                if not isinstance(obj, dict):
                    raise ArchiveError(f"{cand} is not an archive manifest; is it damaged?")
                return obj
        return None

    def read_account(self) -> dict:
        for cand in (self.root + "data/account.js", self.root + "account.js"):
            if cand in self.names:
                with self.source.open(cand) as fh:
                    obj = read_object(fh, cand)
                try:
                    acc = obj[0]["account"]
                    return {
                        "username": str(acc.get("username", "")),
                        "displayName": str(acc.get("accountDisplayName", "")),
                        "accountId": str(acc.get("accountId", "")),
                    }
                except (KeyError, IndexError, TypeError, AttributeError):
                    return {}
        return {}

    def post_files(self, manifest: dict | None) -> list[tuple[str, str]]:
        files: dict[str, str] = {}
        types = _dict(manifest, "dataTypes")
        for key, role in _MANIFEST_KEYS.items():
            listed = _dict(types, key).get("files")
            for f in listed if isinstance(listed, list) else []:
                f = f if isinstance(f, dict) else {}
                raw = safe_name(str(f.get("fileName") or ""))
                if raw is None:
                    if f.get("fileName"):
                        self.counts["manifest_entries_ignored"] += 1
                    continue
                name = self.root + raw
                if name not in self.names:
                    if str(f.get("count", "1")).strip() == "0":
                        continue
                    raise ArchiveError(
                        f"the archive's manifest lists {raw} but the archive does not hold it; "
                        "the download looks incomplete: download the archive again"
                    )
                files[name] = role
        for name in self.names:
            rel = name[len(self.root) :] if name.startswith(self.root) else None
            if rel is None or rel.count("/") > 1 or (rel.count("/") == 1 and not rel.startswith("data/")):
                continue
            role = _role(name)
            if role is not None and name not in files:
                files[name] = role
        return sorted(files.items(), key=lambda kv: (_ROLE_ORDER[kv[1]], _part_key(kv[0])))


def _part_key(name: str) -> tuple:
    m = re.fullmatch(r"(.*?)(?:-part(\d+))?\.js", name)
    return (m.group(1), int(m.group(2) or 0)) if m else (name, 0)


def _unwrap(item, key: str) -> dict | None:
    if not isinstance(item, dict):
        return None
    inner = item.get(key)
    if isinstance(inner, dict):
        return inner
    return item if "id_str" in item or "id" in item or "noteTweetId" in item else None


def _chain_head(t: dict) -> str | None:
    """The first id of the edit chain a post belongs to, or None if it was never edited."""
    info = t.get("edit_info")
    if not isinstance(info, dict):
        return None
    initial = info.get("initial")
    if isinstance(initial, dict):
        ids = initial.get("editTweetIds") or ()
        return str(min(ids, key=int)) if len(ids) > 1 else None
    edit = info.get("edit")
    if isinstance(edit, dict) and edit.get("initialTweetId"):
        return str(edit["initialTweetId"])
    return None


@dataclass(frozen=True)
class Owner:
    """The archive's account: a reply to it is a thread continuation."""

    account_id: str = ""
    handle: str = ""

    def wrote_parent(self, t: dict) -> bool:
        """Whether a reply item answers the owner (by user id, or by screen name, case-insensitive)."""
        uid = str(t.get("in_reply_to_user_id_str") or t.get("in_reply_to_user_id") or "")
        if self.account_id and uid:
            return uid == self.account_id
        name = str(t.get("in_reply_to_screen_name") or "")
        return bool(self.handle and name) and name.casefold() == self.handle.casefold()


def tweet_to_post(t: dict, source: str, community: bool, owner: Owner = Owner()) -> Post:
    """One item of tweets.js (or community-tweet.js) as a Post. Raises ValueError/KeyError/TypeError on a bad item."""
    get = t.get
    pid = str(get("id_str") or get("id") or "")
    if not pid.isdigit():
        raise ValueError("missing_id")
    created = parse_x_time(t["created_at"])
    full = get("full_text")
    if full is None:
        full = get("text") or ""
    full = str(full)
    entities = get("entities") or {}
    urls = entities.get("urls") or ()
    media = entities.get("media") or (get("extended_entities") or {}).get("media") or ()
    reply_to = str(get("in_reply_to_status_id_str") or get("in_reply_to_status_id") or "")
    is_reply = bool(reply_to or get("in_reply_to_user_id_str") or get("in_reply_to_user_id"))
    is_repost = full.startswith("RT @")
    is_quote = has_link = False
    for u in urls:
        if is_quote_url(str(u.get("expanded_url") or "")):
            is_quote = True
        else:
            has_link = True
    is_quote = is_quote or bool(get("quoted_status_id_str"))
    if is_repost:
        kind = REPOST
    elif is_reply:
        kind = THREAD if owner.wrote_parent(t) else REPLY
    elif community:
        kind = COMMUNITY
    elif is_quote:
        kind = QUOTE
    else:
        kind = ORIGINAL
    return Post(
        pid,
        created,
        tweet_text(full, urls, media, is_reply and not is_repost),
        int(get("favorite_count") or 0),
        int(get("retweet_count") or 0),
        kind,
        bool(media),
        has_link,
        is_quote,
        community,
        str(get("lang") or ""),
        source,
        reply_to,
    )


def _norm_prefix(text: str) -> str:
    return " ".join(_URL.sub(" ", text).replace("…", " ").split()).casefold()


def _note_fits(post: Post, note: str) -> bool:
    """Whether a post's cut text is the start of this note (links, ellipsis, spacing and case aside).

    Guards the id rule: a note whose own post is missing (deleted) must not land on the
    neighbouring post; it stays unmatched and is counted instead.
    """
    head = _norm_prefix(post.text)[:40]
    return not head or _norm_prefix(note).startswith(head)


@dataclass
class _FileResult:
    """What one post file holds, before posts from all files are merged."""

    posts: list[Post] = field(default_factory=list)
    chain_heads: list[str | None] = field(default_factory=list)  # per post: its edit chain, if edited
    notes: list[tuple[int, str]] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    # Sent back from worker processes as columns: pickling 70k record objects (and their
    # datetimes) costs ~0.8 s, plain columns ~0.1 s. X times are whole seconds, so the float
    # timestamps round-trip exactly.
    def __getstate__(self) -> dict:
        columns = {name: [getattr(p, name) for p in self.posts] for name in _POST_FIELDS}
        columns["created_at"] = [p.created_at.timestamp() for p in self.posts]
        return {"columns": columns, "chain_heads": self.chain_heads, "notes": self.notes, "counts": self.counts}

    def __setstate__(self, state: dict) -> None:
        columns = state["columns"]
        columns["created_at"] = [datetime.fromtimestamp(t, timezone.utc) for t in columns["created_at"]]
        self.posts = [Post(*row) for row in zip(*(columns[name] for name in _POST_FIELDS))]
        self.chain_heads, self.notes, self.counts = state["chain_heads"], state["notes"], state["counts"]


_POST_FIELDS = [f.name for f in fields(Post)]


def _read_file(source: ArchiveSource, name: str, role: str, owner: Owner, on_bytes=None) -> _FileResult:
    out = _FileResult()
    counts = out.counts
    counts["files_read"] += 1
    with source.open(name, on_bytes) as fh:
        for item in iter_items(fh, name):
            counts["items_read"] += 1
            if role == NOTES:
                note = _unwrap(item, "noteTweet")
                try:
                    core = note["core"]
                    out.notes.append((int(note["noteTweetId"]), note_text(str(core["text"]), core.get("urls") or [])))
                except (KeyError, TypeError, ValueError):
                    counts["skipped_bad_note"] += 1
                continue
            t = _unwrap(item, "tweet")
            if t is None:
                counts["skipped_bad_item"] += 1
                continue
            try:
                post = tweet_to_post(t, name, community=role == COMMUNITY_POSTS, owner=owner)
                head = _chain_head(t) if "edit_info" in t else None
            except (KeyError, ValueError, TypeError, AttributeError, IndexError, OverflowError):
                counts["skipped_bad_item"] += 1
                continue
            out.posts.append(post)
            out.chain_heads.append(head)
    return out


def _worker_init() -> None:
    # Ctrl-C is the main process's to handle; the worker's records make no reference cycles.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()


def _read_file_alone(job: tuple[str, str, str, Owner]) -> _FileResult:
    """Read one post file in a worker process, with its own handle on the archive."""
    path, name, role, owner = job
    source = open_source(Path(path))
    try:
        return _read_file(source, name, role, owner)
    finally:
        source.close()


# Post files are parsed in parallel worker processes when there is enough to gain.
PARALLEL_MIN_BYTES = 48 * 1024**2


def _file_results(
    path: Path, source: ArchiveSource, files: list[tuple[str, str]], owner: Owner, on_bytes
) -> Iterator[_FileResult]:
    """Each post file's result, in file order."""
    sizes = [source.size(n) for n, _ in files]
    workers = min(os.cpu_count() or 1, len(files))
    # Workers are forked: a spawned worker re-imports the caller's __main__, which breaks for
    # code run from a notebook, stdin or a script without a main guard. Fork is safe on Linux
    # here (the parent runs no other threads while it reads); elsewhere the read is serial.
    if workers < 2 or sum(sizes) < PARALLEL_MIN_BYTES or sys.platform != "linux":
        for name, role in files:
            yield _read_file(source, name, role, owner, on_bytes)
        return
    jobs = [(str(path), name, role, owner) for name, role in files]
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("fork"), initializer=_worker_init
    )
    try:
        for result, size in zip(pool.map(_read_file_alone, jobs), sizes):
            if on_bytes is not None:
                on_bytes(size)
            yield result
    except BaseException:
        # An error in one file or Ctrl-C: stop the rest now instead of parsing every other file.
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            proc.terminate()
        raise
    finally:
        pool.shutdown(wait=True)


def read_x_archive(
    path: Path, on_bytes: Callable[[int], None] | None = None, on_total: Callable[[int], None] | None = None
) -> ArchiveData:
    source = open_source(path)
    try:
        return _read(path, source, on_bytes, on_total)
    finally:
        source.close()


def _read(path: Path, source: ArchiveSource, on_bytes, on_total) -> ArchiveData:
    reader = _XReader(source)
    counts = reader.counts
    manifest = reader.read_manifest()
    files = reader.post_files(manifest)
    if not any(role in (TWEETS, COMMUNITY_POSTS) for _, role in files):
        raise ArchiveError(
            f"no post files (data/tweets.js or tweet.js) in {source.label}; is this the X archive zip or its unpacked folder?"
        )
    if on_total is not None:
        on_total(sum(source.size(n) for n, _ in files))

    handle = display = account_id = ""
    generated_at = None
    if manifest is not None:
        user = _dict(manifest, "userInfo")
        handle, display = str(user.get("userName") or ""), str(user.get("displayName") or "")
        account_id = str(user.get("accountId") or "")
        gen = _dict(manifest, "archiveInfo").get("generationDate")
        if gen:
            try:
                generated_at = parse_x_time(str(gen))
            except ValueError:
                counts["manifest_bad_generation_date"] += 1
    if manifest is None or not account_id:
        acc = reader.read_account()
        handle, display = handle or acc.get("username", ""), display or acc.get("displayName", "")
        account_id = acc.get("accountId", "")
    owner = Owner(account_id, handle)

    posts: dict[str, Post] = {}
    notes: list[tuple[int, str]] = []
    chains: dict[str, list[str]] = {}
    for (_, role), result in zip(files, _file_results(path, source, files, owner, on_bytes)):
        counts.update(result.counts)
        notes += result.notes
        for post, head in zip(result.posts, result.chain_heads):
            if role == DELETED_POSTS:
                # Not the owner's published voice any more: keep the row, never the text.
                counts["deleted_posts"] += 1
                post = posts.setdefault(post.id, post)
                post.dropped, post.text = DELETED, ""
                continue
            if post.id in posts:
                counts["duplicate_ids"] += 1
                continue
            posts[post.id] = post
            if head is not None:
                chains.setdefault(head, []).append(post.id)

    # Edits: one post per chain, the last version (it carries the engagement).
    for head, ids in chains.items():
        members = set(ids)
        if head in posts:
            members.add(head)
        if len(members) < 2:
            continue
        last = max(members, key=int)
        for pid in members:
            if pid != last:
                posts[pid].dropped = EDIT_SUPERSEDED
                counts["edit_versions_superseded"] += 1

    # Long posts: the note's post is the one with the next higher id, created within seconds.
    if notes:
        order = sorted(posts, key=int)
        keys = [int(p) for p in order]
        taken: set[str] = set()
        for note_id, text in sorted(notes):
            i = bisect.bisect_right(keys, note_id)
            matched = False
            while i < len(keys) and snowflake_ms(keys[i]) - snowflake_ms(note_id) <= _NOTE_MATCH_MS:
                post = posts[order[i]]
                if order[i] not in taken and post.kind != REPOST and _note_fits(post, text):
                    if post.dropped != DELETED:
                        post.text = text
                    post.has_link = post.has_link or bool(_URL.search(text))
                    taken.add(order[i])
                    matched = True
                    break
                i += 1
            counts["notes_matched" if matched else "notes_unmatched"] += 1

    if not posts:
        raise ArchiveError(f"{source.label} holds no posts; nothing to build a dataset from")
    # A reply to a post of this archive is the owner's thread even when its user fields are missing.
    if late := mark_threads(posts):
        counts["threads_found_by_parent_id"] = late
    return ArchiveData(
        posts=list(posts.values()),
        handle=handle,
        display_name=display,
        generated_at=generated_at,
        files=[n for n, _ in files],
        counts=counts,
    )
