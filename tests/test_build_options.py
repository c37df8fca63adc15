"""build-dataset's options and data rules seen from the command line, on small hand-made inputs whose right
answer is known: each test fails if the option is ignored or the rule is off by one."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq
from conftest import js, run_engage, tweet, write_zip

START = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
AS_OF = "2025-01-01T00:00:00Z"  # every post is long settled


def write_table(path: Path, posts: list[dict]) -> Path:
    path.write_text("".join(json.dumps(p) + "\n" for p in posts), encoding="utf-8")
    return path


def filler(n: int, start: datetime = START) -> list[dict]:
    """Ordinary posts two days apart (too far to pair with anything), 1 like each."""
    return [
        {"id": str(1000 + i), "created_at": (start + timedelta(days=2 * i)).isoformat(), "text": f"ordinary post {i}",
         "likes": 1, "reposts": 0}
        for i in range(n)
    ]  # fmt: skip


def build(archive: Path, out: Path, *options: str) -> Path:
    proc = run_engage(
        "build-dataset", archive, "--out", out, "--as-of", AS_OF, "--handle", "owner", "--quiet", *options
    )
    assert proc.returncode == 0, proc.stderr
    return out


def rows(out: Path, kind: str) -> list[dict]:
    return [
        json.loads(line) for s in ("train", "test") for line in (out / kind / f"{s}.jsonl").read_text().splitlines()
    ]


def test_like_and_repost_weights_set_the_score_and_the_sft_set(tmp_path):
    posts = filler(18, START + timedelta(days=1))
    posts += [
        {"id": "1", "created_at": START.isoformat(), "text": "much liked", "likes": 100, "reposts": 0},
        {"id": "2", "created_at": (START + timedelta(hours=12)).isoformat(), "text": "much reposted", "likes": 0,
         "reposts": 50},
    ]  # fmt: skip
    table = write_table(tmp_path / "posts.jsonl", posts)
    for like_w, repost_w, top in (("1", "3", "much reposted"), ("5", "1", "much liked"), ("0", "1", "much reposted")):
        out = build(table, tmp_path / f"out-{like_w}-{repost_w}", "--like-weight", like_w, "--repost-weight", repost_w,
                    "--top-fraction", "0.05")  # fmt: skip
        scored = pq.read_table(out / "posts.parquet").to_pylist()
        for r in scored:
            assert r["score"] == float(like_w) * r["likes"] + float(repost_w) * r["reposts"], (like_w, repost_w, r)
        other = ({"much liked", "much reposted"} - {top}).pop()
        completions = [r["completion"] for r in rows(out, "sft")]
        assert top in completions and other not in completions, (like_w, repost_w, completions)


def test_posts_exactly_window_apart_are_paired_and_a_second_more_are_not(tmp_path):
    t = START
    posts = filler(16, START + timedelta(days=3)) + [
        {"id": "1", "created_at": t.isoformat(), "text": "the better post", "likes": 40, "reposts": 0},
        {"id": "2", "created_at": (t + timedelta(minutes=90)).isoformat(), "text": "the weaker post", "likes": 1,
         "reposts": 0},
        {"id": "3", "created_at": (t + timedelta(days=1)).isoformat(), "text": "another good one", "likes": 40,
         "reposts": 0},
        {"id": "4", "created_at": (t + timedelta(days=1, minutes=90, seconds=1)).isoformat(), "text": "just too late",
         "likes": 1, "reposts": 0},
    ]  # fmt: skip
    out = build(write_table(tmp_path / "posts.jsonl", posts), tmp_path / "out", "--window", "90m", "--adjust", "none",
                "--match", "none")  # fmt: skip
    pairs = {(r["chosen_id"], r["rejected_id"]): r for r in rows(out, "dpo")}
    assert ("1", "2") in pairs and pairs[("1", "2")]["seconds_apart"] == 90 * 60, "exactly --window apart is within it"
    assert not any("4" in key for key in pairs), "90 minutes and a second is outside a 90-minute window"


def _x_time(dt: datetime) -> str:
    return dt.strftime("%a %b %d %H:%M:%S +0000 %Y")


def test_superseded_edit_versions_never_become_training_data(tmp_path):
    """An edited post's earlier versions are in the archive with their own counts; only the final one is the owner's."""
    ids = ["1712845356000485462", "1712845999000485462", "1712846999000485462"]
    t = START
    chain = [
        tweet(ids[0], "Frist version, with a typo", _x_time(t), likes=900, reposts=90,
              edit_info={"initial": {"editTweetIds": ids}}),
        tweet(ids[1], "Second version, still wrong", _x_time(t + timedelta(minutes=1)), likes=800, reposts=80,
              edit_info={"edit": {"initialTweetId": ids[0]}}),
        tweet(ids[2], "Final version", _x_time(t + timedelta(minutes=2)), likes=3, reposts=0,
              edit_info={"edit": {"initialTweetId": ids[0]}}),
    ]  # fmt: skip
    others = [
        tweet(str(1712000000000000000 + i), f"ordinary post {i}", _x_time(t + timedelta(days=1 + 2 * i, minutes=i)),
              likes=i % 5, reposts=0)
        for i in range(30)
    ]  # fmt: skip
    archive = write_zip(
        tmp_path / "a.zip", {"data/tweets.js": js("YTD.tweets.part0", [{"tweet": x} for x in chain + others])}
    )
    out = build(
        archive, tmp_path / "out", "--handle", "owner", "--window", "10m", "--match", "none", "--adjust", "none"
    )
    texts = {r["completion"] for r in rows(out, "sft")}
    texts |= {r[side] for r in rows(out, "dpo") for side in ("chosen", "rejected")}
    assert not texts & {"Frist version, with a typo", "Second version, still wrong"}
    assert "Final version" in {r["text"] for r in pq.read_table(out / "posts.parquet").to_pylist() if r["kept"]}
    reasons = {r["id"]: r["reason"] for r in pq.read_table(out / "posts.parquet").to_pylist()}
    assert reasons[ids[0]] == reasons[ids[1]] == "edit_superseded" and reasons[ids[2]] is None
