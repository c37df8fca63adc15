"""Read the archive's JavaScript files: ``window.YTD.<type>.partN = [ ... ]``.

Everything up to and including the first ``=`` is dropped and the rest is JSON. Post files
are read as a stream, one array item at a time, so a 100 MB part never sits in memory as
one parsed tree.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any

from archive_parsers.errors import ArchiveError

CHUNK = 1 << 22
_PREFIX_LIMIT = 4096
_SKIP = re.compile(r"[\s,]*")
_TAIL = re.compile(r"\s*;?\s*")
_decoder = json.JSONDecoder()


def _is_incomplete(exc: json.JSONDecodeError, buf_len: int) -> bool:
    """Whether a decode error only means the buffer ends in the middle of an item."""
    return exc.msg.startswith("Unterminated string") or exc.pos >= buf_len - 16


def read_object(reader, name: str) -> Any:
    """Parse a small JS file whole (the manifest, the account file)."""
    text = reader.read().decode("utf-8-sig", errors="replace")
    eq = text.find("=", 0, _PREFIX_LIMIT)
    if eq < 0:
        raise ArchiveError(f"{name} is not an archive data file (no 'window.… =' at its start)")
    body = text[eq + 1 :].strip().rstrip(";")
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise ArchiveError(
            f"{name} is damaged or truncated ({exc.msg} at character {exc.pos}); download the archive again"
        ) from None


def iter_items(reader, name: str) -> Iterator[Any]:
    """Yield the items of a ``window.X = [ ... ]`` file one by one, reading it in chunks."""
    decode = codecs.getincrementaldecoder("utf-8-sig")(errors="replace").decode
    buf = ""
    eof = False

    def fill() -> bool:
        nonlocal buf, eof
        if eof:
            return False
        data = reader.read(CHUNK)
        if not data:
            eof = True
            buf += decode(b"", final=True)
            return False
        buf += decode(data)
        return True

    while True:
        eq = buf.find("=", 0, _PREFIX_LIMIT)
        if eq >= 0 or len(buf) >= _PREFIX_LIMIT or not fill():
            break
    if eq < 0:
        raise ArchiveError(f"{name} is not an archive data file (no 'window.… =' at its start)")
    pos = eq + 1
    while True:
        pos = _SKIP.match(buf, pos).end() if buf[pos : pos + 1].isspace() else pos
        if pos < len(buf) or not fill():
            break
    if buf[pos : pos + 1] != "[":
        raise ArchiveError(f"{name} does not hold a list of items after its 'window.… =' line; is it damaged?")
    pos += 1
    while True:
        pos = _SKIP.match(buf, pos).end()
        if pos >= len(buf):
            buf = buf[pos:]
            pos = 0
            if fill():
                continue
            raise ArchiveError(f"{name} is truncated (it ends before its closing ']'); download the archive again")
        if buf[pos] == "]":
            buf = buf[pos + 1 :]
            while fill():
                pass
            if _TAIL.fullmatch(buf) is None:
                raise ArchiveError(f"{name} has unexpected text after its closing ']'; is it damaged?")
            return
        try:
            item, end = _decoder.raw_decode(buf, pos)
        except json.JSONDecodeError as exc:
            if _is_incomplete(exc, len(buf)):
                buf = buf[pos:]
                pos = 0
                if fill():
                    continue
                raise ArchiveError(
                    f"{name} is truncated (it ends inside an item); download the archive again"
                ) from None
            raise ArchiveError(
                f"{name} is damaged ({exc.msg} at character {exc.pos}); download the archive again"
            ) from None
        yield item
        pos = end
