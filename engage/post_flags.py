"""What a reviewer should know about a candidate post before approving it."""

from __future__ import annotations

import re
from dataclasses import dataclass

X_LIMIT = 280
URL_LENGTH = 23  # X counts every link as 23 characters (t.co)

_URL = re.compile(r"https?://\S+|\bwww\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@\w{1,15}")
_HASHTAG = re.compile(r"(?<![\w#&])#\w*[^\W\d]\w*")
# twitter-text v3: these code point ranges count 1, everything else (CJK, emoji…) counts 2.
_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


def weighted_length(text: str) -> int:
    """The length X checks against its limit: links count 23, most non-Latin characters and emoji 2."""
    rest, links = _URL.subn("", text)
    total = links * URL_LENGTH
    for ch in rest:
        cp = ord(ch)
        total += 1 if any(lo <= cp <= hi for lo, hi in _LIGHT) else 2
    return total


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
    return Flags(
        mentions=tuple(_MENTION.findall(text)),
        urls=tuple(_URL.findall(text)),
        hashtags=tuple(_HASHTAG.findall(text)),
        length=length,
        too_long=length > limit,
    )
