"""Read-only access to an archive as a zip or an unpacked folder, member by member.

Nothing is ever extracted to disk. Member names that could point outside the archive
(``../x``, absolute paths, drive letters) are not offered at all. Every member is inflated
through a byte counter, so a zip bomb stops at a fixed bound instead of filling memory.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO

from archive_parsers.errors import ArchiveError

# One member may inflate to at most this many bytes. X splits post files at about 100 MB,
# so 2 GiB leaves a wide margin for real archives and still stops a bomb.
MAX_MEMBER_BYTES = 2 * 1024**3
# JSON text compresses about 5-15x; a bomb compresses by hundreds or thousands.
MAX_RATIO = 200
_RATIO_CHECK_ABOVE = 16 * 1024**2


def safe_name(raw: str) -> str | None:
    """A clean relative POSIX path for a member name, or None if it could escape the archive."""
    name = raw.replace("\\", "/")
    if not name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = PurePosixPath(name).parts
    if any(p in ("..", "") for p in parts):
        return None
    return "/".join(p for p in parts if p != ".")


class _CountingReader:
    """Wraps a binary stream and refuses to yield more than ``limit`` bytes."""

    def __init__(self, raw: IO[bytes], limit: int, name: str, on_bytes=None) -> None:
        self._raw = raw
        self._limit = limit
        self._name = name
        self._seen = 0
        self._on_bytes = on_bytes

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._seen += len(data)
        if self._seen > self._limit:
            raise ArchiveError(
                f"{self._name} inflates past {self._limit // 1024**2} MiB; refusing to read it "
                "(a damaged archive or a zip bomb)"
            )
        if self._on_bytes is not None and data:
            self._on_bytes(len(data))
        return data


class ArchiveSource:
    """An archive, zip or folder. ``names`` lists safe member names; ``open`` streams one."""

    label: str
    unsafe_names: int = 0

    def names(self) -> list[str]:
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    @contextmanager
    def open(self, name: str, on_bytes=None) -> Iterator[_CountingReader]:
        raise NotImplementedError
        yield  # pragma: no cover

    def close(self) -> None:
        pass


class ZipSource(ArchiveSource):
    def __init__(self, path: Path, max_member_bytes: int = MAX_MEMBER_BYTES) -> None:
        self.label = str(path)
        self._max = max_member_bytes
        try:
            self._zip = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise ArchiveError(f"{path} is not a readable zip file ({exc}); is it the archive X sent you?") from None
        except OSError as exc:
            raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}") from None
        self._infos: dict[str, zipfile.ZipInfo] = {}
        for info in self._zip.infolist():
            if info.is_dir():
                continue
            name = safe_name(info.filename)
            if name is None:
                self.unsafe_names += 1
                continue
            self._infos[name] = info

    def names(self) -> list[str]:
        return list(self._infos)

    def size(self, name: str) -> int:
        return self._infos[name].file_size

    @contextmanager
    def open(self, name: str, on_bytes=None) -> Iterator[_CountingReader]:
        info = self._infos[name]
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{name} in {self.label} is encrypted; export the archive again without a password")
        if info.file_size > self._max:
            raise ArchiveError(
                f"{name} claims {info.file_size // 1024**2} MiB inflated, over the "
                f"{self._max // 1024**2} MiB bound; refusing to read it (a damaged archive or a zip bomb)"
            )
        if info.file_size > _RATIO_CHECK_ABOVE and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ArchiveError(
                f"{name} compresses {info.file_size // max(info.compress_size, 1)}:1, far beyond any real "
                "archive; refusing to read it (a zip bomb?)"
            )
        try:
            raw = self._zip.open(info)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError) as exc:
            raise ArchiveError(f"cannot read {name} in {self.label}: {exc}") from None
        with raw:
            try:
                yield _CountingReader(raw, self._max, name, on_bytes)
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                raise ArchiveError(f"{name} in {self.label} is damaged ({exc}); download the archive again") from None

    def close(self) -> None:
        self._zip.close()


class FolderSource(ArchiveSource):
    """An unpacked archive. Only regular files inside the folder (after resolving links) count."""

    def __init__(self, path: Path, max_member_bytes: int = MAX_MEMBER_BYTES) -> None:
        self.label = str(path)
        self._root = path.resolve()
        self._max = max_member_bytes
        self._files: dict[str, Path] = {}
        # Post files live at most two levels down (data/ or a wrapping folder plus data/).
        for dirpath, dirnames, filenames in os.walk(self._root):
            rel = Path(dirpath).relative_to(self._root)
            if len(rel.parts) >= 3:
                dirnames[:] = []
                continue
            dirnames[:] = [d for d in dirnames if not d.endswith("media") and d != "assets"]
            for f in filenames:
                if not f.endswith(".js"):
                    continue
                p = Path(dirpath, f)
                try:
                    real = p.resolve()
                except OSError:
                    continue
                if not real.is_relative_to(self._root) or not real.is_file():
                    self.unsafe_names += 1
                    continue
                self._files[(rel / f).as_posix()] = real

    def names(self) -> list[str]:
        return list(self._files)

    def size(self, name: str) -> int:
        return self._files[name].stat().st_size

    @contextmanager
    def open(self, name: str, on_bytes=None) -> Iterator[_CountingReader]:
        try:
            fh = open(self._files[name], "rb")
        except OSError as exc:
            raise ArchiveError(f"cannot read {self._files[name]}: {exc.strerror or exc}") from None
        with fh:
            yield _CountingReader(fh, self._max, name, on_bytes)


def open_source(path: Path) -> ArchiveSource:
    if path.is_dir():
        return FolderSource(path)
    return ZipSource(path)
