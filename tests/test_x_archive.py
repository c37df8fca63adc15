"""The X archive parser on every era and on each quirk in X_ARCHIVE.md."""

from __future__ import annotations

import zipfile
from datetime import datetime, timezone

import pytest
from conftest import js, manifest, tweet, write_zip

from archive_parsers import ArchiveError, read_posts
from archive_parsers.post import DELETED, EDIT_SUPERSEDED
from archive_parsers.source import ZipSource
from archive_parsers.x_text import SNOWFLAKE_EPOCH_MS


def by_id(data):
    return {p.id: p for p in data.posts}


@pytest.mark.parametrize("era", ["2019", "2021", "2024"])
@pytest.mark.parametrize("shape", ["zip", "folder"])
def test_every_era_reads_every_post_as_zip_and_folder(sample_archives, era, shape):
    zip_path, folder, truth = sample_archives[era]
    data = read_posts(zip_path if shape == "zip" else folder)
    posts = by_id(data)
    assert set(posts) == set(truth.kind), "every post written is read, none invented"
    for pid, kind in truth.kind.items():
        post = posts[pid]
        if kind == "repost":
            assert post.kind == "repost"
        elif kind == "reply":
            assert post.kind == "reply"
            assert not post.text.startswith("@"), "the client's leading @handles are not the owner's words"
        elif kind == "deleted":
            assert post.dropped == DELETED and post.text == ""
        elif kind == "edit_superseded":
            assert post.dropped == EDIT_SUPERSEDED
        elif kind in ("original", "quote", "community", "long", "edit_final"):
            assert post.dropped == ""
            assert "t.co/" not in post.text, "t.co links are resolved or removed"
            assert "&amp;" not in post.text and "&lt;" not in post.text, "HTML entities are unescaped"
    assert data.handle == "sample_owner"
    if era != "2019":
        assert data.generated_at is not None


def test_parts_are_all_read_through_the_manifest_and_without_it(tmp_path):
    items = [{"tweet": tweet(str(1000 + i), f"post {i}")} for i in range(6)]
    parts = {
        "data/tweets.js": js("YTD.tweets.part0", items[:2]),
        "data/tweets-part1.js": js("YTD.tweets.part1", items[2:4]),
        "data/tweets-part2.js": js("YTD.tweets.part2", items[4:]),
    }
    with_manifest = write_zip(tmp_path / "m.zip", {**parts, "data/manifest.js": manifest({"tweets": list(parts)})})
    without = write_zip(tmp_path / "g.zip", parts)
    for path in (with_manifest, without):
        assert sorted(p.text for p in read_posts(path).posts) == [f"post {i}" for i in range(6)]


def test_manifest_listing_a_missing_part_is_an_error_not_a_silent_loss(tmp_path):
    path = write_zip(
        tmp_path / "a.zip",
        {
            "data/tweets.js": js("YTD.tweets.part0", [{"tweet": tweet("1", "a")}]),
            "data/manifest.js": manifest({"tweets": ["data/tweets.js", "data/tweets-part1.js"]}),
        },
    )
    with pytest.raises(ArchiveError, match="tweets-part1.js"):
        read_posts(path)


def test_links_are_resolved_by_indices_on_the_escaped_text_then_unescaped(tmp_path):
    # "&amp;" is 5 code points in the escaped text and 1 after unescaping; the emoji is one code
    # point. Unescaping first, or counting UTF-16 units, would cut the link in the wrong place.
    text = "Tests &amp; data 😀 https://t.co/AbCdEf1234 &gt; all"
    start = text.index("https://t.co")
    t = tweet("1", text)
    t["entities"]["urls"] = [
        {
            "url": "https://t.co/AbCdEf1234",
            "expanded_url": "https://example.org/a?b=1&c=2",
            "indices": [str(start), str(start + 23)],
        }
    ]
    path = write_zip(tmp_path / "a.zip", {"data/tweets.js": js("YTD.tweets.part0", [{"tweet": t}])})
    (post,) = read_posts(path).posts
    assert post.text == "Tests & data 😀 https://example.org/a?b=1&c=2 > all"
    assert post.has_link and not post.is_quote


def test_media_link_removed_quote_flagged(tmp_path):
    media = tweet("1", "Look at this https://t.co/media12345")
    media["entities"]["media"] = [{"url": "https://t.co/media12345", "indices": ["13", "36"], "type": "photo"}]
    media["extended_entities"] = {"media": media["entities"]["media"]}
    quote = tweet("2", "So true https://t.co/quote12345")
    quote["entities"]["urls"] = [
        {
            "url": "https://t.co/quote12345",
            "expanded_url": "https://x.com/someone/status/123456789",
            "indices": ["8", "31"],
        }
    ]
    path = write_zip(
        tmp_path / "a.zip", {"data/tweets.js": js("YTD.tweets.part0", [{"tweet": media}, {"tweet": quote}])}
    )
    posts = by_id(read_posts(path))
    assert posts["1"].text == "Look at this" and posts["1"].has_media
    assert posts["2"].kind == "quote" and posts["2"].is_quote and not posts["2"].has_link


def test_reposts_replies_and_mention_replies(tmp_path):
    items = [
        tweet("1", "RT @other: their words, cut at 140 chars…"),
        tweet("2", "@alice @bob thanks, agreed", in_reply_to_status_id_str="99", in_reply_to_user_id_str="5"),
        tweet("3", "@carol old style reply", in_reply_to_user_id="7"),
        tweet("4", "@dave is great (not a reply)"),
    ]
    path = write_zip(tmp_path / "a.zip", {"data/tweets.js": js("YTD.tweets.part0", [{"tweet": t} for t in items])})
    posts = by_id(read_posts(path))
    assert posts["1"].kind == "repost"
    assert posts["2"].kind == "reply" and posts["2"].text == "thanks, agreed" and posts["2"].reply_to_id == "99"
    assert posts["3"].kind == "reply" and posts["3"].text == "old style reply"
    assert posts["4"].kind == "original" and posts["4"].text == "@dave is great (not a reply)"


def test_edit_chain_keeps_the_final_version_with_its_engagement(tmp_path):
    ids = ["1712845356000485462", "1712845999000485462", "1712846999000485462"]
    first = tweet(ids[0], "Frist version", edit_info={"initial": {"editTweetIds": ids}})
    middle = tweet(ids[1], "Second version", edit_info={"edit": {"initialTweetId": ids[0]}})
    last = tweet(ids[2], "Final version", likes=40, reposts=5, edit_info={"edit": {"initialTweetId": ids[0]}})
    other = tweet(
        "1712000000000000000", "Never edited", edit_info={"initial": {"editTweetIds": ["1712000000000000000"]}}
    )
    path = write_zip(
        tmp_path / "a.zip",
        {"data/tweets.js": js("YTD.tweets.part0", [{"tweet": t} for t in (middle, last, first, other)])},
    )
    data = read_posts(path)
    current = [p for p in data.posts if not p.dropped]
    assert sorted(p.text for p in current) == ["Final version", "Never edited"]
    assert by_id(data)[ids[2]].likes == 40
    assert data.counts["edit_versions_superseded"] == 2


def _id_at(ms: int, seq: int) -> str:
    return str(((ms - SNOWFLAKE_EPOCH_MS) << 22) | seq)


def test_long_post_gets_its_note_text_by_next_higher_id_even_in_same_second_threads(tmp_path):
    ms = 1_733_115_174_000  # 2024-12-02T04:52:54Z
    note_a, post_a = _id_at(ms, 1), _id_at(ms + 12, 2)
    note_b, post_b = _id_at(ms + 300, 3), _id_at(ms + 330, 4)
    long_a = "A" * 10 + " first long post, " + "words " * 60 + "the end of A."
    long_b = "B" * 10 + " second long post, " + "more " * 60 + "the end of B."
    items = [
        {"tweet": tweet(post_b, long_b[:270] + "…", created="Mon Dec 02 04:52:54 +0000 2024")},
        {"tweet": tweet(post_a, long_a[:270] + "…", created="Mon Dec 02 04:52:54 +0000 2024")},
    ]
    notes = [
        {"noteTweet": {"noteTweetId": note_a, "core": {"text": long_a, "urls": []}}},
        {"noteTweet": {"noteTweetId": note_b, "core": {"text": long_b + " https://t.co/xyz", "urls": [
            {"shortUrl": "https://t.co/xyz", "expandedUrl": "https://example.org/b", "fromIndex": str(len(long_b) + 1), "toIndex": str(len(long_b) + 17)}
        ]}}},
    ]  # fmt: skip
    path = write_zip(
        tmp_path / "a.zip",
        {"data/tweets.js": js("YTD.tweets.part0", items), "data/note-tweet.js": js("YTD.note_tweet.part0", notes)},
    )
    data = read_posts(path)
    posts = by_id(data)
    assert posts[post_a].text == long_a
    assert posts[post_b].text == long_b + " https://example.org/b"
    assert data.counts["notes_matched"] == 2


def test_community_posts_are_the_owners_and_deleted_posts_are_left_out_without_text(tmp_path):
    path = write_zip(
        tmp_path / "a.zip",
        {
            "data/tweets.js": js("YTD.tweets.part0", [{"tweet": tweet("1", "kept")}, {"tweet": tweet("2", "regret this")}]),
            "data/community-tweet.js": js("YTD.community_tweet.part0", [{"tweet": tweet("3", "in a community", community_id="9")}]),
            "data/deleted-tweets.js": js("YTD.deleted_tweets.part0", [
                {"tweet": tweet("2", "regret this", deleted_at="x")}, {"tweet": tweet("4", "gone", deleted_at="x")}]),
        },
    )  # fmt: skip
    posts = by_id(read_posts(path))
    assert posts["3"].kind == "community" and posts["3"].is_community and not posts["3"].dropped
    for pid in ("2", "4"):
        assert posts[pid].dropped == DELETED and posts[pid].text == ""


def test_2019_bare_items_at_zip_root_and_old_surrogate_escapes(tmp_path):
    body = '[ {\n  "id_str" : "5", "id" : "5", "created_at" : "Mon Jun 03 09:12:05 +0000 2019",\n' \
           '  "full_text" : "smile \\uD83D\\uDE00 and a lone \\uD83D half", "favorite_count" : "3", "retweet_count" : "1",\n' \
           '  "entities" : { "urls" : [ ] } \n} ]'  # fmt: skip
    path = write_zip(tmp_path / "a.zip", {"tweet.js": "window.YTD.tweet.part0 = " + body})
    (post,) = read_posts(path).posts
    assert post.text.startswith("smile 😀 and a lone ")
    post.text.encode("utf-8")  # a lone surrogate would fail here
    assert post.created_at == datetime(2019, 6, 3, 9, 12, 5, tzinfo=timezone.utc)
    assert (post.likes, post.reposts) == (3, 1)


def test_wrapped_zip_folder_is_found(tmp_path):
    path = write_zip(
        tmp_path / "a.zip", {"twitter-2024-11-16/data/tweets.js": js("YTD.tweets.part0", [{"tweet": tweet("1", "hi")}])}
    )
    assert [p.text for p in read_posts(path).posts] == ["hi"]


def test_only_post_files_manifest_and_account_are_ever_opened(sample_2024, monkeypatch):
    opened: list[str] = []
    original = ZipSource.open

    def spy(self, name, on_bytes=None):
        opened.append(name)
        return original(self, name, on_bytes)

    monkeypatch.setattr(ZipSource, "open", spy)
    with zipfile.ZipFile(sample_2024[0]) as zf:
        assert "data/direct-messages.js" in zf.namelist()
    read_posts(sample_2024[0])
    allowed = {
        "data/manifest.js",
        "data/account.js",
        "data/note-tweet.js",
        "data/community-tweet.js",
        "data/deleted-tweets.js",
    }
    assert opened and all(n in allowed or n.startswith("data/tweets") for n in opened), opened
    assert not any("direct-messages" in n or "tweet-headers" in n for n in opened)


def test_bad_items_inside_a_good_archive_are_counted_not_fatal(tmp_path):
    items = [
        {"tweet": tweet("1", "good")},
        {"tweet": {"full_text": "no id"}},
        {"tweet": tweet("3", "bad date", created="yesterday")},
        "not an object",
        {"tweet": tweet("5", "bad count", likes=0) | {"favorite_count": "many"}},
    ]
    path = write_zip(tmp_path / "a.zip", {"data/tweets.js": js("YTD.tweets.part0", items)})
    data = read_posts(path)
    assert [p.text for p in data.posts] == ["good"]
    assert data.counts["skipped_bad_item"] == 4


def test_unsafe_member_names_are_never_offered(tmp_path):
    path = write_zip(
        tmp_path / "a.zip",
        {
            "../../data/tweets.js": js("YTD.tweets.part0", [{"tweet": tweet("66", "evil")}]),
            "/abs/data/tweets.js": js("YTD.tweets.part0", [{"tweet": tweet("67", "evil")}]),
            "data/tweets.js": js("YTD.tweets.part0", [{"tweet": tweet("1", "fine")}]),
        },
    )
    data = read_posts(path)
    assert [p.text for p in data.posts] == ["fine"]
    assert data.counts["members_ignored_unsafe_name"] == 2


def test_a_manifest_of_the_wrong_shape_falls_back_to_file_names(tmp_path):
    posts = js("YTD.tweets.part0", [{"tweet": tweet("1", "hello")}])
    for body in ('window.__THAR_CONFIG = {"dataTypes": [1, 2], "userInfo": "x", "archiveInfo": {"generationDate": "soon"}}',
                 'window.__THAR_CONFIG = {"dataTypes": {"tweets": {"files": [{"fileName": "../../etc/passwd", "count": "x"}, 7]}}}'):  # fmt: skip
        path = write_zip(tmp_path / "a.zip", {"data/tweets.js": posts, "data/manifest.js": body})
        data = read_posts(path)
        assert [p.text for p in data.posts] == ["hello"] and data.generated_at is None


def test_a_note_whose_post_is_missing_does_not_land_on_the_next_post(tmp_path):
    ms = 1_733_115_174_000
    orphan_note, next_post = _id_at(ms, 1), _id_at(ms + 20, 2)
    items = [
        {
            "tweet": tweet(
                next_post, "A different long post that was cut here…", created="Mon Dec 02 04:52:54 +0000 2024"
            )
        }
    ]
    notes = [
        {"noteTweet": {"noteTweetId": orphan_note, "core": {"text": "The orphan note's own words " * 12, "urls": []}}}
    ]
    path = write_zip(
        tmp_path / "a.zip",
        {"data/tweets.js": js("YTD.tweets.part0", items), "data/note-tweet.js": js("YTD.note_tweet.part0", notes)},
    )
    data = read_posts(path)
    assert data.posts[0].text == "A different long post that was cut here…"
    assert data.counts["notes_unmatched"] == 1


def test_replies_to_the_owner_are_threads_by_user_id_screen_name_or_parent(tmp_path):
    items = [
        tweet("10", "The first part of a thread"),
        tweet(
            "11",
            "@owner and the second part",
            in_reply_to_status_id_str="10",
            in_reply_to_user_id_str="1",
            in_reply_to_screen_name="owner",
        ),  # fmt: skip
        tweet("12", "third part, no user id", in_reply_to_status_id_str="11", in_reply_to_screen_name="OWNER"),
        tweet(
            "13",
            "@alice a reply to someone else",
            in_reply_to_status_id_str="99",
            in_reply_to_user_id_str="5",
            in_reply_to_screen_name="alice",
        ),  # fmt: skip
        tweet("14", "answers my own post; the export left out who", in_reply_to_status_id_str="10"),
        tweet("15", "@alice mention-style reply to someone", in_reply_to_user_id="5"),
        tweet("16", "answers my own deleted post", in_reply_to_status_id_str="98", in_reply_to_user_id_str="1"),
    ]
    members = {
        "data/manifest.js": manifest({"tweets": ["data/tweets.js"]}),
        "data/tweets.js": js("YTD.tweets.part0", [{"tweet": t} for t in items]),
    }
    posts = by_id(read_posts(write_zip(tmp_path / "a.zip", members)))
    assert [posts[i].kind for i in ("10", "11", "12", "13", "14", "15", "16")] == [
        "original", "thread", "thread", "reply", "thread", "reply", "thread",
    ]  # fmt: skip
    assert posts["11"].text == "and the second part"


def test_the_account_file_names_the_owner_when_there_is_no_manifest(tmp_path):
    account = js("YTD.account.part0", [{"account": {"username": "Owner", "accountId": "77"}}])
    items = [
        tweet("11", "@Owner my own thread", in_reply_to_status_id_str="5", in_reply_to_user_id_str="77"),
        tweet("12", "@bob not mine", in_reply_to_status_id_str="6", in_reply_to_user_id_str="78"),
    ]
    path = write_zip(tmp_path / "a.zip", {"tweet.js": js("YTD.tweet.part0", items), "account.js": account})
    posts = by_id(read_posts(path))
    assert posts["11"].kind == "thread" and posts["12"].kind == "reply"


@pytest.mark.parametrize("era", ["2019", "2021", "2024"])
def test_sample_threads_are_parsed_as_threads(sample_archives, era):
    zipped, _, truth = sample_archives[era]
    posts = by_id(read_posts(zipped))
    threads = {pid for pid, kind in truth.kind.items() if kind == "thread"}
    assert threads, "the sample archive holds threads"
    assert {pid for pid, p in posts.items() if p.kind == "thread"} == threads
    assert all(not posts[pid].text.startswith("@") for pid in threads)
