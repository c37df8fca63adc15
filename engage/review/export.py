"""``engage export``: approved posts only, to CSV or JSONL, with the AI-generated disclosure label."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from engage.errors import NothingYet, UserError
from engage.output import temp_file_beside
from engage.review.store import ReviewStore

DEFAULT_DISCLOSURE = "(AI-generated)"
FIELDS = ("id", "text", "model_label", "decided_at", "edited", "published_ref")
FORMATS = {".csv": "csv", ".jsonl": "jsonl"}


def with_label(text: str, label: str | None) -> str:
    return f"{text}\n\n{label}" if label else text


def _is_export(path: Path, fmt: str) -> bool:
    """Whether ``path`` is empty or a file engage export wrote (its header, or first row's keys, are FIELDS)."""
    try:
        with open(path, encoding="utf-8") as fh:
            first = fh.readline()
    except (OSError, UnicodeDecodeError):
        return False
    if not first:
        return True
    if fmt == "csv":
        return next(csv.reader([first]), []) == list(FIELDS)
    try:
        row = json.loads(first)
    except ValueError:
        return False
    return isinstance(row, dict) and tuple(row) == FIELDS


def export_approved(store: ReviewStore, out: Path, label: str | None = DEFAULT_DISCLOSURE, force: bool = False) -> int:
    """Write every approved candidate (its edited text where edited) to ``out``; return how many.

    With nothing approved it writes nothing and raises NothingYet."""
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise UserError(f"{out} should end in .csv or .jsonl")
    if out.is_dir():
        raise UserError(f"{out} is a folder; name the file to write")
    if out.exists() and out.resolve() == store.path.resolve():
        raise UserError(f"{out} is the review store itself; name another file")
    if out.exists() and not force:
        raise UserError(f"{out} already exists; pass --force to replace it")
    if out.exists() and not _is_export(out, fmt):
        raise UserError(f"{out} is not a file engage export wrote; refusing to replace it, name another file")
    approved = store.candidates("approved")
    if not approved:
        pending = store.count("pending")
        raise NothingYet(
            f"nothing to export yet: {store.path} holds no approved candidates ({pending} waiting for review); "
            f"no file written"
        )
    rows = [
        {
            "id": c.id,
            "text": with_label(c.current_text, label),
            "model_label": c.model_label,
            "decided_at": c.decided_at,
            "edited": c.edited,
            "published_ref": c.published_ref or "",
        }
        for c in approved
    ]
    tmp = temp_file_beside(out)
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            if fmt == "csv":
                writer = csv.DictWriter(fh, fieldnames=FIELDS)
                writer.writeheader()
                writer.writerows(rows)
            else:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, out)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return len(rows)
