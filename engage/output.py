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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engage.errors import UserError

MARKER_FILE = "stats.json"


def _is_replaceable(path: Path) -> bool:
    """Only an empty folder or one that engage wrote may be replaced with --force."""
    if not path.is_dir():
        return False
    if not any(path.iterdir()):
        return True
    try:
        stats = json.loads((path / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(stats, dict) and stats.get("tool") == "engage"


@contextmanager
def staged_folder(out: Path, force: bool, protect: Path | None = None) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces ``out``."""
    out = Path(out)
    if protect is not None:
        p, o = protect.resolve(), out.resolve()
        if p == o or o in p.parents:
            raise UserError(f"--out {out} would hold or replace the input itself; choose another folder")
    if out.exists() or out.is_symlink():
        if not force:
            raise UserError(f"{out} already exists; pass --force to replace it, or choose another --out")
        if not _is_replaceable(out):
            raise UserError(
                f"{out} exists and is not a dataset folder engage wrote; refusing to replace it, choose another --out"
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
