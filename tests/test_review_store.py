"""The review store: decisions as events in one transaction, conflicts, undo, schema versions, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from review_fixtures import candidate, make_store

from engage.errors import UserError
from engage.review.store import DECISION_EVENTS, SCHEMA_VERSION, Conflict, ReviewStore, post_id_from_ref


def test_exact_duplicates_are_stored_once(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": ["hello world", "second post"]})
    batch = store.add_batch("dpo", "base", None, "Write a post:\n", {})
    ids, duplicates = store.add_candidates(
        batch, [candidate("hello world"), candidate("new one"), candidate("new one")]
    )
    assert len(ids) == 1 and duplicates == 2
    assert store.count() == 3


def test_approving_an_edit_keeps_both_texts_and_records_every_change(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": ["the original"]})
    c = store.next_pending()
    done = store.decide(c.id, c.version, "approved", text="the edited one", labels=["funny", "on-brand"], note="nice")
    assert done.status == "approved" and done.text == "the original" and done.final_text == "the edited one"
    assert done.current_text == "the edited one" and done.edited
    assert done.labels == ["funny", "on-brand"] and done.note == "nice"
    kinds = [e["kind"] for e in store.events(c.id)]
    assert kinds == ["edit", "label", "note", "approve"]
    assert store.events(c.id)[0]["payload"] == {"from": "the original", "to": "the edited one"}
    # the state is in the file, not just this connection
    again = ReviewStore(tmp_path / "s.db").get(c.id)
    assert again.final_text == "the edited one" and again.status == "approved"


def test_a_second_reviewer_is_told_not_overwritten(tmp_path):
    make_store(tmp_path / "s.db", {"sft": ["one post"]}).close()
    tab1, tab2 = ReviewStore(tmp_path / "s.db"), ReviewStore(tmp_path / "s.db")
    seen1, seen2 = tab1.next_pending(), tab2.next_pending()
    assert seen1.id == seen2.id
    tab1.decide(seen1.id, seen1.version, "approved", actor="alice")
    with pytest.raises(Conflict, match="already approved by alice"):
        tab2.decide(seen2.id, seen2.version, "rejected", actor="bob")
    with pytest.raises(Conflict):
        tab2.annotate(seen2.id, seen2.version, labels=["funny"], actor="bob")
    final = tab1.get(seen1.id)
    assert final.status == "approved" and final.labels == [] and final.decided_by == "alice"
    assert [e["kind"] for e in tab1.events(seen1.id)] == ["approve"]


def test_a_decided_candidate_is_never_decided_again_even_at_its_current_version(tmp_path):
    """A reviewer who loaded the candidate after it was approved holds its current version: still refused."""
    make_store(tmp_path / "s.db", {"sft": ["one post"]}).close()
    tab1, tab2 = ReviewStore(tmp_path / "s.db"), ReviewStore(tmp_path / "s.db")
    seen = tab1.next_pending()
    approved = tab1.decide(seen.id, seen.version, "approved", actor="alice")
    current = tab2.get(seen.id)
    assert current.version == approved.version
    for decision in ("rejected", "approved"):
        with pytest.raises(Conflict, match="already approved by alice"):
            tab2.decide(current.id, current.version, decision, actor="bob")
    final = tab1.get(seen.id)
    assert final.status == "approved" and final.decided_by == "alice"
    assert [e["kind"] for e in tab1.events(seen.id)] == ["approve"]


@pytest.mark.parametrize("failing", ["approve", "reject", "edit"])
def test_a_failed_event_write_leaves_the_candidate_undecided(tmp_path, failing):
    """The decision and its events are one transaction: if an event cannot be written, nothing is decided."""
    make_store(tmp_path / "s.db", {"sft": ["one post"]}).close()
    with sqlite3.connect(tmp_path / "s.db") as db:  # the disk fills up exactly when this event is written
        db.execute(
            f"CREATE TRIGGER fail BEFORE INSERT ON events WHEN NEW.kind = '{failing}' "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    store = ReviewStore(tmp_path / "s.db")
    c = store.next_pending()
    decision = "rejected" if failing == "reject" else "approved"
    with pytest.raises(sqlite3.DatabaseError, match="disk is full"):
        store.decide(c.id, c.version, decision, text="an edited post", labels=["funny"])
    again = ReviewStore(tmp_path / "s.db").get(c.id)
    assert (again.status, again.version, again.final_text, again.labels) == ("pending", c.version, None, [])
    assert store.events(c.id) == []


def test_undo_takes_back_my_latest_decision_only(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": ["a", "b", "c"]})
    a, b, c = store.candidates()
    store.decide(a.id, a.version, "approved", actor="me")
    store.decide(b.id, b.version, "rejected", actor="other")
    store.decide(c.id, c.version, "rejected", actor="me")
    assert store.undo("me").id == c.id
    assert store.get(c.id).status == "pending"
    assert store.undo("me").id == a.id
    assert store.undo("me") is None
    assert store.get(b.id).status == "rejected", "someone else's decision is not mine to undo"
    redo = store.get(a.id)
    store.decide(a.id, redo.version, "rejected", actor="me")
    assert store.get(a.id).status == "rejected"


def test_undo_refuses_when_the_candidate_moved_on(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": ["a"]})
    a = store.next_pending()
    a = store.decide(a.id, a.version, "approved", actor="me")
    store.publish(a.id, a.version, "https://x.com/me/status/1857000000000000001", actor="me")
    with pytest.raises(Conflict, match="changed since"):
        store.undo("me")
    assert store.get(a.id).status == "approved"


def test_skip_sends_a_candidate_to_the_back(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": ["first", "second", "third"]})
    first = store.next_pending()
    store.skip(first.id)
    assert store.next_pending().text == "second"
    second = store.next_pending()
    store.skip(second.id)
    third = store.next_pending()
    assert third.text == "third"
    store.decide(third.id, third.version, "approved")
    assert store.next_pending().text == "first", "the longest-skipped comes back first"


def test_publish_only_approved_and_reads_the_post_id(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": ["a", "b"]})
    a, b = store.candidates()
    with pytest.raises(Conflict, match="not approved"):
        store.publish(a.id, a.version, "123456789")
    a = store.decide(a.id, a.version, "approved")
    done = store.publish(a.id, a.version, "https://x.com/owner/status/1857123456789012345?s=20", "2024-11-20T10:00:00Z")
    assert done.published_post_id == "1857123456789012345" and done.published_at == "2024-11-20T10:00:00Z"
    assert post_id_from_ref("1857123456789012345") == "1857123456789012345"
    assert post_id_from_ref("https://example.com/blog") is None


def test_compare_records_a_choice_once(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": ["s1", "s2"], "dpo": ["d1"]})
    left, right = store.compare_pair()
    assert left.model_label != right.model_label, "two models first, when there are two"
    store.compare(left.id, right.id, "right")
    with pytest.raises(Conflict, match="already compared"):
        store.compare(right.id, left.id, "left")
    assert store.comparisons()[0]["choice"] == "right"
    assert store.compare_pair() is not None


def test_stats_per_model(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": ["a", "b", "c"], "dpo": ["d", "e"]})
    for c in store.candidates():
        if c.text in ("a", "d", "e"):
            store.decide(c.id, c.version, "approved", labels=["funny"] if c.text == "d" else [])
        elif c.text == "b":
            store.decide(c.id, c.version, "rejected", labels=["engagement bait"])
    stats = {s.model_label: s for s in store.stats()}
    assert (stats["sft"].candidates, stats["sft"].approved, stats["sft"].rejected, stats["sft"].pending) == (3, 1, 1, 1)
    assert (stats["dpo"].approved, stats["dpo"].decided, stats["dpo"].labels) == (2, 2, {"funny": 1})
    assert stats["sft"].labels == {"engagement bait": 1}


def test_schema_is_versioned_and_checked(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": ["a"]})
    assert store.schema_version == SCHEMA_VERSION
    store.close()
    db = sqlite3.connect(tmp_path / "s.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(UserError, match="newer engage"):
        ReviewStore(tmp_path / "s.db")
    other = sqlite3.connect(tmp_path / "other.db")
    other.execute("CREATE TABLE t (x)")
    other.close()
    with pytest.raises(UserError, match="not an engage review store"):
        ReviewStore(tmp_path / "other.db")
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(UserError, match="not a review store"):
        ReviewStore(tmp_path / "junk.db")
    with pytest.raises(UserError, match="does not exist"):
        ReviewStore(tmp_path / "missing.db")


WRITER = textwrap.dedent(
    """
    import sys
    from engage.review.store import ReviewStore
    store = ReviewStore(sys.argv[1])
    while True:
        c = store.next_pending()
        if c is None:
            break
        decision = "approved" if c.id % 2 else "rejected"
        store.decide(c.id, c.version, decision, text=c.text + " (edited)" if c.id % 3 == 0 else None,
                     labels=["funny"], note=f"note {c.id}")
        print(c.id, decision, flush=True)  # confirmed only after the commit returned
    """
)


def test_every_confirmed_decision_survives_sigkill(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": [f"post number {i}" for i in range(3000)]})
    store.close()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path / "s.db")], stdout=subprocess.PIPE, text=True, env=env
    )
    confirmed = {}
    deadline = time.monotonic() + 120
    while len(confirmed) < 40 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        cid, decision = line.split()
        confirmed[int(cid)] = decision
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # whatever it printed after we stopped reading was confirmed too
    for line in proc.stdout.read().splitlines():
        cid, decision = line.split()
        confirmed[int(cid)] = decision
    assert len(confirmed) >= 40
    store = ReviewStore(tmp_path / "s.db")
    for cid, decision in confirmed.items():
        c = store.get(cid)
        assert c.status == decision and c.labels == ["funny"] and c.note == f"note {cid}"
        assert (c.final_text is not None) == (cid % 3 == 0)
        assert [e["kind"] for e in store.events(cid)][-1] == DECISION_EVENTS[decision]
    decided = store.count("approved") + store.count("rejected")
    assert decided in (len(confirmed), len(confirmed) + 1), (
        "at most the one in flight is extra (committed, unconfirmed)"
    )
    for c in store.candidates("approved") + store.candidates("rejected"):  # the one in flight included
        kinds = [e["kind"] for e in store.events(c.id)]
        assert kinds.count(DECISION_EVENTS[c.status]) == 1 and kinds[-1] == DECISION_EVENTS[c.status], (c.id, kinds)
        edits = [e["payload"] for e in store.events(c.id) if e["kind"] == "edit"]
        assert edits == ([{"from": c.text, "to": c.final_text}] if c.final_text is not None else [])
    for c in store.candidates("pending"):
        assert store.events(c.id) == [], "nothing of an unconfirmed, uncommitted decision is left"
