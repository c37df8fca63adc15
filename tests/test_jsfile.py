"""The streaming reader of window.X = [ ... ] files: exact items whatever the content and chunking."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive_parsers import jsfile
from archive_parsers.errors import ArchiveError

# Strings full of the characters that decide where a chunk may be cut.
tricky = st.text(alphabet=st.sampled_from(list('}{,] [\\"\n abc😀é') + ["\ud83d"]), max_size=30)
item = st.fixed_dictionaries(
    {"tweet": st.fixed_dictionaries({"id_str": st.from_regex(r"[0-9]{1,19}", fullmatch=True), "full_text": tricky,
                                     "entities": st.fixed_dictionaries({"urls": st.lists(st.fixed_dictionaries({"url": tricky}), max_size=2)})})}
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.lists(item, max_size=12),
    st.sampled_from([None, 0, 2]),
    st.booleans(),
    st.integers(1, 64),
    st.sampled_from(["tweets.part0", "tweet.part0", "tweets.part3", "note_tweet.part0"]),
)
def test_items_come_back_exactly(items, indent, ascii_only, chunk, global_name):
    body = json.dumps(items, indent=indent, ensure_ascii=ascii_only)
    data = f"window.YTD.{global_name} = {body}".encode("utf-8", "surrogatepass")
    old = jsfile.CHUNK
    jsfile.CHUNK = chunk
    try:
        got = list(jsfile.iter_items(io.BytesIO(data), "f.js"))
    finally:
        jsfile.CHUNK = old
    # A lone surrogate written raw is not valid UTF-8: it comes back replaced, never as a crash.
    expected = (
        json.loads(data.decode("utf-8", "replace")[data.decode("utf-8", "replace").index("=") + 1 :])
        if not ascii_only
        else items
    )
    assert got == expected


def test_fast_path_is_used_on_real_layouts(monkeypatch):
    items = [
        {"tweet": {"id_str": str(i), "full_text": "x }, { y", "entities": {"urls": [{"a": 1}, {"b": 2}]}}}
        for i in range(200)
    ]
    data = ("window.YTD.tweets.part0 = " + json.dumps(items, indent=2, separators=(",", " : "))).encode()
    monkeypatch.setattr(jsfile, "CHUNK", 4096)
    careful = []
    monkeypatch.setattr(jsfile, "_iter_items_str", lambda reader, name, start: careful.append(start) or iter(()))
    assert list(jsfile.iter_items(io.BytesIO(data), "f.js")) == items
    assert careful == [], "the careful path is never needed"


@pytest.mark.parametrize(
    "text, message",
    [
        ('window.YTD.tweets.part0 = [ {"a": 1}, {"b": ', "truncated"),
        ('window.YTD.tweets.part0 = [ {"a": 1}', "truncated"),
        ('window.YTD.tweets.part0 = [ {"a": 1}, nonsense ]', "damaged"),
        ('window.YTD.tweets.part0 = [ {"a": 1} ] trailing', "after its closing"),
        ("no assignment here", "not an archive data file"),
        ("window.YTD.tweets.part0 = 42", "list of items"),
    ],
)
def test_damage_is_reported(text, message):
    with pytest.raises(ArchiveError, match=message):
        list(jsfile.iter_items(io.BytesIO(text.encode()), "data/tweets.js"))


def test_empty_file_and_semicolon_tail():
    assert list(jsfile.iter_items(io.BytesIO(b"window.YTD.community_tweet.part0 = [ ]"), "f")) == []
    assert list(jsfile.iter_items(io.BytesIO(b'window.YTD.x.part0 = [ {"a": 1} ];\n'), "f")) == [{"a": 1}]
