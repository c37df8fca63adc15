"""A plain table of posts from any platform: CSV, JSONL or Parquet.

Required columns: ``id``, ``created_at`` (ISO 8601, or Unix seconds), ``text``, ``likes``,
``reposts``. Optional: ``kind`` (original, quote, community, thread, reply, repost) or the flags
``is_reply``, ``is_thread``, ``is_repost``, ``is_quote``; ``has_media``, ``has_link``, ``lang``,
``reply_to_id``. A reply whose ``reply_to_id`` is another post in the table is a thread
continuation (kind ``thread``): the owner answering their own post. Other columns are ignored. A row that cannot be read is skipped and counted.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from archive_parsers.errors import ArchiveError
from archive_parsers.post import (
    COMMUNITY,
    KINDS,
    ORIGINAL,
    QUOTE,
    REPLY,
    REPOST,
    THREAD,
    ArchiveData,
    Post,
    mark_threads,
)
from archive_parsers.x_text import fix_surrogates

REQUIRED = ("id", "created_at", "text", "likes", "reposts")
TABLE_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
_TRUE = {"1", "true", "yes", "y", "t"}


def _flag(value) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, (int, float)):
        return value != 0
    return str(value).strip().lower() in _TRUE


def _time(value) -> datetime:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)) or (
        isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit()
    ):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    else:
        dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _count(value) -> int:
    if value is None or value == "":
        return 0
    n = int(float(value))
    if n < 0:
        raise ValueError("negative count")
    return n


def row_to_post(row: dict, source: str) -> Post:
    pid = str(row["id"]).strip()
    if not pid or pid.lower() in ("nan", "none"):
        raise ValueError("missing id")
    if pid.endswith(".0") and pid[:-2].isdigit():
        raise ValueError("id stored as a float; write ids as text")
    kind = str(row.get("kind") or "").strip().lower()
    if kind and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    is_quote = _flag(row.get("is_quote")) or kind == QUOTE
    if not kind:
        if _flag(row.get("is_repost")):
            kind = REPOST
        elif _flag(row.get("is_thread")):
            kind = THREAD
        elif _flag(row.get("is_reply")):
            kind = REPLY
        elif _flag(row.get("is_community")):
            kind = COMMUNITY
        elif is_quote:
            kind = QUOTE
        else:
            kind = ORIGINAL
    text = row["text"]
    return Post(
        id=pid,
        created_at=_time(row["created_at"]),
        text=fix_surrogates("" if text is None else str(text)).strip(),
        likes=_count(row["likes"]),
        reposts=_count(row["reposts"]),
        kind=kind,
        has_media=_flag(row.get("has_media")),
        has_link=_flag(row.get("has_link")),
        is_quote=is_quote,
        is_community=kind == COMMUNITY or _flag(row.get("is_community")),
        lang=str(row.get("lang") or ""),
        source=source,
        reply_to_id=str(row.get("reply_to_id") or ""),
    )


def _rows(path: Path, fmt: str) -> Iterator[tuple[list[str] | None, dict | None]]:
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            reader = csv.DictReader(fh)
            yield list(reader.fieldnames or []), None
            for row in reader:
                yield None, row
    elif fmt == "jsonl":
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            seen_columns = False
            for line in fh:
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    row = None
                if not seen_columns:
                    if not isinstance(row, dict):
                        raise ArchiveError(f"{path} is not JSON Lines (its first line is not a JSON object)")
                    yield list(row), None
                    seen_columns = True
                yield None, row if isinstance(row, dict) else None
            if not seen_columns:
                yield [], None
    else:
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise ArchiveError(f"{path} is not a readable Parquet file ({exc})") from None
        yield list(pf.schema_arrow.names), None
        for batch in pf.iter_batches(batch_size=65536):
            yield from ((None, r) for r in batch.to_pylist())


def read_post_table(path: Path) -> ArchiveData:
    fmt = TABLE_SUFFIXES[path.suffix.lower()]
    counts: Counter = Counter()
    posts: dict[str, Post] = {}
    rows = _rows(path, fmt)
    try:
        columns, _ = next(rows)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ArchiveError(f"{path} is not a readable {fmt.upper()} table ({exc})") from None
    missing = [c for c in REQUIRED if c not in (columns or [])]
    if missing:
        raise ArchiveError(f"{path} lacks the column(s) {', '.join(missing)}; a post table needs {', '.join(REQUIRED)}")
    try:
        for _, row in rows:
            counts["items_read"] += 1
            if row is None:
                counts["skipped_bad_item"] += 1
                continue
            try:
                post = row_to_post(row, path.name)
            except (KeyError, ValueError, TypeError, OverflowError):
                counts["skipped_bad_item"] += 1
                continue
            if post.id in posts:
                counts["duplicate_ids"] += 1
                continue
            posts[post.id] = post
    except csv.Error as exc:
        raise ArchiveError(f"{path} is not a readable CSV table ({exc})") from None
    if not posts:
        raise ArchiveError(f"{path} holds no readable posts; nothing to build a dataset from")
    if threads := mark_threads(posts):
        counts["replies_to_own_posts"] = threads
    counts["files_read"] = 1
    return ArchiveData(posts=list(posts.values()), input_type="table", files=[path.name], counts=counts)
