"""engage counts a post's length as X does: the official twitter-text conformance cases (tests/data/twitter-text)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from engage.review.post_flags import V3, X_LIMIT, flag_post, weighted_length

DATA = Path(__file__).parent / "data" / "twitter-text"
CASES = yaml.safe_load((DATA / "validate.yml").read_text(encoding="utf-8"))["tests"]
V2 = dataclasses.replace(V3, emoji_sequences=False)  # twitter-text v2: each emoji code point weighed alone
INVALID = set("\ufffe\ufeff\uffff")  # X refuses posts holding these, whatever their length


def _cases(section: str) -> list:
    return [pytest.param(c["text"], c["expected"], id=c["description"][:60]) for c in CASES[section]]


def _check(text: str, expected: dict, rules) -> None:
    n = weighted_length(text, rules)
    assert n == expected["weightedLength"]
    assert (n <= X_LIMIT and not INVALID & set(text)) == expected["valid"]


@pytest.mark.parametrize(("text", "expected"), _cases("WeightedTweetsCounterTest"))
def test_v2_counting(text, expected):
    _check(text, expected, V2)


@pytest.mark.parametrize(
    ("text", "expected"),
    _cases("WeightedTweetsWithDiscountedEmojiCounterTest") + _cases("UnicodeDirectionalMarkerCounterTest"),
)
def test_v3_counting_is_what_flags_use(text, expected):
    _check(text, expected, V3)
    assert flag_post(text).length == expected["weightedLength"]
    assert flag_post(text).too_long == (expected["weightedLength"] > X_LIMIT)


def test_rules_are_the_v3_config():
    config = json.loads((DATA / "config-v3.json").read_text())
    scale = config["scale"]
    assert V3.max_length == config["maxWeightedTweetLength"] == X_LIMIT
    assert V3.default_weight * scale == config["defaultWeight"]
    assert V3.url_length == config["transformedURLLength"]
    assert V3.emoji_sequences == config["emojiParsingEnabled"]
    assert [(r["start"], r["end"], r["weight"]) for r in config["ranges"]] == [
        (lo, hi, V3.light_weight * scale) for lo, hi in V3.light_ranges
    ]


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("👨‍👩‍👧‍👦" * 140, 280),  # ZWJ family: 2 each, so 140 fit
        ("🇯🇵🇺🇸", 4),  # flags (regional indicator pairs)
        ("👍🏽 ok", 5),  # skin tone
        ("#️⃣", 2),  # keycap
        ("e\u0301", 1),  # combining mark composed by NFC
        ("see example.com now", 31),  # bare domain is a link
        ("see www.example.co.uk/a?b=1.", 28),  # link stops before the full stop
        ("notes.txt and e.g. this", 23),  # not top-level domains: not links
        ("me@example.com", 14),  # an email address is not a link
    ],
)
def test_sequences_and_links(text, length):
    assert weighted_length(text) == length


def test_flags_list_bare_links():
    assert flag_post("read example.com and https://x.org/a.").urls == ("example.com", "https://x.org/a")
