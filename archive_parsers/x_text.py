"""Turn an X post's stored text into what its owner wrote.

``full_text`` is HTML-escaped and entity indices are code-point offsets into the *escaped*
text, so links are replaced by slicing first and unescaping after.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w{1,50})+\s*")
_SURROGATES = re.compile("[\ud800-\udfff]")
_QUOTE_URL = re.compile(r"^https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/\w+/status(?:es)?/\d+", re.I)
SNOWFLAKE_EPOCH_MS = 1288834974657


def parse_x_time(value: str) -> datetime:
    """``Fri Oct 13 14:58:50 +0000 2023`` (or ISO 8601) as an aware UTC datetime."""
    parts = value.split()
    if len(parts) == 6 and parts[1] in _MONTHS:
        h, m, s = parts[3].split(":")
        dt = datetime(int(parts[5]), _MONTHS[parts[1]], int(parts[2]), int(h), int(m), int(s), tzinfo=timezone.utc)
        off = parts[4]
        if off != "+0000":
            sign = -1 if off[0] == "-" else 1
            dt -= sign * timedelta(hours=int(off[1:3]), minutes=int(off[3:5]))
        return dt
    return parse_iso_utc(value)


def parse_iso_utc(value: str) -> datetime:
    """An ISO 8601 time (``Z`` allowed; no offset means UTC) as an aware UTC datetime."""
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def snowflake_ms(post_id: int) -> int:
    """The creation time encoded in an X id, in ms since the Unix epoch."""
    return (post_id >> 22) + SNOWFLAKE_EPOCH_MS


def is_quote_url(url: str) -> bool:
    return ("status" in url) and _QUOTE_URL.match(url) is not None


def fix_surrogates(text: str) -> str:
    """Join stray surrogate halves and replace lone ones, so the text encodes as UTF-8."""
    if _SURROGATES.search(text) is None:
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def replace_spans(text: str, spans: list[tuple[int, int, str, str]]) -> str:
    """Replace ``(start, end, expected, replacement)`` spans.

    A span whose slice is not the expected short link (indices off, as in some old exports)
    falls back to replacing the first occurrence of the short link itself.
    """
    fallback: list[tuple[str, str]] = []
    good: list[tuple[int, int, str]] = []
    for start, end, expected, repl in spans:
        if expected and 0 <= start < end <= len(text) and text[start:end] == expected:
            good.append((start, end, repl))
        elif expected:
            fallback.append((expected, repl))
    good.sort(reverse=True)
    last = len(text) + 1
    for start, end, repl in good:
        if end > last:  # overlapping spans: keep the later one only
            continue
        text = text[:start] + repl + text[end:]
        last = start
    for expected, repl in fallback:
        text = text.replace(expected, repl, 1)
    return text


def _spans(entities: list, start_key: str, end_key: str, short_key: str, long_key: str | None) -> list:
    out = []
    for e in entities:
        if not isinstance(e, dict):
            continue
        if start_key and start_key in e:
            a, b = int(e[start_key]), int(e[end_key])
        else:
            idx = e.get("indices") or [-1, -1]
            a, b = int(idx[0]), int(idx[1])
        repl = (e.get(long_key) or e.get(short_key) or "") if long_key else ""
        out.append((a, b, e.get(short_key) or "", repl))
    return out


def tweet_text(full_text: str, urls, media, is_reply: bool) -> str:
    """The owner's text of a post from tweets.js."""
    text = full_text
    if urls or media:
        text = replace_spans(text, _spans(urls, "", "", "url", "expanded_url") + _spans(media, "", "", "url", None))
    if "&" in text:
        text = html.unescape(text)
    if is_reply:
        text = _LEADING_MENTIONS.sub("", text, count=1)
    return fix_surrogates(text).strip()


def note_text(text: str, urls: list) -> str:
    """The owner's text of a long post from note-tweet.js (not HTML-escaped)."""
    spans = _spans(urls, "fromIndex", "toIndex", "shortUrl", "expandedUrl")
    return fix_surrogates(replace_spans(text, spans)).strip()
