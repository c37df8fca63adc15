"""engage generate with the tiny model: batched sampling into the store, flags, duplicates, one-line errors."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest
import regex
from conftest import run_engage
from hypothesis import given
from hypothesis import strategies as st

from engage.review.near_copy import NearCopyIndex
from engage.review.post_flags import X_LIMIT, find_urls, flag_post, weighted_length
from engage.review.store import ReviewStore


def test_generate_stores_candidates_with_their_origin_and_flags(tiny_adapter, tmp_path):
    data, model_dir, adapter = tiny_adapter
    store = tmp_path / "engage.db"
    proc = run_engage("generate", "--adapter", adapter, "--dataset_dir", data, "--label", "sft-v1", "--n", 10,
                      "--batch-size", 4, "--max-new-tokens", 24, "--seed", 1, "--store", store)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "stored 10 new candidates labelled 'sft-v1'" in proc.stderr
    with ReviewStore(store) as s:
        cands = s.candidates()
        (batch,) = s.batches()
    assert len(cands) == 10 and all(c.status == "pending" and c.model_label == "sft-v1" for c in cands)
    assert batch["base_model"] == str(model_dir) and batch["adapter"] == str(adapter)
    assert batch["prompt"] == json.loads((data / "stats.json").read_text())["prompt"]
    assert batch["settings"]["temperature"] == 0.9 and batch["settings"]["batch_size"] == 4
    assert batch["settings"]["load_in_4bit"] is False, "plain weights on a CPU"
    for c in cands:
        assert c.text and c.prompt == batch["prompt"]
        assert set(c.flags) >= {"mentions", "urls", "hashtags", "too_long", "near_copy", "length"}
        assert c.nearest_post_id is not None and 0 <= c.nearest_similarity <= 1

    # the same seed samples the same texts first: those are not stored twice, and sampling goes on for new ones
    again = run_engage("generate", "--adapter", adapter, "--dataset_dir", data, "--label", "sft-v1", "--n", 10,
                       "--batch-size", 4, "--max-new-tokens", 24, "--seed", 1, "--store", store)  # fmt: skip
    assert again.returncode == 0, again.stderr
    duplicates = int(re.search(r"(\d+) duplicates", again.stderr).group(1))
    assert duplicates >= 10, again.stderr
    with ReviewStore(store) as s:
        texts = [c.text for c in s.candidates()]
    assert len(texts) == 20 and len(set(texts)) == 20


def test_near_copy_threshold_flags_candidates(tiny_adapter, tmp_path):
    data, _, adapter = tiny_adapter
    store = tmp_path / "engage.db"
    proc = run_engage("generate", "--adapter", adapter, "--dataset_dir", data, "--n", 3, "--max-new-tokens", 8,
                      "--copy-threshold", 0, "--store", store, "--quiet")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # --quiet: none of engage's own progress (libraries' messages are theirs, not checked here)
    assert not [line for line in proc.stderr.splitlines() if line.startswith("engage") or "generating" in line]
    with ReviewStore(store) as s:
        assert all(c.flags["near_copy"] for c in s.candidates())
        assert {c.model_label for c in s.candidates()} == {"adapter"}, "label defaults to the adapter folder name"


def test_generate_errors_are_one_line(tiny_adapter, tmp_path):
    data, _, adapter = tiny_adapter
    cases = [
        (("--adapter", tmp_path, "--store", tmp_path / "s.db"), "holds no adapter"),
        (("--adapter", adapter, "--store", tmp_path / "s.db"), "pass --dataset_dir"),
        (("--adapter", adapter, "--dataset_dir", tmp_path, "--store", tmp_path / "s.db"), "not a folder `engage build-dataset` wrote"),
        (("--model", tmp_path / "nothing", "--dataset_dir", data, "--store", tmp_path / "s.db"), "cannot load the model"),
        (("--adapter", adapter, "--dataset_dir", data, "--store", tmp_path), "is a folder"),
    ]  # fmt: skip
    for args, message in cases:
        proc = run_engage("generate", *args)
        assert proc.returncode == 1, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr, proc.stderr


def test_flags():
    f = flag_post("Thanks @alice! Read https://example.com/a-very-long-path #python #3")
    assert f.mentions == ("@alice",) and f.urls == ("https://example.com/a-very-long-path",)
    assert f.hashtags == ("#python",) and not f.too_long and f.names() == ["mention", "url", "hashtag"]
    assert flag_post("email me at me@example.com").mentions == ()
    assert weighted_length("https://example.com/" + "x" * 200) == 23, "a link counts 23 whatever its length"
    assert weighted_length("日本") == 4 and weighted_length("ab") == 2
    assert flag_post("x" * 281).too_long and not flag_post("x" * 280).too_long
    assert flag_post("日" * 141).too_long


@given(st.text(max_size=400))
def test_weighted_length_bounds(text):
    n = weighted_length(text)
    normal = unicodedata.normalize("NFC", text)
    if not find_urls(normal):  # each character counts 1 or 2, an emoji sequence 2 in all
        assert len(regex.findall(r"\X", normal)) <= n <= 2 * len(normal)
    assert flag_post(text).too_long == (n > X_LIMIT)


@given(
    st.text(alphabet=st.sampled_from("abcxyz ,!?'"), max_size=400),
    st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=200),
)
def test_latin_counts_one_and_cjk_two(latin, cjk):
    assert weighted_length(latin) == len(latin)
    assert weighted_length(cjk) == 2 * len(cjk)
    assert weighted_length(latin + cjk) == len(latin) + 2 * len(cjk)


@given(st.lists(st.text(min_size=5, max_size=120), min_size=1, max_size=30), st.data())
def test_a_post_is_its_own_nearest_copy(posts, data):
    index = NearCopyIndex([(str(i), t) for i, t in enumerate(posts)])
    i = data.draw(st.integers(0, len(posts) - 1))
    if not posts[i].strip():
        return
    nearest = index.nearest(posts[i].upper() if posts[i].isascii() else posts[i])
    assert nearest is not None and nearest.similarity == 1.0
    assert " ".join(nearest.text.lower().split()) == " ".join(posts[i].lower().split())


def test_near_copy_similarity_is_graded():
    index = NearCopyIndex([("1", "Hot take: SQL deserves a better name."), ("2", "Coffee saved my week.")])
    close = index.nearest("Hot take: SQL deserves a much better name!")
    assert close.post_id == "1" and 0.8 <= close.similarity < 1
    far = index.nearest("Completely unrelated words about gardening")
    assert far is None or far.similarity < 0.5


@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_bad_sampling_flags(value, tmp_path):
    proc = run_engage("generate", "--model", "m", "--store", tmp_path / "s.db", "--temperature", value)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
