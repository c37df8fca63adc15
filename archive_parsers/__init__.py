"""Readers that turn exported post histories into ``Post`` records.

They read; they never score, filter for training or write anything.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from archive_parsers.errors import ArchiveError
from archive_parsers.post import ArchiveData, Post
from archive_parsers.table import TABLE_SUFFIXES, read_post_table
from archive_parsers.x_archive import read_x_archive

__all__ = ["ArchiveData", "ArchiveError", "Post", "read_posts"]


def read_posts(path: Path, on_bytes=None, on_total=None) -> ArchiveData:
    """Read an X archive (zip or folder) or a post table (.csv, .jsonl, .parquet)."""
    path = Path(path)
    if not path.exists():
        raise ArchiveError(f"{path} does not exist; pass the archive zip, its unpacked folder, or a post table")
    if path.is_dir():
        return read_x_archive(path, on_bytes, on_total)
    if path.suffix.lower() in TABLE_SUFFIXES:
        return read_post_table(path)
    try:
        is_zip = zipfile.is_zipfile(path)
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}") from None
    if is_zip:
        return read_x_archive(path, on_bytes, on_total)
    if path.stat().st_size == 0:
        raise ArchiveError(f"{path} is empty; pass the archive zip X sent you")
    if path.suffix.lower() == ".zip":
        raise ArchiveError(f"{path} is not a readable zip file (damaged, or not a zip); download the archive again")
    raise ArchiveError(
        f"{path} is neither a zip archive nor a post table (.csv, .jsonl, .parquet); pass the X archive zip or its unpacked folder"
    )
