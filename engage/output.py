"""Write an output folder so that it appears complete or not at all.

Everything is written into a hidden staging folder beside the target and renamed into place
at the end; an interrupted run leaves no folder under the target's name (and removes its
staging folder on the way out).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from engage.errors import UserError

# Every folder engage writes holds one of these at its top, a JSON object with "tool": "engage":
# stats.json (build-dataset, feedback, tiny-model), report.json (report).
MARKER_FILES = ("stats.json", "report.json")


def engage_wrote(path: Path) -> bool:
    """Whether ``path`` is a folder engage wrote (it holds a marker file naming engage)."""
    for name in MARKER_FILES:
        try:
            marker = json.loads((path / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(marker, dict) and marker.get("tool") == "engage":
            return True
    return False


def _is_replaceable(path: Path) -> bool:
    """Only an empty folder or one that engage wrote may be replaced with --force."""
    if not path.is_dir() or path.is_symlink():
        return False
    return not any(path.iterdir()) or engage_wrote(path)


def temp_file_beside(out: Path) -> Path:
    """A new, empty, uniquely named hidden file in ``out``'s folder (with the permissions a new file gets there),
    to write and then ``os.replace`` onto ``out``: nothing of the user's is ever opened for writing."""
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.partial-", dir=parent)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        os.close(fd)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
    return Path(name)


@contextmanager
def staged_folder(out: Path, force: bool, protect: Path | Iterable[Path] | None = None) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces ``out``. ``protect``: inputs ``out`` must not be or hold."""
    out = Path(out)
    for path in [protect] if isinstance(protect, Path) else list(protect or ()):
        p, o = Path(path).resolve(), out.resolve()
        if p == o or o in p.parents:
            raise UserError(f"--out {out} would hold or replace {path}, an input; choose another folder")
    if out.exists() or out.is_symlink():
        if not force:
            raise UserError(f"{out} already exists; pass --force to replace it, or choose another --out")
        if not _is_replaceable(out):
            raise UserError(
                f"{out} exists and is not a folder engage wrote; refusing to replace it, choose another --out"
            )
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=parent))
    except OSError as exc:
        raise UserError(f"cannot create {out}: {exc.strerror or exc}") from None
    try:
        yield stage
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
            os.rename(out, old / "previous")
        try:
            os.rename(stage, out)
        except OSError:
            if old is not None:
                os.rename(old / "previous", out)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
