"""The review app's server side, called directly: what each button does to the store and says back."""

from __future__ import annotations

import csv
import json

import pytest
from conftest import run_engage
from review_fixtures import make_store, score_bound

from engage.review.store import ReviewStore
from engage.stats import wilson
from review_app import handlers

HOSTILE = ['<script>alert("x")</script> hello', '<img src=x onerror="alert(1)"> hi']


def test_queue_approve_edit_reject_skip_undo(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": ["first post", "second post", "third post"]})
    view = handlers.show_next(store)
    assert view.text == "first post" and view.progress.startswith("3 pending")
    view = handlers.act(store, "approve", view.id, view.version, "first post, edited", ["funny"], "keep", "me")
    assert view.message == "Approved candidate 1 (edited; the original is kept)." and view.text == "second post"
    first = store.get(1)
    assert (first.text, first.final_text, first.labels, first.note) == (
        "first post",
        "first post, edited",
        ["funny"],
        "keep",
    )
    view = handlers.act(store, "skip", view.id, view.version, actor="me")
    assert view.text == "third post"
    view = handlers.act(store, "reject", view.id, view.version, view.text, ["repetitive"], "", "me")
    assert view.text == "second post" and store.get(3).status == "rejected"
    view = handlers.act(store, "undo", view.id, view.version, actor="me")
    assert view.id == 3 and view.message.startswith("Undone") and store.get(3).status == "pending"
    assert view.labels == ["repetitive"], "labels stay with the candidate"


def test_second_tab_is_told(tmp_path):
    make_store(tmp_path / "s.db", {"sft": ["only post"]}).close()
    tab1, tab2 = ReviewStore(tmp_path / "s.db"), ReviewStore(tmp_path / "s.db")
    v1, v2 = handlers.show_next(tab1), handlers.show_next(tab2)
    handlers.act(tab1, "approve", v1.id, v1.version, v1.text, [], "", "alice")
    after = handlers.act(tab2, "reject", v2.id, v2.version, v2.text, [], "", "bob")
    assert "was already approved by alice" in after.message and after.message.startswith("Not saved")
    assert tab1.get(v1.id).status == "approved"


def test_empty_edit_is_refused(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": ["a post"]})
    view = handlers.show_next(store)
    after = handlers.act(store, "approve", view.id, view.version, "   ", [], "", "me")
    assert "empty" in after.message and store.get(view.id).status == "pending"


def test_hostile_text_is_kept_as_text(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": HOSTILE})
    view = handlers.show_next(store)
    assert view.text == HOSTILE[0], "stored and shown exactly, never rewritten or interpreted"


def test_compare_and_approved_and_publish(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": ["s1"], "dpo": ["d1"]})
    pair = handlers.show_pair(store)
    assert {pair.left_model, pair.right_model} == {"sft", "dpo"}
    after = handlers.choose(store, pair.left_id, pair.right_id, "tie", "me")
    assert after.message.startswith("Saved: a tie.") and after.left_id is None
    left_model = store.get(pair.left_id).model_label
    assert f"Left ({pair.left_id}) was {left_model}" in after.message, "the models are named once the choice is saved"
    c = store.get(1)
    store.decide(c.id, c.version, "approved")
    assert handlers.approved_rows(store)[0][0] == 1
    text, version, _ = handlers.approved_one(store, 1)
    assert text == "s1"
    assert handlers.approved_one(store, 2)[2] == "Candidate 2 is pending, not approved."
    assert "not a time" in handlers.publish(store, 1, version, "123456789", "yesterday")
    msg = handlers.publish(store, 1, version, "https://x.com/o/status/1857123456789012345", "2024-11-20 10:00")
    assert msg.startswith("Marked candidate 1 published") and store.get(1).published_at == "2024-11-20T10:00:00Z"
    assert "changed since" in handlers.publish(store, 1, version, "1857123456789012346")


def test_stats_rows_use_the_wilson_interval(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": [f"s{i}" for i in range(10)]})
    for c in store.candidates():
        store.decide(c.id, c.version, "approved" if c.id <= 3 else "rejected", labels=["funny"] if c.id == 1 else [])
    rows, headers, label_rows = handlers.stats_rows(store)
    lo, hi = wilson(3, 10)
    assert rows == [["sft", 10, 10, 3, 7, "30%", f"{lo:.0%} – {hi:.0%}", 0, 0]]
    assert headers == ["model", "funny"] and label_rows == [["sft", 1]]


@pytest.mark.parametrize("k,n", [(8, 80), (8, 38), (0, 10), (10, 10), (1, 2), (57, 300)])
def test_wilson_matches_the_score_interval(k, n):
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(score_bound(k, n, upper=False), abs=1e-9)
    assert hi == pytest.approx(score_bound(k, n, upper=True), abs=1e-9)
    assert wilson(0, 0) == (0.0, 1.0)


def test_export_only_approved_with_the_label(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": ["approved one", "rejected one", "pending one", "edited one"]})
    for c in store.candidates():
        if c.text == "approved one":
            store.decide(c.id, c.version, "approved")
        elif c.text == "rejected one":
            store.decide(c.id, c.version, "rejected")
        elif c.text == "edited one":
            store.decide(c.id, c.version, "approved", text="edited, better")
    store.close()
    out = tmp_path / "approved.csv"
    proc = run_engage("export", "--store", tmp_path / "s.db", "--out", out)
    assert proc.returncode == 0 and "wrote 2 approved posts" in proc.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["text"] for r in rows] == ["approved one\n\n(AI-generated)", "edited, better\n\n(AI-generated)"]
    assert rows[1]["edited"] == "True" and rows[0]["model_label"] == "sft" and rows[0]["decided_at"]
    again = run_engage("export", "--store", tmp_path / "s.db", "--out", out)
    assert again.returncode == 1 and "already exists" in again.stderr
    jsonl = tmp_path / "approved.jsonl"
    proc = run_engage("export", "--store", tmp_path / "s.db", "--out", jsonl, "--no-label")
    assert "without the AI-generated label" in proc.stderr
    assert [json.loads(line)["text"] for line in jsonl.open()] == ["approved one", "edited, better"]
    proc = run_engage(
        "export", "--store", tmp_path / "s.db", "--out", tmp_path / "x.jsonl", "--label-text", "Written with AI"
    )
    assert json.loads((tmp_path / "x.jsonl").read_text().splitlines()[0])["text"].endswith("\n\nWritten with AI")
    bad = run_engage("export", "--store", tmp_path / "s.db", "--out", tmp_path / "x.txt")
    assert bad.returncode == 1 and "should end in .csv or .jsonl" in bad.stderr


def test_review_refuses_a_public_host_without_auth(tmp_path):
    make_store(tmp_path / "s.db", {"sft": ["a"]}).close()
    proc = run_engage("review", "--store", tmp_path / "s.db", "--host", "0.0.0.0")
    assert proc.returncode == 1 and "--auth" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    missing = run_engage("review", "--store", tmp_path / "nope.db")
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_review_headless_prints_the_queue_and_stats(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": ["a", "b"]})
    c = store.next_pending()
    store.decide(c.id, c.version, "approved")
    store.close()
    proc = run_engage("review", "--store", tmp_path / "s.db", "--headless")
    assert proc.returncode == 0
    assert "1 candidates waiting for review" in proc.stdout and "sft\t2\t1\t1\t0\t100%" in proc.stdout


def test_compare_sides_do_not_follow_the_model(tmp_path):
    """Generation adds one model's candidates before the other's: sides by id order would tell the models apart."""
    store = make_store(tmp_path / "s.db", {"sft": [f"s{i}" for i in range(12)], "dpo": [f"d{i}" for i in range(12)]})
    lefts = []
    for _ in range(12):
        pair = handlers.show_pair(store)
        assert pair.left_model != pair.right_model
        lefts.append(pair.left_model)
        assert handlers.show_pair(store).left_id == pair.left_id, "a reload shows the same sides"
        handlers.choose(store, pair.left_id, pair.right_id, "tie")
    assert set(lefts) == {"sft", "dpo"}


def test_refused_actions_are_warnings(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft": ["first post", "second post"]})
    view = handlers.show_next(store)
    assert not handlers.act(store, "approve", view.id, view.version, view.text).warning
    again = handlers.act(store, "reject", view.id, view.version, view.text)
    assert again.warning and "already approved" in again.message
