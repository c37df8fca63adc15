"""Read the archive's JavaScript files: ``window.YTD.<type>.partN = [ ... ]``.

Everything up to and including the first ``=`` is dropped and the rest is JSON. Post files
are read as a stream, a few MB at a time, so a 100 MB part never sits in memory as one
parsed tree.

Fast path: each chunk is cut after the last ``}`` that is followed by ``,`` and parsed with
orjson as a list. A cut can only parse if it falls between two items (a ``}`` inside a string
leaves the string open; one closing a nested object leaves the list unbalanced), so a
successful parse proves the cut was right. Anything else (odd spacing, invalid UTF-8, lone
surrogate escapes, damage) falls back to the standard library's decoder, item by item, which
also reports where a damaged file goes wrong.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any

import orjson

from archive_parsers.errors import ArchiveError

CHUNK = 1 << 22
_PREFIX_LIMIT = 4096
_SKIP = re.compile(r"[\s,]*")
_BSKIP = re.compile(rb"[\s,]*")
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


def _cuts(buf: bytes, start: int, tries: int = 8) -> Iterator[int]:
    """Candidate cuts, last first: just past a ``}`` followed by ``,`` and the next item's ``{``."""
    end = len(buf)
    n = len(buf)
    while tries > 0:
        k = buf.rfind(b"}", start, end)
        if k < 0:
            return
        end = k
        j = k + 1
        while j < n and buf[j] in b" \t\r\n":
            j += 1
        if j >= n or buf[j] != 0x2C:  # ','
            continue
        j += 1
        while j < n and buf[j] in b" \t\r\n":
            j += 1
        if j < n and buf[j] == 0x7B:  # '{'
            tries -= 1
            yield k + 1


def iter_items(reader, name: str) -> Iterator[Any]:
    """Yield the items of a ``window.X = [ ... ]`` file one by one, reading it in chunks."""
    head = b""
    while b"=" not in head[:_PREFIX_LIMIT] and len(head) < _PREFIX_LIMIT:
        data = reader.read(CHUNK)
        if not data:
            break
        head += data
    eq = head.find(b"=", 0, _PREFIX_LIMIT)
    if eq < 0:
        raise ArchiveError(f"{name} is not an archive data file (no 'window.… =' at its start)")
    buf = head[eq + 1 :]
    pos = _BSKIP.match(buf).end()
    while pos >= len(buf):
        data = reader.read(CHUNK)
        if not data:
            break
        buf, pos = buf[pos:] + data, 0
        pos = _BSKIP.match(buf).end()
    if buf[pos : pos + 1] != b"[":
        raise ArchiveError(f"{name} does not hold a list of items after its 'window.… =' line; is it damaged?")
    pos += 1
    eof = False
    while not eof:
        data = reader.read(CHUNK)
        eof = not data
        buf = buf[pos:] + data
        pos = _BSKIP.match(buf).end()
        if eof:
            tail = buf[pos:].rstrip(b" \t\r\n;")
            if tail.endswith(b"]"):
                try:
                    items = orjson.loads(b"[" + tail)
                except orjson.JSONDecodeError:
                    break
                yield from items
                return
            break
        items = None
        for cut in _cuts(buf, pos):
            try:
                items = orjson.loads(b"[" + buf[pos:cut] + b"]")
                break
            except orjson.JSONDecodeError:
                continue  # a cut inside an item: try the one before
        if items is None:
            if len(buf) - pos > 8 * CHUNK:
                break  # no cut parses: let the careful decoder take over from here
            continue  # no whole item in the buffer yet: read more
        yield from items
        pos = cut
    yield from _iter_items_str(reader, name, buf[pos:])


def _iter_items_str(reader, name: str, start: bytes) -> Iterator[Any]:
    """The careful path: the standard library's decoder, one item at a time, from inside the list."""
    decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
    buf = decode(start)
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

    pos = 0
    while True:
        pos = _SKIP.match(buf, pos).end()
        if pos >= len(buf):
            buf, pos = "", 0
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
                buf, pos = buf[pos:], 0
                if fill():
                    continue
                raise ArchiveError(
                    f"{name} is truncated or damaged near its end ({exc.msg}); download the archive again"
                ) from None
            raise ArchiveError(
                f"{name} is damaged ({exc.msg} at character {exc.pos}); download the archive again"
            ) from None
        yield item
        pos = end
