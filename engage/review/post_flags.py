"""What a reviewer should know about a candidate post before approving it.

The weighted length follows twitter-text's v3 counting rules (the configuration X uses): the text is
NFC-normalised; every link, with or without ``https://``, counts 23 (it is shortened to t.co); every emoji
sequence (ZWJ families, flags, keycaps, skin tones, tag sequences) counts 2; any other code point counts 1 in
the ranges below (Latin, Greek, Cyrillic, Hebrew, Arabic, Devanagari… and some punctuation) and 2 elsewhere
(CJK, Hangul syllables…). tests/data/twitter-text/ holds the official conformance cases it is tested on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import regex

X_LIMIT = 280
URL_LENGTH = 23  # X counts every link as 23 characters (t.co)
MAX_LABEL = 63  # a domain label longer than this (in its punycode form) is not a host, so not a link


@dataclass(frozen=True)
class CountingRules:
    """twitter-text's counting configuration (config/v3.json), with weights in characters."""

    max_length: int = X_LIMIT
    default_weight: int = 2
    light_ranges: tuple[tuple[int, int], ...] = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
    light_weight: int = 1
    url_length: int = URL_LENGTH
    emoji_sequences: bool = True  # v3: an emoji sequence counts default_weight once (v2 counted each code point)


V3 = CountingRules()

# Links. With a scheme, any host whose labels are words; without one, an ASCII domain ending in a known
# top-level domain (as X does, so "file.txt" or "e.g." are not links). The path and query stop before
# trailing punctuation. These patterns are this module's own, checked against the conformance cases.
_BEFORE = r"(?:(?<=^)|(?<=[^A-Za-z0-9@＠$#＃])|(?<=[\u202A-\u202E\u061C\u200E\u200F\u2066-\u2069]))"
_LATIN_CYRILLIC = r"A-Za-z0-9\u00C0-\u024F\u0400-\u04FF"
_PATH = rf"/(?:[{_LATIN_CYRILLIC}!*';:=+,.$/%#\[\]\-\u2013_~|&@()]*[{_LATIN_CYRILLIC}+\-=_#/)])?"
_QUERY = r"\?(?:[A-Za-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*[A-Za-z0-9\-_&=#/])?"
_TAIL = rf"(?::\d{{1,5}})?(?:{_PATH})*(?:{_QUERY})?"
_SCHEME_URL = re.compile(
    rf"{_BEFORE}https?://(?P<host>(?:\d{{1,3}}(?:\.\d{{1,3}}){{3}})|(?:[\w-]+\.)+[^\W\d_]{{2,}}){_TAIL}", re.IGNORECASE
)
_BARE_URL = re.compile(
    rf"{_BEFORE}(?<![-_./])(?P<host>(?:[A-Za-z0-9_-]+\.)+(?P<tld>[A-Za-z]{{2,}}))(?![A-Za-z0-9_-]){_TAIL}"
)
# Generic top-level domains accepted without a scheme; every two-letter country code is accepted too.
_GENERIC_TLDS = frozenset(
    "com net org edu gov mil int info biz name pro mobi app dev xyz online site tech store blog shop news page "
    "cloud live art club design space website today world life email link social media studio wiki museum".split()
)
_MENTION = re.compile(r"(?<![\w@])@\w{1,15}")
_HASHTAG = re.compile(r"(?<![\w#&])#\w*[^\W\d]\w*")
_GRAPHEME = regex.compile(r"\X")
_PICTOGRAPH = regex.compile(r"\p{Extended_Pictographic}")
_KEYCAP = "\u20e3"


def _host_is_valid(host: str) -> bool:
    """Whether every label of the host fits DNS's 63 characters once punycode-encoded (as X checks)."""
    for label in host.split("."):
        encoded = label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        if not label or len(encoded) > MAX_LABEL:
            return False
    return True


def find_urls(text: str) -> list[tuple[int, int]]:
    """Start and end of each link X would shorten to t.co, in order."""
    spans: list[tuple[int, int]] = []
    taken = 0
    for m in sorted([*_SCHEME_URL.finditer(text), *_BARE_URL.finditer(text)], key=lambda m: (m.start(), -m.end())):
        if m.start() < taken or not _host_is_valid(m.group("host")):
            continue
        tld = m.groupdict().get("tld")
        if tld is not None and len(tld) != 2 and tld.lower() not in _GENERIC_TLDS:
            continue
        spans.append((m.start(), m.end()))
        taken = m.end()
    return spans


def _is_emoji(cluster: str, rules: CountingRules) -> bool:
    first = ord(cluster[0])
    if 0x1F1E6 <= first <= 0x1F1FF or _KEYCAP in cluster:  # flag (regional indicator pair) or keycap
        return True
    return bool(_PICTOGRAPH.match(cluster)) and (len(cluster) > 1 or not _is_light(first, rules))


def _is_light(cp: int, rules: CountingRules) -> bool:
    return any(lo <= cp <= hi for lo, hi in rules.light_ranges)


def _text_weight(text: str, rules: CountingRules) -> int:
    clusters = _GRAPHEME.findall(text) if rules.emoji_sequences else list(text)
    total = 0
    for cluster in clusters:
        if rules.emoji_sequences and _is_emoji(cluster, rules):
            total += rules.default_weight
            continue
        for ch in cluster:
            total += rules.light_weight if _is_light(ord(ch), rules) else rules.default_weight
    return total


def weighted_length(text: str, rules: CountingRules = V3) -> int:
    """The length X checks against its limit: links count 23, emoji sequences 2, CJK 2, Latin 1."""
    text = unicodedata.normalize("NFC", text)
    total, pos = 0, 0
    for start, end in find_urls(text):
        total += _text_weight(text[pos:start], rules) + rules.url_length
        pos = end
    return total + _text_weight(text[pos:], rules)


@dataclass(frozen=True)
class Flags:
    mentions: tuple[str, ...]
    urls: tuple[str, ...]
    hashtags: tuple[str, ...]
    length: int
    too_long: bool

    def names(self) -> list[str]:
        """Short names for the flags that are raised."""
        out = []
        if self.mentions:
            out.append("mention")
        if self.urls:
            out.append("url")
        if self.hashtags:
            out.append("hashtag")
        if self.too_long:
            out.append("too_long")
        return out

    def as_dict(self) -> dict:
        return {
            "mentions": list(self.mentions),
            "urls": list(self.urls),
            "hashtags": list(self.hashtags),
            "length": self.length,
            "too_long": self.too_long,
        }


def flag_post(text: str, limit: int = X_LIMIT) -> Flags:
    length = weighted_length(text)
    normal = unicodedata.normalize("NFC", text)
    return Flags(
        mentions=tuple(_MENTION.findall(text)),
        urls=tuple(normal[start:end] for start, end in find_urls(normal)),
        hashtags=tuple(_HASHTAG.findall(text)),
        length=length,
        too_long=length > limit,
    )
