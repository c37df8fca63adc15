"""build-dataset end to end: the output contract, the data rules on real output, atomic writing."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from engage.dataset.build import BuildSettings, build_dataset
from engage.dataset.pairing import PairRule
from engage.errors import UserError


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def built(sample_2024, tmp_path_factory):
    out = tmp_path_factory.mktemp("built") / "data"
    stats = build_dataset(sample_2024[0], out, BuildSettings())
    return out, stats, sample_2024[1]


def test_outputs_exist_and_match_the_contract(built):
    out, stats, truth = built
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "README.md", "dpo/test.jsonl", "dpo/train.jsonl", "posts.parquet", "sft/test.jsonl", "sft/train.jsonl", "stats.json",
    ]  # fmt: skip
    for split in ("train", "test"):
        for row in rows(out / "sft" / f"{split}.jsonl"):
            assert set(row) == {"prompt", "completion", "id", "score", "created_at"}
            assert row["prompt"] == "Write a post in the voice of @sample_owner:\n"
            assert "http" not in row["completion"], "default link policy strips URLs"
        for row in rows(out / "dpo" / f"{split}.jsonl"):
            assert {"prompt", "chosen", "rejected", "chosen_id", "rejected_id", "chosen_score", "rejected_score",
                    "seconds_apart", "score_ratio"} <= set(row)  # fmt: skip
            assert row["seconds_apart"] <= 3 * 3600
    table = pq.read_table(out / "posts.parquet").to_pylist()
    assert len(table) == stats["counts"]["posts_read"] == len(truth.kind)
    for r in table:
        assert r["kept"] == (r["reason"] is None)
        assert r["score"] == r["likes"] + 3 * r["reposts"]
        if truth.kind[r["id"]] == "repost":
            assert r["reason"] == "repost"
        if truth.kind[r["id"]] == "reply":
            assert r["reason"] == "reply"
    card = (out / "README.md").read_text()
    for needle in ("Why posts were left out", "Years", "DPO pairs", "seconds apart", "load_dataset"):
        assert needle in card


def test_sft_is_the_top_fraction_of_eligible_posts_within_each_side_of_the_split(built):
    out, stats, _ = built
    table = pq.read_table(out / "posts.parquet").to_pylist()
    for split in ("train", "test"):
        eligible = [r for r in table if r["kept"] and r["split"] == split]
        sft = [r for r in eligible if r["in_sft"]]
        assert len(sft) == math.ceil(0.1 * len(eligible) - 1e-9)
        assert min(r["score"] for r in sft) >= max(r["score"] for r in eligible if not r["in_sft"])
        assert {r["id"] for r in rows(out / "sft" / f"{split}.jsonl")} == {r["id"] for r in sft}
    # The test set holds about --test-fraction of the SFT rows, not the few top posts of all time that are recent.
    n_train, n_test = stats["counts"]["sft"]["train"], stats["counts"]["sft"]["test"]
    assert abs(n_test / (n_train + n_test) - 0.1) < 0.03


def test_no_post_in_both_train_and_test_and_test_is_newest(built):
    out, stats, _ = built

    def ids(split):
        sft = {r["id"] for r in rows(out / "sft" / f"{split}.jsonl")}
        dpo = {i for r in rows(out / "dpo" / f"{split}.jsonl") for i in (r["chosen_id"], r["rejected_id"])}
        return sft | dpo

    assert not ids("train") & ids("test")
    table = {r["id"]: r for r in pq.read_table(out / "posts.parquet").to_pylist()}
    train_times = [table[i]["created_at"] for i in ids("train")]
    test_times = [table[i]["created_at"] for i in ids("test")]
    assert max(train_times) < min(test_times)


def test_pairs_prefer_the_better_worded_post(built):
    out, _, truth = built
    right = wrong = 0
    for split in ("train", "test"):
        for r in rows(out / "dpo" / f"{split}.jsonl"):
            qc, qr = truth.quality[r["chosen_id"]], truth.quality[r["rejected_id"]]
            right += qc > qr
            wrong += qc < qr
    assert right + wrong > 100
    assert right / (right + wrong) > 0.8


def test_too_recent_posts_are_left_out(built):
    out, stats, _ = built
    table = pq.read_table(out / "posts.parquet").to_pylist()
    gen = stats["as_of"]
    from datetime import datetime

    as_of = datetime.fromisoformat(gen)
    for r in table:
        if r["reason"] == "too_recent":
            assert r["created_at"] > as_of - timedelta(days=7)
        elif r["kept"]:
            assert r["created_at"] <= as_of - timedelta(days=7)
    assert stats["counts"]["left_out"].get("too_recent", 0) > 0


def test_relative_rank_spreads_the_sft_set_over_the_years(sample_2024, tmp_path):
    """Relative ranking picks SFT posts across the years more like the posts themselves are spread (total
    variation distance between the SFT set's year shares and the eligible posts' year shares)."""
    distance = {}
    for rank in ("absolute", "relative"):
        stats = build_dataset(sample_2024[0], tmp_path / rank, BuildSettings(rank=rank))
        sft, eligible = stats["distributions"]["years_sft"], stats["distributions"]["years_eligible"]
        n_sft, n_eligible = sum(sft.values()), sum(eligible.values())
        distance[rank] = sum(abs(sft.get(y, 0) / n_sft - eligible[y] / n_eligible) for y in eligible) / 2
    assert distance["relative"] < distance["absolute"] - 0.1, distance


def test_chat_format_placeholder_links_and_custom_prompt(sample_2024, tmp_path):
    settings = BuildSettings(
        format="chat", links="placeholder", prompt="Post as {display_name} (@{handle})", include_replies=True
    )
    stats = build_dataset(sample_2024[0], tmp_path / "out", settings)
    sft = rows(tmp_path / "out" / "sft" / "train.jsonl")
    assert sft[0]["prompt"] == [{"role": "user", "content": "Post as Sample Owner (@sample_owner)"}]
    assert sft[0]["completion"][0]["role"] == "assistant"
    dpo = rows(tmp_path / "out" / "dpo" / "train.jsonl")
    assert dpo[0]["chosen"][0]["role"] == "assistant" and dpo[0]["rejected"][0]["role"] == "assistant"
    texts = [r["completion"][0]["content"] for r in sft]
    assert any("<link>" in t for t in texts) and not any("http" in t for t in texts)
    assert "reply" not in stats["counts"]["left_out"]


def test_pair_options_change_the_pairs(sample_2024, tmp_path):
    bare = build_dataset(sample_2024[0], tmp_path / "bare", BuildSettings(pairs=PairRule(match=(), adjust="none")))
    rows_bare = rows(tmp_path / "bare" / "dpo" / "train.jsonl")
    assert all("adjusted_ratio" not in r for r in rows_bare)
    assert all(r["score_ratio"] >= 2 for r in rows_bare)
    wide = build_dataset(
        sample_2024[0], tmp_path / "wide", BuildSettings(pairs=PairRule(window=timedelta(days=2), max_pairs_per_post=1))
    )
    assert bare["counts"]["dpo"]["train"] != wide["counts"]["dpo"]["train"]
    table = pq.read_table(tmp_path / "wide" / "posts.parquet").to_pylist()
    assert max(r["dpo_pairs"] for r in table) == 1


def test_existing_out_is_refused_then_replaced_with_force(sample_2024, tmp_path):
    out = tmp_path / "out"
    build_dataset(sample_2024[0], out, BuildSettings())
    with pytest.raises(UserError, match="--force"):
        build_dataset(sample_2024[0], out, BuildSettings())
    build_dataset(sample_2024[0], out, BuildSettings(top_fraction=0.2), force=True)
    assert json.loads((out / "stats.json").read_text())["settings"]["top_fraction"] == 0.2
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "no staging or old folders left behind"


def test_force_never_replaces_a_folder_engage_did_not_write(sample_2024, tmp_path):
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(UserError, match="not a folder engage wrote"):
        build_dataset(sample_2024[0], precious, BuildSettings(), force=True)
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_an_interrupted_run_leaves_nothing_that_looks_complete(sample_2024, tmp_path, monkeypatch):
    import engage.dataset.build

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engage.dataset.build, "write_posts_table", boom)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(sample_2024[0], tmp_path / "out", BuildSettings())
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_force_run_keeps_the_previous_output(sample_2024, tmp_path, monkeypatch):
    import engage.dataset.build

    out = tmp_path / "out"
    build_dataset(sample_2024[0], out, BuildSettings())
    before = (out / "stats.json").read_text()
    monkeypatch.setattr(engage.dataset.build, "write_card", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        build_dataset(sample_2024[0], out, BuildSettings(top_fraction=0.3), force=True)
    assert (out / "stats.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_same_input_and_settings_give_the_same_datasets(sample_2024, tmp_path):
    for name in ("a", "b"):
        build_dataset(sample_2024[0], tmp_path / name, BuildSettings())
    for f in ("sft/train.jsonl", "sft/test.jsonl", "dpo/train.jsonl", "dpo/test.jsonl"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_parallel_and_serial_parsing_agree(sample_2024, tmp_path, monkeypatch):
    import archive_parsers.x_archive as xa
    from archive_parsers import read_posts

    serial = read_posts(sample_2024[0])
    monkeypatch.setattr(xa, "PARALLEL_MIN_BYTES", 0)
    parallel = read_posts(sample_2024[0])
    assert serial.posts == parallel.posts, "every field of every post, times included, survives the trip"
    assert serial.counts == parallel.counts


def test_a_damaged_part_stops_the_parallel_read_with_one_error(tmp_path, monkeypatch):
    from conftest import js, tweet, write_zip

    import archive_parsers.x_archive as xa
    from archive_parsers import ArchiveError, read_posts

    good = js("YTD.tweets.part0", [{"tweet": tweet(str(i), f"post {i}")} for i in range(500)])
    path = write_zip(
        tmp_path / "a.zip", {"data/tweets.js": good, "data/tweets-part1.js": good.replace("part0", "part1")[:-200]}
    )
    monkeypatch.setattr(xa, "PARALLEL_MIN_BYTES", 0)
    with pytest.raises(ArchiveError, match="tweets-part1.js is truncated"):
        read_posts(path)


@pytest.mark.parametrize("fmt", ["text", "chat"])
def test_dpo_rows_are_the_same_whatever_the_batch_size(sample_2024, tmp_path, monkeypatch, fmt):
    import engage.dataset.files

    build_dataset(sample_2024[0], tmp_path / "big", BuildSettings(format=fmt))
    monkeypatch.setattr(engage.dataset.files, "DPO_BATCH", 7)
    build_dataset(sample_2024[0], tmp_path / "small", BuildSettings(format=fmt))
    for split in ("train", "test"):
        big = (tmp_path / "big" / "dpo" / f"{split}.jsonl").read_bytes()
        assert big == (tmp_path / "small" / "dpo" / f"{split}.jsonl").read_bytes()
        for row in rows(tmp_path / "big" / "dpo" / f"{split}.jsonl"):
            assert isinstance(row["score_ratio"], float) and isinstance(row["seconds_apart"], int)
            assert row["score_ratio"] == round((row["chosen_score"] + 1) / (row["rejected_score"] + 1), 6)


@pytest.fixture(scope="module")
def small_account(tmp_path_factory):
    """A 300-post account whose posts mostly get 0-5 likes."""
    from engage.simulation.sample_archive import write_sample_archive

    path = tmp_path_factory.mktemp("small") / "small.zip"
    truth = write_sample_archive(path, posts=300, seed=1)
    return path, truth


def test_small_account_is_low_engagement_with_threads_and_mid_text_links(small_account):
    from archive_parsers import read_posts

    posts = read_posts(small_account[0]).posts
    own = [p for p in posts if p.kind in ("original", "quote", "thread") and not p.dropped]
    assert sum(p.likes <= 5 for p in own) / len(own) > 0.6
    assert sum(p.kind == "thread" for p in posts) >= 10
    assert any(p.has_link and not p.text.rstrip().endswith(tuple("0123456789")) for p in posts)


def test_pairs_from_a_small_account_carry_evidence(small_account, tmp_path):
    from engage.dataset.evidence import binomial_upper_tail

    out = tmp_path / "out"
    stats = build_dataset(small_account[0], out, BuildSettings(pairs=PairRule(adjust="none")))
    table = {r["id"]: r for r in pq.read_table(out / "posts.parquet").to_pylist()}
    n = 0
    for split in ("train", "test"):
        for r in rows(out / "dpo" / f"{split}.jsonl"):
            c, j = table[r["chosen_id"]], table[r["rejected_id"]]
            kc, kr = c["likes"] + c["reposts"], j["likes"] + j["reposts"]
            assert binomial_upper_tail(kc, kc + kr, 0.5) <= 0.05, (kc, kr)
            n += 1
    assert n > 0 and sum(stats["counts"]["dpo_dropped_as_noise"].values()) > 0
    card = (out / "README.md").read_text()
    assert f"dropped {sum(stats['counts']['dpo_dropped_as_noise'].values())} candidate pairs" in card
    assert "chosen likes" in card and "rejected reposts" in card


def test_small_sets_warn_with_a_what_if_table_that_real_builds_confirm(small_account, tmp_path):
    from conftest import run_engage

    out = tmp_path / "out"
    done = run_engage("build-dataset", small_account[0], "--out", out)
    assert done.returncode == 0
    warning = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and "SFT training rows" in warning[0] and "README.md" in warning[0]
    stats = json.loads((out / "stats.json").read_text())
    table = {r["setting"]: r for r in stats["advice"]["what_if"]}
    assert {"these settings", "--match none", "--window 6h", "--include-threads", "--include-replies",
            "--min-ratio 1.5"} <= set(table)  # fmt: skip
    assert "## Small sets" in (out / "README.md").read_text()
    looser = {
        "--match none": BuildSettings(pairs=PairRule(match=())),
        "--window 6h": BuildSettings(pairs=PairRule(window=timedelta(hours=6))),
        "--include-threads": BuildSettings(include_threads=True),
    }
    for label, settings in looser.items():
        real = build_dataset(small_account[0], tmp_path / label, settings)["counts"]
        row = table[label]
        assert (row["sft_train"], row["sft_test"], row["dpo_train"], row["dpo_test"]) == (
            real["sft"]["train"], real["sft"]["test"], real["dpo"]["train"], real["dpo"]["test"],
        ), label  # fmt: skip


def test_big_sets_give_no_small_set_warning(tmp_path):
    from engage.dataset.what_if import SMALL_DPO_TRAIN, SMALL_SFT_TRAIN
    from engage.simulation.sample_archive import write_sample_archive

    archive = tmp_path / "big.zip"
    write_sample_archive(archive, posts=2500, seed=2)
    out = tmp_path / "out"
    stats = build_dataset(archive, out, BuildSettings())
    assert stats["counts"]["sft"]["train"] >= SMALL_SFT_TRAIN and stats["counts"]["dpo"]["train"] >= SMALL_DPO_TRAIN
    assert stats["advice"] == {"small": [], "what_if": []}
    assert "## Small sets" not in (out / "README.md").read_text()


def test_threads_are_counted_apart_and_kept_only_on_request(small_account, tmp_path):
    default = build_dataset(small_account[0], tmp_path / "a", BuildSettings())["counts"]
    threads = default["by_kind"]["thread"]
    assert threads > 0 and default["left_out"]["thread"] == threads and "thread" not in default["eligible_by_kind"]
    out = tmp_path / "b"
    kept = build_dataset(small_account[0], out, BuildSettings(include_threads=True, pairs=PairRule(match=())))
    assert kept["counts"]["eligible_by_kind"]["thread"] > 0 and "thread" not in kept["counts"]["left_out"]
    kinds = {r["id"]: r["kind"] for r in pq.read_table(out / "posts.parquet").to_pylist()}
    for split in ("train", "test"):
        for r in rows(out / "dpo" / f"{split}.jsonl"):
            assert (kinds[r["chosen_id"]] == "thread") == (kinds[r["rejected_id"]] == "thread")
    assert "thread " in (out / "README.md").read_text()


def test_stripped_links_leave_no_dangling_pointer_in_training_text(small_account, tmp_path):
    out = tmp_path / "out"
    build_dataset(small_account[0], out, BuildSettings(include_threads=True, include_replies=True, top_fraction=1.0))
    texts = [r["completion"] for split in ("train", "test") for r in rows(out / "sft" / f"{split}.jsonl")]
    assert len(texts) > 200
    for text in texts:
        for line in text.split("\n"):
            assert not line.rstrip().endswith(("=>", "->", "👉", " via", ":", "(")), line
            assert "()" not in line and " ." not in line


def _card_for_years(tmp_path, old_is_better: bool) -> str:
    path = tmp_path / f"p{old_is_better}.jsonl"
    rows_out = []
    for i in range(400):
        year = 2019 + i // 100
        good = (year <= 2020) == old_is_better
        likes = (60 if good else 5) + (i * 7) % 11
        rows_out.append({"id": str(i), "created_at": f"{year}-03-{1 + (i % 28):02d}T{i % 24:02d}:00:00Z",
                         "text": f"post number {i}", "likes": likes, "reposts": 0})  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows_out))
    out = tmp_path / f"out{old_is_better}"
    build_dataset(path, out, BuildSettings(handle="me", test_fraction=0))
    return (out / "README.md").read_text()


def test_the_card_names_a_lean_to_recent_or_older_years_only_when_the_data_shows_it(tmp_path):
    older = _card_for_years(tmp_path, old_is_better=True)
    assert "leans to older posts" in older and "recent" not in older.split("## Years")[1].split("##")[0]
    newer = _card_for_years(tmp_path, old_is_better=False)
    assert "leans to recent posts" in newer and "try --rank relative" in newer


@pytest.mark.parametrize("kind", ["dpo", "sft"])
def test_an_empty_train_split_names_the_looser_settings(tmp_path, kind):
    from engage.training.inputs import load_splits

    folder = tmp_path / kind
    folder.mkdir()
    (folder / "train.jsonl").write_text("")
    (folder / "test.jsonl").write_text("")
    with pytest.raises(UserError) as err:
        load_splits(str(tmp_path), kind)
    message = str(err.value)
    assert "--include-threads" in message and "--include-replies" in message and "what-if" in message
    if kind == "dpo":
        assert "--match none" in message and "--window" in message and "--min-ratio" in message
