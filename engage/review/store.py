"""The review store: generated candidates, the owner's decisions on them, in one SQLite file.

Every change is an event (approve, reject, edit, label, note, skip, undo, publish, compare)
written in the same transaction as the candidate's new state, and committed before the caller
is told it is done. Each candidate carries a version; a change names the version its author saw,
so a second reviewer (or a second tab) deciding the same candidate is told, never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from engage.errors import UserError

APPLICATION_ID = 0x656E6761  # "enga": marks the file as an engage review store
SCHEMA_VERSION = 1
BAIT_LABEL = "engagement bait"  # engage report gives its rate per model
DEFAULT_LABELS = (
    "on-brand",
    "funny",
    BAIT_LABEL,
    "off-brand",
    "factually wrong",
    "offensive",
    "repetitive",
)
STATUSES = ("pending", "approved", "rejected")
DECISION_EVENTS = {"approved": "approve", "rejected": "reject"}
COMPARE_CHOICES = ("left", "right", "tie")

# Each entry takes the schema from the version before it to its own number; never edit a shipped one.
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE batches (
        id INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL,
        model_label TEXT NOT NULL,
        base_model TEXT NOT NULL,
        adapter TEXT,
        prompt TEXT NOT NULL,
        settings TEXT NOT NULL
    );
    CREATE TABLE candidates (
        id INTEGER PRIMARY KEY,
        batch_id INTEGER NOT NULL REFERENCES batches(id),
        created_at TEXT NOT NULL,
        model_label TEXT NOT NULL,
        prompt TEXT NOT NULL,
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL UNIQUE,
        flags TEXT NOT NULL,
        nearest_post_id TEXT,
        nearest_post_text TEXT,
        nearest_similarity REAL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
        final_text TEXT,
        labels TEXT NOT NULL DEFAULT '[]',
        note TEXT NOT NULL DEFAULT '',
        decided_at TEXT,
        decided_by TEXT,
        skipped_at TEXT,
        published_ref TEXT,
        published_post_id TEXT,
        published_at TEXT,
        version INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX candidates_queue ON candidates (status, skipped_at, id);
    CREATE INDEX candidates_label ON candidates (model_label, status);
    CREATE INDEX candidates_prompt ON candidates (prompt, id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        candidate_id INTEGER NOT NULL REFERENCES candidates(id),
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL,
        version INTEGER NOT NULL,
        payload TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_candidate ON events (candidate_id, id);
    CREATE INDEX events_actor ON events (actor, kind, id);
    CREATE TABLE comparisons (
        id INTEGER PRIMARY KEY,
        left_id INTEGER NOT NULL REFERENCES candidates(id),
        right_id INTEGER NOT NULL REFERENCES candidates(id),
        choice TEXT NOT NULL CHECK (choice IN ('left', 'right', 'tie')),
        actor TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX comparisons_pair ON comparisons (left_id, right_id);
    """,
}

_STATUS_ID = re.compile(r"(?:^|/status(?:es)?/)(\d{5,25})(?:\D|$)")


class Conflict(Exception):
    """The candidate changed since the caller saw it (another tab or reviewer decided it)."""


def iso_z(dt: datetime) -> str:
    """An aware time as the store writes times: UTC, ISO 8601 to the second, ending in Z."""
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso_z(datetime.now(timezone.utc))


def text_hash(text: str) -> str:
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


def post_id_from_ref(ref: str) -> str | None:
    """The post id in a published reference: the id itself, or a status URL."""
    match = _STATUS_ID.search(ref.strip())
    return match.group(1) if match else None


@dataclass
class Candidate:
    id: int
    batch_id: int
    created_at: str
    model_label: str
    prompt: str
    text: str
    flags: dict
    nearest_post_id: str | None
    nearest_post_text: str | None
    nearest_similarity: float | None
    status: str
    final_text: str | None
    labels: list[str]
    note: str
    decided_at: str | None
    decided_by: str | None
    published_ref: str | None
    published_post_id: str | None
    published_at: str | None
    version: int

    @property
    def current_text(self) -> str:
        """What would be posted: the edited text where the owner edited it."""
        return self.final_text if self.final_text is not None else self.text

    @property
    def edited(self) -> bool:
        return self.final_text is not None and self.final_text != self.text


@dataclass
class NewCandidate:
    text: str
    flags: dict
    nearest_post_id: str | None = None
    nearest_post_text: str | None = None
    nearest_similarity: float | None = None


@dataclass
class LabelStats:
    model_label: str
    candidates: int = 0
    approved: int = 0
    rejected: int = 0
    edited: int = 0
    published: int = 0
    labels: dict[str, int] = field(default_factory=dict)

    @property
    def decided(self) -> int:
        return self.approved + self.rejected

    @property
    def pending(self) -> int:
        return self.candidates - self.decided


_COLUMNS = (
    "id, batch_id, created_at, model_label, prompt, text, flags, nearest_post_id, nearest_post_text, "
    "nearest_similarity, status, final_text, labels, note, decided_at, decided_by, published_ref, "
    "published_post_id, published_at, version"
)


def _candidate(row: tuple) -> Candidate:
    values = list(row)
    values[6] = json.loads(values[6])
    values[12] = json.loads(values[12])
    return Candidate(*values)


class ReviewStore:
    """One SQLite review store.

    Opening it for writing creates it (with ``create``) or migrates it to this version;
    ``readonly`` opens it as SQLite ``mode=ro`` for commands that only read: such an open never
    creates, migrates or changes the file, and refuses one that is not a store of this version.
    """

    def __init__(self, path: str | Path, create: bool = False, readonly: bool = False):
        self.path = Path(path)
        self.readonly, self.create = readonly, create and not readonly
        if not self.path.exists() and (readonly or not create):
            raise UserError(f"{self.path} does not exist; make it with `engage generate --store {self.path}`")
        if self.path.is_dir():
            raise UserError(f"{self.path} is a folder; name the review store file (e.g. engage.db)")
        if readonly and self.path.stat().st_size == 0:
            raise UserError(f"{self.path} is empty, not a review store; name the file `engage generate` wrote")
        try:
            if readonly:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False)
            else:
                self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout = 30000")
            self._check_and_migrate()
            if not readonly:
                self._db.execute("PRAGMA journal_mode = WAL")
                # FULL: a decision the caller was told about survives a crash or power loss, not only a kill.
                self._db.execute("PRAGMA synchronous = FULL")
                self._db.execute("PRAGMA foreign_keys = ON")
        except (sqlite3.DatabaseError, UserError) as exc:
            if hasattr(self, "_db"):
                self._db.close()
            if isinstance(exc, UserError):
                raise
            raise UserError(f"{self.path} is not a review store engage can open ({exc})") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------------

    def _check_and_migrate(self) -> None:
        app_id = self._db.execute("PRAGMA application_id").fetchone()[0]
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id != APPLICATION_ID and (tables or version):
            raise UserError(f"{self.path} is an SQLite file but not an engage review store; name another file")
        if version > SCHEMA_VERSION:
            raise UserError(
                f"{self.path} was written by a newer engage (store schema {version}, this one knows "
                f"{SCHEMA_VERSION}); upgrade engage"
            )
        if not version and not self.create:
            raise UserError(f"{self.path} is not an engage review store; name the file `engage generate` wrote")
        if self.readonly and version < SCHEMA_VERSION:
            raise UserError(
                f"{self.path} has an older store schema ({version}); open it once with `engage review` to upgrade it"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._transaction() as db:
                db.executescript_in_tx(MIGRATIONS[target])
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {target}")

    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    @contextmanager
    def _transaction(self) -> Iterator[_Tx]:
        """BEGIN IMMEDIATE … COMMIT: writers queue up rather than fail; any error rolls back."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield _Tx(self._db)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- generation -----------------------------------------------------------------------------

    def add_batch(self, model_label: str, base_model: str, adapter: str | None, prompt: str, settings: dict) -> int:
        with self._transaction() as db:
            return db.execute(
                "INSERT INTO batches (created_at, model_label, base_model, adapter, prompt, settings) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (now_iso(), model_label, base_model, adapter, prompt, json.dumps(settings, sort_keys=True)),
            ).lastrowid

    def add_candidates(self, batch_id: int, candidates: Iterable[NewCandidate]) -> tuple[list[int], int]:
        """Store new candidates of a batch; return their ids and how many were exact duplicates (not stored)."""
        batch = self._db.execute("SELECT model_label, prompt FROM batches WHERE id = ?", (batch_id,)).fetchone()
        if batch is None:
            raise ValueError(f"no batch {batch_id}")
        ids, duplicates = [], 0
        at = now_iso()
        with self._transaction() as db:
            for c in candidates:
                cur = db.execute(
                    "INSERT OR IGNORE INTO candidates (batch_id, created_at, model_label, prompt, text, text_hash, "
                    "flags, nearest_post_id, nearest_post_text, nearest_similarity) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        batch_id,
                        at,
                        batch[0],
                        batch[1],
                        c.text,
                        text_hash(c.text),
                        json.dumps(c.flags, sort_keys=True),
                        c.nearest_post_id,
                        c.nearest_post_text,
                        c.nearest_similarity,
                    ),
                )
                if cur.rowcount:
                    ids.append(cur.lastrowid)
                else:
                    duplicates += 1
        return ids, duplicates

    def has_text(self, text: str) -> bool:
        return (
            self._db.execute("SELECT 1 FROM candidates WHERE text_hash = ?", (text_hash(text),)).fetchone() is not None
        )

    # -- reading --------------------------------------------------------------------------------

    def get(self, candidate_id: int) -> Candidate:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
        if row is None:
            raise KeyError(candidate_id)
        return _candidate(row)

    def next_pending(self) -> Candidate | None:
        """The pending candidate to show next: never-skipped first (oldest first), then the longest-skipped."""
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM candidates WHERE status = 'pending' "
            "ORDER BY skipped_at, id LIMIT 1"  # NULL (never skipped) sorts first; follows candidates_queue
        ).fetchone()
        return _candidate(row) if row else None

    def count(self, status: str | None = None) -> int:
        if status is None:
            return self._db.execute("SELECT count(*) FROM candidates").fetchone()[0]
        return self._db.execute("SELECT count(*) FROM candidates WHERE status = ?", (status,)).fetchone()[0]

    def candidates(self, status: str | None = None, order: str = "id") -> list[Candidate]:
        where = "WHERE status = ?" if status else ""
        order_by = {"id": "id", "decided": "decided_at DESC, id DESC"}[order]
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM candidates {where} ORDER BY {order_by}", (status,) if status else ()
        )
        return [_candidate(r) for r in rows]

    def events(self, candidate_id: int | None = None) -> list[dict]:
        sql = "SELECT id, candidate_id, kind, actor, at, version, payload FROM events"
        rows = self._db.execute(
            sql + (" WHERE candidate_id = ? ORDER BY id" if candidate_id is not None else " ORDER BY id"),
            (candidate_id,) if candidate_id is not None else (),
        )
        keys = ("id", "candidate_id", "kind", "actor", "at", "version", "payload")
        return [dict(zip(keys, r[:-1] + (json.loads(r[-1]),))) for r in rows]

    def batches(self) -> list[dict]:
        keys = ("id", "created_at", "model_label", "base_model", "adapter", "prompt", "settings")
        rows = self._db.execute(f"SELECT {', '.join(keys)} FROM batches ORDER BY id")
        return [dict(zip(keys, r[:-1] + (json.loads(r[-1]),))) for r in rows]

    def comparisons(self) -> list[dict]:
        keys = ("id", "left_id", "right_id", "choice", "actor", "at")
        return [dict(zip(keys, r)) for r in self._db.execute(f"SELECT {', '.join(keys)} FROM comparisons ORDER BY id")]

    def stats(self) -> list[LabelStats]:
        """Per model label: how many candidates, how many approved, rejected, edited, published, and label counts.

        Labels are counted on decided candidates only, the population every rate divides by: a
        pending candidate's labels (given before a decision, or left by an undone one) count once
        it is decided again."""
        out: dict[str, LabelStats] = {}
        rows = self._db.execute(
            "SELECT model_label, status, final_text IS NOT NULL AND final_text != text, "
            "published_ref IS NOT NULL, labels FROM candidates"
        )
        for label, status, edited, published, labels in rows:
            s = out.setdefault(label, LabelStats(label))
            s.candidates += 1
            s.approved += status == "approved"
            s.rejected += status == "rejected"
            s.edited += bool(edited)
            s.published += bool(published)
            for name in json.loads(labels) if status != "pending" else ():
                s.labels[name] = s.labels.get(name, 0) + 1
        return [out[k] for k in sorted(out)]

    def compare_pair(self) -> tuple[Candidate, Candidate] | None:
        """Two candidates for the same prompt not yet compared with each other; from two model labels if possible."""
        row = self._db.execute(
            """
            SELECT a.id, b.id FROM candidates a JOIN candidates b
              ON a.prompt = b.prompt AND a.id < b.id
            WHERE NOT EXISTS (SELECT 1 FROM comparisons c WHERE c.left_id IN (a.id, b.id)
                              AND c.right_id IN (a.id, b.id))
            ORDER BY a.model_label = b.model_label, a.id, b.id LIMIT 1
            """
        ).fetchone()
        return (self.get(row[0]), self.get(row[1])) if row else None

    # -- decisions ------------------------------------------------------------------------------

    def _change(self, db: _Tx, candidate_id: int, seen_version: int, what: str) -> Candidate:
        row = db.execute(f"SELECT {_COLUMNS} FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
        if row is None:
            raise KeyError(candidate_id)
        current = _candidate(row)
        if current.version != seen_version:
            raise Conflict(_conflict_message(current, what))
        return current

    def _event(self, db: _Tx, candidate_id: int, kind: str, actor: str, version: int, payload: dict, at: str) -> None:
        db.execute(
            "INSERT INTO events (candidate_id, kind, actor, at, version, payload) VALUES (?, ?, ?, ?, ?, ?)",
            (candidate_id, kind, actor, at, version, json.dumps(payload, ensure_ascii=False, sort_keys=True)),
        )

    def decide(
        self,
        candidate_id: int,
        seen_version: int,
        decision: str,
        *,
        text: str | None = None,
        labels: Iterable[str] | None = None,
        note: str | None = None,
        actor: str = "owner",
    ) -> Candidate:
        """Approve or reject a pending candidate, saving an edit, labels and a note with it in one transaction.

        ``text`` different from the generated text is an edit: both texts are kept. Raises Conflict
        if the candidate changed since ``seen_version`` or was already decided.
        """
        if decision not in DECISION_EVENTS:
            raise ValueError(f"unknown decision {decision!r}")
        at = now_iso()
        with self._transaction() as db:
            current = self._change(db, candidate_id, seen_version, decision)
            if current.status != "pending":
                raise Conflict(_conflict_message(current, decision))
            version = current.version
            final_text = current.final_text
            if text is not None and text.strip() != current.current_text.strip():
                if not text.strip():
                    raise ValueError("the edited text is empty")
                final_text = text.strip()
                self._event(
                    db, candidate_id, "edit", actor, version, {"from": current.current_text, "to": final_text}, at
                )
            new_labels = current.labels if labels is None else sorted(set(labels))
            if new_labels != current.labels:
                self._event(db, candidate_id, "label", actor, version, {"from": current.labels, "to": new_labels}, at)
            new_note = current.note if note is None else note.strip()
            if new_note != current.note:
                self._event(db, candidate_id, "note", actor, version, {"from": current.note, "to": new_note}, at)
            version += 1
            self._event(db, candidate_id, DECISION_EVENTS[decision], actor, version, {}, at)
            db.execute(
                "UPDATE candidates SET status = ?, final_text = ?, labels = ?, note = ?, decided_at = ?, "
                "decided_by = ?, version = ? WHERE id = ?",
                (decision, final_text, json.dumps(new_labels), new_note, at, actor, version, candidate_id),
            )
        return self.get(candidate_id)

    def annotate(
        self,
        candidate_id: int,
        seen_version: int,
        *,
        labels: Iterable[str] | None = None,
        note: str | None = None,
        actor: str = "owner",
    ) -> Candidate:
        """Change labels and/or the note of any candidate (decided or not)."""
        at = now_iso()
        with self._transaction() as db:
            current = self._change(db, candidate_id, seen_version, "labelled")
            version = current.version + 1
            new_labels = current.labels if labels is None else sorted(set(labels))
            new_note = current.note if note is None else note.strip()
            if new_labels == current.labels and new_note == current.note:
                return current
            if new_labels != current.labels:
                self._event(db, candidate_id, "label", actor, version, {"from": current.labels, "to": new_labels}, at)
            if new_note != current.note:
                self._event(db, candidate_id, "note", actor, version, {"from": current.note, "to": new_note}, at)
            db.execute(
                "UPDATE candidates SET labels = ?, note = ?, version = ? WHERE id = ?",
                (json.dumps(new_labels), new_note, version, candidate_id),
            )
        return self.get(candidate_id)

    def skip(self, candidate_id: int, actor: str = "owner") -> None:
        """Send a pending candidate to the back of the queue (not a decision: no version change)."""
        at = now_iso()
        with self._transaction() as db:
            row = db.execute("SELECT version, status FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
            if row is None:
                raise KeyError(candidate_id)
            if row[1] != "pending":
                return
            db.execute("UPDATE candidates SET skipped_at = ? WHERE id = ?", (at, candidate_id))
            self._event(db, candidate_id, "skip", actor, row[0], {}, at)

    def undo(self, actor: str = "owner") -> Candidate | None:
        """Take back ``actor``'s most recent approve or reject that is still in force; the candidate is pending again.

        Returns None when there is nothing to undo. Raises Conflict when the candidate changed
        after that decision (someone labelled, published or decided it since).
        """
        at = now_iso()
        with self._transaction() as db:
            row = db.execute(
                """
                SELECT e.candidate_id, e.version, e.kind FROM events e JOIN candidates c ON c.id = e.candidate_id
                WHERE e.actor = ? AND e.kind IN ('approve', 'reject') AND c.status != 'pending'
                  AND NOT EXISTS (SELECT 1 FROM events u WHERE u.candidate_id = e.candidate_id
                                  AND u.kind = 'undo' AND u.id > e.id)
                ORDER BY e.id DESC LIMIT 1
                """,
                (actor,),
            ).fetchone()
            if row is None:
                return None
            candidate_id, decided_version, kind = row
            current = _candidate(
                db.execute(f"SELECT {_COLUMNS} FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
            )
            if current.version != decided_version:
                raise Conflict(
                    f"candidate {candidate_id} changed since you {kind}d it (labelled or published after), "
                    "so the decision was not undone"
                )
            version = current.version + 1
            self._event(db, candidate_id, "undo", actor, version, {"undid": kind, "text": current.current_text}, at)
            db.execute(
                "UPDATE candidates SET status = 'pending', decided_at = NULL, decided_by = NULL, skipped_at = NULL, "
                "version = ? WHERE id = ?",
                (version, candidate_id),
            )
        return self.get(candidate_id)

    def publish(
        self, candidate_id: int, seen_version: int, ref: str, at: str | None = None, actor: str = "owner"
    ) -> Candidate:
        """Record that an approved candidate was posted: its post id or URL, and when (default now)."""
        ref = ref.strip()
        if not ref:
            raise ValueError("give the published post's id or URL")
        published_at = at or now_iso()
        with self._transaction() as db:
            current = self._change(db, candidate_id, seen_version, "published")
            if current.status != "approved":
                raise Conflict(
                    f"candidate {candidate_id} is {current.status}, not approved; only approved posts are published"
                )
            version = current.version + 1
            post_id = post_id_from_ref(ref)
            payload = {"ref": ref, "post_id": post_id, "published_at": published_at}
            self._event(db, candidate_id, "publish", actor, version, payload, now_iso())
            db.execute(
                "UPDATE candidates SET published_ref = ?, published_post_id = ?, published_at = ?, version = ? "
                "WHERE id = ?",
                (ref, post_id, published_at, version, candidate_id),
            )
        return self.get(candidate_id)

    def compare(self, left_id: int, right_id: int, choice: str, actor: str = "owner") -> None:
        """Record which of two candidates for the same prompt is better (``left``, ``right`` or ``tie``)."""
        if choice not in COMPARE_CHOICES:
            raise ValueError(f"choice must be one of {COMPARE_CHOICES}")
        at = now_iso()
        with self._transaction() as db:
            rows = db.execute("SELECT id, prompt FROM candidates WHERE id IN (?, ?)", (left_id, right_id)).fetchall()
            if len(rows) != 2 or rows[0][1] != rows[1][1]:
                raise ValueError("compare two different candidates for the same prompt")
            done = db.execute(
                "SELECT choice, actor, at FROM comparisons WHERE left_id IN (?, ?) AND right_id IN (?, ?)",
                (left_id, right_id, left_id, right_id),
            ).fetchone()
            if done:
                raise Conflict(f"these two were already compared ({done[0]}, by {done[1]} at {done[2]})")
            db.execute(
                "INSERT INTO comparisons (left_id, right_id, choice, actor, at) VALUES (?, ?, ?, ?, ?)",
                (left_id, right_id, choice, actor, at),
            )


class _Tx:
    """The connection inside a transaction (so a migration's statements do not commit on their own)."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db
        self.execute = db.execute

    def executescript_in_tx(self, script: str) -> None:
        for statement in script.split(";"):
            if statement.strip():
                self._db.execute(statement)


def _conflict_message(current: Candidate, what: str) -> str:
    if current.status != "pending" and what in DECISION_EVENTS:
        who = f" by {current.decided_by}" if current.decided_by else ""
        return f"candidate {current.id} was already {current.status}{who} at {current.decided_at}, so it was not {what} now"
    return (
        f"candidate {current.id} changed since you opened it (it is {current.status} now), so it was not "
        f"{what}; look at it again and retry"
    )
