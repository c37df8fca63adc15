"""A plain post table from any platform: CSV, JSONL, Parquet."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from archive_parsers import ArchiveError, read_posts
from engage.dataset.build import BuildSettings, build_dataset

ROWS = [
    {
        "id": "a1",
        "created_at": "2024-01-01T10:00:00Z",
        "text": "first post https://example.org",
        "likes": 10,
        "reposts": 2,
    },
    {
        "id": "a2",
        "created_at": "2024-01-01T11:00:00+01:00",
        "text": "a reply",
        "likes": 1,
        "reposts": 0,
        "is_reply": "true",
    },
    {
        "id": "a3",
        "created_at": 1704110400,
        "text": "epoch seconds",
        "likes": 0,
        "reposts": 0,
        "kind": "quote",
        "has_media": 1,
    },
    {"id": "a4", "created_at": "not a date", "text": "bad row", "likes": 1, "reposts": 1},
    {"id": "a5", "created_at": "2024-01-02", "text": "naive date is UTC", "likes": "3", "reposts": "", "lang": "en"},
]


def write(tmp_path, fmt):
    if fmt == "csv":
        import csv

        path = tmp_path / "posts.csv"
        cols = ["id", "created_at", "text", "likes", "reposts", "is_reply", "kind", "has_media", "lang"]
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, cols)
            w.writeheader()
            for r in ROWS:
                w.writerow({c: r.get(c, "") for c in cols})
    elif fmt == "jsonl":
        path = tmp_path / "posts.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n{broken\n")
    else:
        path = tmp_path / "posts.parquet"
        cols = ["id", "created_at", "text", "likes", "reposts", "is_reply", "kind", "has_media", "lang"]
        pq.write_table(pa.table({c: [None if r.get(c) is None else str(r.get(c)) for r in ROWS] for c in cols}), path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_tables_read_with_kinds_times_and_counted_skips(tmp_path, fmt):
    data = read_posts(write(tmp_path, fmt))
    posts = {p.id: p for p in data.posts}
    assert set(posts) == {"a1", "a2", "a3", "a5"}
    assert data.counts["skipped_bad_item"] == (2 if fmt == "jsonl" else 1)
    assert posts["a1"].created_at == datetime(2024, 1, 1, 10, tzinfo=timezone.utc)
    assert posts["a2"].created_at == datetime(2024, 1, 1, 10, tzinfo=timezone.utc) and posts["a2"].kind == "reply"
    assert posts["a3"].kind == "quote" and posts["a3"].has_media
    assert posts["a5"].created_at == datetime(2024, 1, 2, tzinfo=timezone.utc) and posts["a5"].likes == 3
    assert data.input_type == "table"


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("id,text,likes\n1,hi,3\n")
    with pytest.raises(ArchiveError, match="created_at, reposts"):
        read_posts(path)


def test_table_builds_datasets(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = [
        {"id": str(i), "created_at": f"2024-02-{1 + i // 24:02d}T{i % 24:02d}:00:00Z", "text": f"post {i} about things", "likes": (i * 7) % 23, "reposts": i % 3}
        for i in range(200)
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows))
    stats = build_dataset(
        path, tmp_path / "out", BuildSettings(handle="me", min_age=__import__("datetime").timedelta(0))
    )
    assert stats["input"]["type"] == "table" and stats["as_of_source"] == "newest post"
    assert stats["counts"]["sft"]["train"] + stats["counts"]["sft"]["test"] == 20
    assert stats["counts"]["dpo"]["train"] > 0


def test_table_kind_thread_and_replies_to_own_posts_are_threads(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = [
        {"id": "1", "created_at": "2024-01-01T10:00:00Z", "text": "a thread starts", "likes": 5, "reposts": 0},
        {"id": "2", "created_at": "2024-01-01T10:01:00Z", "text": "and goes on", "likes": 1, "reposts": 0,
         "kind": "reply", "reply_to_id": "1"},
        {"id": "3", "created_at": "2024-01-01T10:02:00Z", "text": "said so", "likes": 1, "reposts": 0, "kind": "thread"},
        {"id": "4", "created_at": "2024-01-01T10:03:00Z", "text": "flagged", "likes": 1, "reposts": 0, "is_thread": 1},
        {"id": "5", "created_at": "2024-01-01T10:04:00Z", "text": "to a stranger", "likes": 1, "reposts": 0,
         "is_reply": True, "reply_to_id": "999"},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows))
    data = read_posts(path)
    assert {p.id: p.kind for p in data.posts} == {
        "1": "original",
        "2": "thread",
        "3": "thread",
        "4": "thread",
        "5": "reply",
    }
