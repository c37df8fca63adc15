"""``engage export``: approved posts only, to CSV or JSONL, with the AI-generated disclosure label."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from engage.errors import UserError
from engage.review_store import ReviewStore

DEFAULT_DISCLOSURE = "(AI-generated)"
FIELDS = ("id", "text", "model_label", "decided_at", "edited", "published_ref")
FORMATS = {".csv": "csv", ".jsonl": "jsonl"}


def with_label(text: str, label: str | None) -> str:
    return f"{text}\n\n{label}" if label else text


def export_approved(store: ReviewStore, out: Path, label: str | None = DEFAULT_DISCLOSURE, force: bool = False) -> int:
    """Write every approved candidate (its edited text where edited) to ``out``; return how many."""
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise UserError(f"{out} should end in .csv or .jsonl")
    if out.exists() and not force:
        raise UserError(f"{out} already exists; pass --force to replace it")
    if out.is_dir():
        raise UserError(f"{out} is a folder; name the file to write")
    rows = [
        {
            "id": c.id,
            "text": with_label(c.current_text, label),
            "model_label": c.model_label,
            "decided_at": c.decided_at,
            "edited": c.edited,
            "published_ref": c.published_ref or "",
        }
        for c in store.candidates("approved")
    ]
    tmp = out.with_name(f".{out.name}.partial")
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
