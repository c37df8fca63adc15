"""The simulated audience and owner: a documented function of the text, the sample archive made from it,
and an owner who reviews through the store's API."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from review_fixtures import make_store

from archive_parsers import read_posts
from engage.simulation.audience import BAIT, SLOTS, SimulatedOwner, is_bait, phrases_found, word_quality

HONEST = [(slot, p, e) for slot, phrases in SLOTS.items() if slot != "bait" for p, e in phrases if p]


def test_every_sample_post_has_the_quality_the_audience_scores_its_text(sample_2024):
    """The planted quality is not a hidden per-post number: it is word_quality of the post's own text."""
    path, truth = sample_2024
    posts = {p.id: p for p in read_posts(path).posts}
    checked = 0
    for pid, quality in truth.quality.items():
        if truth.kind[pid] in ("original", "quote", "community", "long", "edit_final") and pid in posts:
            post = posts[pid]
            if post.has_link:  # the archive's text holds the link where the generator's text has none
                continue
            assert math.isclose(word_quality(post.text), quality, abs_tol=1e-9), post.text
            checked += 1
    assert checked > 500


def test_the_audience_rewards_bait_in_the_sample_archive(sample_2024):
    """Bait posts get more engagement than honest ones made in the same year (the trap the owner must avoid)."""
    path, _ = sample_2024
    posts = [p for p in read_posts(path).posts if p.kind == "original" and not p.has_media and not p.has_link]
    by_year: dict[int, dict[bool, list[int]]] = {}
    for p in posts:
        by_year.setdefault(p.created_at.year, {True: [], False: []})[is_bait(p.text)].append(p.likes)
    ratios = [np.mean(v[True]) / max(np.mean(v[False]), 1e-9) for v in by_year.values() if len(v[True]) >= 5]
    assert ratios and np.median(ratios) > 1.5
    share = sum(is_bait(p.text) for p in posts) / len(posts)
    assert 0.04 < share < 0.14


@given(st.lists(st.sampled_from(HONEST), min_size=1, max_size=6), st.integers(1, 4))
def test_repeating_phrases_of_a_slot_never_raises_the_score(parts, times):
    text = " ".join(p for _, p, _ in parts)
    repeated = " ".join([text] * times)
    assert math.isclose(word_quality(repeated), word_quality(text), abs_tol=1e-12)
    expected = 0.0
    for slot in {s for s, _, _ in parts}:
        found = phrases_found(text)[slot]
        expected += sum(found) / len(found)
    assert math.isclose(word_quality(text), expected, abs_tol=1e-12)


def test_phrases_are_found_as_whole_words_in_any_case():
    assert word_quality("until the CIA called") == 0.0  # not "TIL", not "CI"
    assert word_quality("quick tip: RUST IS UNDERRATED.") == 0.45 + 0.3 + 0.3
    assert word_quality("A post about nothing we know.") == 0.0
    assert is_bait("Regex is overrated. rt if you agree.") and not is_bait("Regex is overrated.")
    assert word_quality("Rust is underrated. RT if you agree.", include_bait=False) == 0.6
    assert min(e for _, e in BAIT) > max(e for _, p, e in HONEST)


def test_the_owner_rejects_bait_and_copies_and_approves_only_good_posts():
    owner = SimulatedOwner()
    assert owner.judge("Quick tip: Rust is underrated. RT if you agree.").labels == ("engagement bait",)
    assert owner.judge("Quick tip: Rust is underrated.").decision == "approved"
    copy = owner.judge("Quick tip: Rust is underrated.", near_copy=True)
    assert (copy.decision, copy.labels) == ("rejected", ("repetitive",))
    assert owner.judge("Quick tip: Rust is underrated.", too_long=True).decision == "rejected"
    assert owner.judge("Meh. My commute happened again.").decision == "rejected"
    assert owner.judge("I am an AI assistant. How can I help you today?").decision == "rejected"


def test_the_owner_reviews_through_the_store_as_a_person_would(tmp_path):
    texts = {
        "sft": [
            "Quick tip: SQL is underrated.",
            "Meh. Coffee is boring.",
            "Hot take: Rust is overrated. Prove me wrong.",
        ],
        "dpo": [
            "Unpopular opinion: open source saved my week.",
            "Like if you agree.",
            "Quick tip: SQL is underrated. " * 12,
        ],
    }
    with make_store(tmp_path / "s.db", texts) as store:
        counts = SimulatedOwner().review(store, model_labels=["sft"])
        assert counts == {"approved": 1, "rejected": 2, "engagement bait": 1, "repetitive": 0}
        by_text = {c.text: c for c in store.candidates()}
        assert by_text["Quick tip: SQL is underrated."].status == "approved"
        assert by_text["Hot take: Rust is overrated. Prove me wrong."].labels == ["engagement bait"]
        assert {c.status for c in store.candidates() if c.model_label == "dpo"} == {"pending"}
        decided = [e for e in store.events() if e["kind"] in ("approve", "reject")]
        assert len(decided) == 3 and {e["actor"] for e in decided} == {"simulated-owner"}
        SimulatedOwner().review(store)
        assert store.count("pending") == 0
        assert by_text["Quick tip: SQL is underrated. " * 12].flags["too_long"]
        assert store.get(by_text["Quick tip: SQL is underrated. " * 12].id).status == "rejected"
