"""engage report and engage feedback on stores with known decisions, checked against statistics
computed independently here (exact rational arithmetic, bisection), and feedback pairs through TRL."""

from __future__ import annotations

import json
from fractions import Fraction
from math import comb

import pytest
from conftest import js, manifest, run_engage, tweet, write_zip
from review_fixtures import make_store, score_bound

from engage.review.store import ReviewStore
from engage.stats import fisher_exact, fisher_power, n_for_one_proportion, n_for_two_proportions, sign_power, sign_test


def fisher_by_enumeration(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher p with exact fractions over every table with the same margins."""
    r1, c1, n = a + b, a + c, a + b + c + d

    def prob(x):
        return Fraction(comb(c1, x) * comb(n - c1, r1 - x), comb(n, r1))

    observed = prob(a)
    return float(sum(prob(x) for x in range(max(0, c1 - (n - r1)), min(r1, c1) + 1) if prob(x) <= observed))


def sign_by_enumeration(w: int, lo: int) -> float:
    n = w + lo
    probs = [Fraction(comb(n, i), 2**n) for i in range(n + 1)]
    return float(min(1, sum(p for p in probs if p <= probs[w])))


@pytest.mark.parametrize("table", [(8, 72, 8, 30), (3, 1, 1, 3), (0, 10, 5, 5), (20, 20, 20, 20), (1, 0, 0, 1)])
def test_fisher_exact(table):
    assert fisher_exact(*table) == pytest.approx(fisher_by_enumeration(*table), rel=1e-9)


@pytest.mark.parametrize("wins,losses", [(7, 3), (10, 0), (0, 0), (12, 13), (30, 12)])
def test_sign_test(wins, losses):
    assert sign_test(wins, losses) == pytest.approx(sign_by_enumeration(wins, losses) if wins + losses else 1.0)


def seed_experiment_store(path):
    """The seed experiment: sft-v1 accepted 8 of 80, dpo-v1 8 of 38; a few pending; bait labels."""
    texts = {"sft-v1": [f"sft {i}" for i in range(85)], "dpo-v1": [f"dpo {i}" for i in range(40)]}
    store = make_store(path, texts)
    for c in store.candidates():
        label, i = c.model_label, int(c.text.split()[1])
        approve = i < 8
        if (label == "sft-v1" and i >= 80) or (label == "dpo-v1" and i >= 38):
            continue
        bait = ["engagement bait"] if (label == "dpo-v1" and i < 6) or (label == "sft-v1" and i < 2) else []
        store.decide(c.id, c.version, "approved" if approve else "rejected", labels=bait)
    return store


def test_report_acceptance_is_honest(tmp_path):
    seed_experiment_store(tmp_path / "s.db").close()
    proc = run_engage("report", "--store", tmp_path / "s.db", "--out", tmp_path / "report")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    printed = run_engage("report", "--store", tmp_path / "s.db", "--json")
    assert printed.returncode == 0, printed.stderr
    same = {k: v for k, v in json.loads(printed.stdout).items() if k != "made_at"}
    assert same == {k: v for k, v in report.items() if k != "made_at"}, "--json prints report.json's content"
    models = {m["model"]: m for m in report["models"]}
    sft, dpo = models["sft-v1"], models["dpo-v1"]
    assert (sft["candidates"], sft["decided"], sft["approved"], sft["pending"]) == (85, 80, 8, 5)
    assert (dpo["decided"], dpo["approved"]) == (38, 8)
    for m, k, n in ((sft, 8, 80), (dpo, 8, 38)):
        lo, hi = m["acceptance"]["ci95"]
        assert lo == pytest.approx(score_bound(k, n, False), abs=1e-9)
        assert hi == pytest.approx(score_bound(k, n, True), abs=1e-9)
    assert dpo["bait"]["k"] == 6 and dpo["bait"]["rate"] == pytest.approx(6 / 38)
    (cmp,) = report["comparisons"]
    assert cmp["fisher_p"] == pytest.approx(fisher_by_enumeration(8, 72, 8, 30), rel=1e-9)
    assert cmp["fisher_p"] > 0.05 and "too few decisions" in cmp["warning"]
    # Fisher's exact test, the one the report runs, reaches 80% power at 182 per model (a normal
    # approximation says 168, where the exact test's power is only 0.77)
    assert cmp["needed_per_model"] == 182 and "about 182 decisions per model" in cmp["warning"]
    assert "Fisher exact p = 0.148" in proc.stdout and "too few decisions" in proc.stdout
    page = (tmp_path / "report" / "report.html").read_text()
    assert "<svg" in page and "sft-v1" in page and "too few decisions" in page


def test_report_html_escapes_labels(tmp_path):
    store = make_store(tmp_path / "s.db", {"<script>alert(1)</script>": ["a"]})
    c = store.next_pending()
    store.decide(c.id, c.version, "approved", labels=["<img src=x onerror=alert(1)>"])
    store.close()
    run_engage("report", "--store", tmp_path / "s.db", "--out", tmp_path / "r")
    page = (tmp_path / "r" / "report.html").read_text()
    assert "<script>alert" not in page and "<img src=x" not in page and "&lt;script&gt;" in page


def newer_archive(path, own: list[tuple], published: list[tuple]):
    """An archive whose posts are the owner's own and the published candidates: (id, text, created, likes)."""
    tweets = [{"tweet": tweet(pid, text, created, likes=likes)} for pid, text, created, likes in own + published]
    return write_zip(
        path,
        {
            "data/tweets.js": js("YTD.tweets.part0", tweets),
            "data/manifest.js": manifest({"tweets": ["data/tweets.js"]}, generated="2024-11-30T00:00:00.000Z"),
        },
    )


def decided_on(path, when: str) -> None:
    """Move every decision in the store at ``path`` to ``when`` (the store stamps decisions with the clock)."""
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("UPDATE candidates SET decided_at = ? WHERE decided_at IS NOT NULL", (when,))
    db.commit()
    db.close()


def test_report_matches_published_posts_in_a_newer_archive(tmp_path):
    store = make_store(tmp_path / "s.db", {"dpo-v1": ["winner by id", "winner by text", "a loser", "too young", "tied", "not posted", "alone"]})  # fmt: skip
    refs = {
        "winner by id": "https://x.com/o/status/90001",
        "winner by text": "posted by hand",
        "a loser": "90003",
        "too young": "90004",
        "tied": "90005",
        "not posted": "99999",
        "alone": "90007",
    }
    for c in store.candidates():
        c = store.decide(c.id, c.version, "approved")
        store.publish(c.id, c.version, refs[c.text])
    store.close()
    decided_on(tmp_path / "s.db", "2024-09-30T00:00:00Z")  # before every post below, as in real use
    day = "Fri Nov 01 {} +0000 2024"
    own = [
        ("100", "my own morning post", day.format("10:00:00"), 10),
        ("101", "my own later post", day.format("15:00:00"), 10),
        ("102", "my own recent post", "Thu Nov 28 12:00:00 +0000 2024", 10),
        ("103", "old lonely neighbour", "Fri Oct 04 01:00:00 +0000 2024", 10),
    ]
    published = [
        ("90001", "winner by id", day.format("10:30:00"), 50),
        ("88888", "Winner by text\n\n(AI-generated)", day.format("11:00:00"), 40),
        ("90003", "a loser", day.format("14:00:00"), 2),
        ("90004", "too young", "Thu Nov 28 12:30:00 +0000 2024", 99),
        ("90005", "tied", day.format("15:30:00"), 10),
        ("90007", "alone", "Fri Oct 18 01:00:00 +0000 2024", 10),
    ]
    archive = newer_archive(tmp_path / "newer.zip", own, published)
    proc = run_engage("report", "--store", tmp_path / "s.db", "--archive", archive, "--out", tmp_path / "r")
    assert proc.returncode == 0, proc.stderr
    perf = json.loads((tmp_path / "r" / "report.json").read_text())["performance"]
    by_post = {r["post_id"]: r for r in perf["posts"]}
    assert by_post["90001"]["matched_by"] == "id" and by_post["90001"]["outcome"] == "win"
    assert by_post["90001"]["own_post_id"] == "100"
    assert by_post["88888"]["matched_by"] == "text" and by_post["88888"]["outcome"] == "win"
    assert by_post["90003"]["outcome"] == "loss" and by_post["90003"]["own_post_id"] == "101"
    assert by_post["90005"]["outcome"] == "tie"
    assert (perf["wins"], perf["losses"], perf["ties"], perf["judged"]) == (2, 1, 1, 3)
    assert perf["too_young"] == 1 and perf["no_own_post_in_window"] == 1 and len(perf["not_found"]) == 1
    assert perf["sign_test_p"] == pytest.approx(sign_by_enumeration(2, 1))
    assert by_post["90003"]["ratio"] == pytest.approx(3 / 11)
    assert "too few published posts" in perf["warning"]
    assert "win rate" in proc.stdout and "ties left out" in proc.stdout


def test_feedback_pairs_train_with_trl(tmp_path, tiny_adapter):
    data, model_dir, adapter = tiny_adapter
    store = make_store(
        tmp_path / "s.db", {"sft-v1": [f"sft candidate {i}" for i in range(8)], "dpo-v1": ["d a", "d b"]}
    )
    for c in store.candidates():
        i = c.id
        if c.model_label == "dpo-v1":
            continue
        text = c.text + " (better)" if i == 1 else None
        store.decide(c.id, c.version, "approved" if i % 2 else "rejected", text=text)
    left, right = store.compare_pair()
    store.compare(left.id, right.id, "right")
    store.close()
    out = tmp_path / "round2"
    proc = run_engage("feedback", "--store", tmp_path / "s.db", "--out", out, "--mix", data)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((out / "stats.json").read_text())
    c = stats["counts"]
    assert (c["approved_over_rejected"], c["edit_over_original"], c["compare"]) == (16, 1, 1)
    assert c["kto_rows"] == 8 and c["kto_approved"] == 4
    rows = [json.loads(x) for x in (out / "dpo" / "train.jsonl").read_text().splitlines()]
    rows += [json.loads(x) for x in (out / "dpo" / "test.jsonl").read_text().splitlines()]
    edit = next(r for r in rows if r.get("source") == "edit_over_original")
    assert (edit["chosen"], edit["rejected"]) == ("sft candidate 0 (better)", "sft candidate 0")
    assert any(r.get("source") == "archive" for r in rows)
    for r in rows:
        if r.get("source") == "approved_over_rejected":
            assert r["chosen"].startswith("sft candidate") and r["chosen"] != r["rejected"]

    from datasets import load_dataset
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    ds = load_dataset("json", data_files={"train": str(out / "dpo" / "train.jsonl")})["train"]
    kto = load_dataset("json", data_files={"train": str(out / "kto" / "train.jsonl")})["train"]
    assert set(kto.column_names) >= {"prompt", "completion", "label"}
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir), adapter, is_trainable=True)
    args = DPOConfig(output_dir=str(tmp_path / "dpo"), max_steps=2, per_device_train_batch_size=2, use_cpu=True,
                     bf16=False, report_to=[], logging_steps=1, save_strategy="no")  # fmt: skip
    trainer = DPOTrainer(
        model=model, args=args, train_dataset=ds, processing_class=AutoTokenizer.from_pretrained(adapter)
    )
    trainer.train()
    assert trainer.state.global_step == 2

    again = run_engage("feedback", "--store", tmp_path / "s.db", "--out", out)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_feedback_needs_decisions(tmp_path):
    make_store(tmp_path / "s.db", {"sft": ["a"]}).close()
    proc = run_engage("feedback", "--store", tmp_path / "s.db", "--out", tmp_path / "out")
    assert proc.returncode == 3 and "no decisions yet" in proc.stderr and not (tmp_path / "out").exists()


def test_store_untouched_by_reports(tmp_path):
    seed_experiment_store(tmp_path / "s.db").close()
    before = len(ReviewStore(tmp_path / "s.db").events())
    run_engage("report", "--store", tmp_path / "s.db")
    assert len(ReviewStore(tmp_path / "s.db").events()) == before


def test_text_matching_takes_whole_texts_posted_after_the_decision(tmp_path):
    store = make_store(tmp_path / "s.db", {"dpo-v1": ["Shipped it", "Back on Monday"]})
    for c in store.candidates():
        c = store.decide(c.id, c.version, "approved")
        store.publish(c.id, c.version, "posted by hand")
    store.close()
    decided_on(tmp_path / "s.db", "2024-11-01T12:00:00Z")
    day = "Fri Nov 01 {} +0000 2024"
    own = [
        ("200", "Shipped it today, finally, after three weeks of yak shaving", day.format("12:30:00"), 90),
        ("201", "shipped  it", day.format("11:00:00"), 90),  # the same words, but before the decision
        ("202", "my own lunch post", day.format("13:00:00"), 10),
        ("203", "my own afternoon post", day.format("15:00:00"), 10),
    ]
    published = [("300", "back on monday\n\n(AI-generated)", day.format("14:00:00"), 20)]
    archive = newer_archive(tmp_path / "newer.zip", own, published)
    proc = run_engage("report", "--store", tmp_path / "s.db", "--archive", archive, "--out", tmp_path / "r")
    assert proc.returncode == 0, proc.stderr
    perf = json.loads((tmp_path / "r" / "report.json").read_text())["performance"]
    assert [(r["post_id"], r["matched_by"]) for r in perf["posts"]] == [("300", "text")]
    assert len(perf["not_found"]) == 1 and (perf["wins"], perf["losses"]) == (1, 0)


def labelled_store(path):
    """sft-v1: 80 decided (8 approved), 3 of them labelled bait; 5 pending, one labelled bait before any
    decision, and one decided with a bait label and then undone."""
    store = make_store(path, {"sft-v1": [f"sft {i}" for i in range(85)]})
    for c in store.candidates():
        i = int(c.text.split()[1])
        if i < 80:
            store.decide(
                c.id, c.version, "approved" if i < 8 else "rejected", labels=["engagement bait"] if i < 3 else []
            )
        elif i == 80:
            store.annotate(c.id, c.version, labels=["engagement bait", "funny"])
        elif i == 81:
            store.decide(c.id, c.version, "rejected", labels=["engagement bait"])
            store.undo()
    return store


def test_label_rates_count_decided_candidates_only(tmp_path):
    labelled_store(tmp_path / "s.db").close()
    proc = run_engage("report", "--store", tmp_path / "s.db", "--out", tmp_path / "r")
    assert proc.returncode == 0, proc.stderr
    (m,) = json.loads((tmp_path / "r" / "report.json").read_text())["models"]
    assert (m["decided"], m["pending"]) == (80, 5)
    assert (m["bait"]["k"], m["bait"]["n"]) == (3, 80) and m["bait"]["rate"] == pytest.approx(3 / 80)
    assert m["labels"] == {
        "engagement bait": {"k": 3, "n": 80, "rate": pytest.approx(3 / 80), "ci95": m["bait"]["ci95"]}
    }
    lo, hi = m["bait"]["ci95"]
    assert lo == pytest.approx(score_bound(3, 80, False), abs=1e-9) and hi == pytest.approx(
        score_bound(3, 80, True), abs=1e-9
    )


def test_more_labels_than_decisions_is_no_crash(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft-v1": ["a", "b", "c"]})
    first, second, third = store.candidates()
    store.decide(first.id, first.version, "approved")
    for c in (second, third):
        store.annotate(c.id, c.version, labels=["engagement bait"])
    store.close()
    proc = run_engage("report", "--store", tmp_path / "s.db")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "0% (0%–79%)" in proc.stdout  # bait 0 of 1 decided, its Wilson interval


def test_nothing_to_report_yet(tmp_path):
    make_store(tmp_path / "empty.db", {}).close()
    make_store(tmp_path / "pending.db", {"sft-v1": ["a", "b"]}).close()
    for name, needle in (("empty.db", "(0 candidates"), ("pending.db", "(2 candidates")):
        proc = run_engage("report", "--store", tmp_path / name, "--out", tmp_path / "r")
        assert proc.returncode == 3, proc.stderr
        assert proc.stdout == "" and proc.stderr.strip().count("\n") == 0, proc.stderr
        assert "nothing to report yet" in proc.stderr and needle in proc.stderr
        assert not (tmp_path / "r").exists()


def test_a_model_without_decisions_is_not_tested(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft-v1": ["a", "b"], "dpo-v1": ["c"]})
    for c in store.candidates():
        if c.model_label == "sft-v1":
            store.decide(c.id, c.version, "approved")
    store.close()
    proc = run_engage("report", "--store", tmp_path / "s.db")
    assert proc.returncode == 0, proc.stderr
    assert "Fisher" not in proc.stdout and "dpo-v1 has no decisions yet" in proc.stdout


def test_report_help_prints_a_plain_percent():
    proc = run_engage("report", "--help")
    assert proc.returncode == 0 and "95% Wilson" in " ".join(proc.stdout.split()) and "%%" not in proc.stdout


def power_by_enumeration(n: int, p1: float, p2: float) -> float:
    """Fisher's power summed table by table with the report's own test deciding each one."""
    return sum(
        comb(n, x1) * p1**x1 * (1 - p1) ** (n - x1) * comb(n, x2) * p2**x2 * (1 - p2) ** (n - x2)
        for x1 in range(n + 1)
        for x2 in range(n + 1)
        if fisher_exact(x1, n - x1, x2, n - x2) <= 0.05
    )


@pytest.mark.parametrize("n, p1, p2", [(12, 0.1, 0.6), (20, 0.3, 0.35), (15, 0.0, 0.4), (9, 0.5, 0.5)])
def test_fisher_power_is_the_exact_tests_rejection_chance(n, p1, p2):
    assert fisher_power(n, p1, p2) == pytest.approx(power_by_enumeration(n, p1, p2), abs=1e-12)


@pytest.mark.parametrize("n, p", [(10, 0.8), (25, 0.6), (40, 0.5), (7, 1.0)])
def test_sign_power_is_the_exact_tests_rejection_chance(n, p):
    want = sum(comb(n, w) * p**w * (1 - p) ** (n - w) for w in range(n + 1) if sign_test(w, n - w) <= 0.05)
    assert sign_power(n, p) == pytest.approx(want, abs=1e-12)


def test_decisions_needed_come_from_the_exact_tests_power():
    assert fisher_power(168, 8 / 80, 8 / 38) == pytest.approx(0.77, abs=0.005)
    assert n_for_two_proportions(8 / 80, 8 / 38) == 182
    assert fisher_power(182, 8 / 80, 8 / 38) >= 0.8 > fisher_power(181, 8 / 80, 8 / 38)
    n = n_for_one_proportion(0.7)
    assert sign_power(n, 0.7) >= 0.8 > sign_power(n - 1, 0.7)
    assert n_for_two_proportions(0.3, 0.3) is None and n_for_two_proportions(0.10, 0.11) is None  # > EXACT_LIMIT


def negative_label_store(path):
    """One prompt and batch: approved a (bait), approved b (edited, offensive), approved c, rejected d;
    a Compare choice of a over c."""
    store = make_store(path, {"sft-v1": ["a post", "b post", "c post", "d post"]})
    a, b, c, d = store.candidates()
    store.decide(a.id, a.version, "approved", labels=["engagement bait"])
    store.decide(b.id, b.version, "approved", text="b post, better", labels=["offensive"])
    store.decide(c.id, c.version, "approved", labels=["funny"])
    store.decide(d.id, d.version, "rejected")
    store.compare(a.id, c.id, "left")
    return store


def feedback_out(out):
    pairs = [
        json.loads(x) for split in ("train", "test") for x in (out / "dpo" / f"{split}.jsonl").read_text().splitlines()
    ]
    kto = [
        json.loads(x) for split in ("train", "test") for x in (out / "kto" / f"{split}.jsonl").read_text().splitlines()
    ]
    return pairs, kto, json.loads((out / "stats.json").read_text())["counts"]


def test_feedback_never_chooses_a_negatively_labelled_candidate(tmp_path):
    negative_label_store(tmp_path / "s.db").close()
    proc = run_engage("feedback", "--store", tmp_path / "s.db", "--out", tmp_path / "f")
    assert proc.returncode == 0, proc.stderr
    pairs, kto, counts = feedback_out(tmp_path / "f")
    chosen = {p["chosen"] for p in pairs}
    assert chosen == {"c post"}, pairs
    assert {(p["chosen"], p["rejected"]) for p in pairs} == {
        ("c post", "a post"),
        ("c post", "b post"),
        ("c post", "d post"),
    }
    assert {r["completion"]: r["label"] for r in kto} == {
        "a post": False,
        "b post": False,
        "c post": True,
        "d post": False,
    }
    assert counts["approved_with_negative_label_as_rejected"] == 2 and counts["compare_negative_choice_left_out"] == 1
    assert counts["negative_labels"] == ["engagement bait", "offensive", "factually wrong"]

    proc = run_engage("feedback", "--store", tmp_path / "s.db", "--out", tmp_path / "g", "--negative-labels", "none")
    assert proc.returncode == 0, proc.stderr
    pairs, kto, _ = feedback_out(tmp_path / "g")
    assert {p["chosen"] for p in pairs} == {"a post", "b post, better", "c post"}
    assert sum(r["label"] for r in kto) == 3

    proc = run_engage("feedback", "--store", tmp_path / "s.db", "--out", tmp_path / "h", "--negative-labels", "funny")
    pairs, kto, _ = feedback_out(tmp_path / "h")
    assert "c post" not in {p["chosen"] for p in pairs} and {r["completion"] for r in kto if r["label"]} == {
        "a post",
        "b post, better",
    }


def test_export_with_nothing_approved_writes_nothing(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft-v1": ["a", "b"]})
    c = store.next_pending()
    store.decide(c.id, c.version, "rejected")
    store.close()
    proc = run_engage("export", "--store", tmp_path / "s.db", "--out", tmp_path / "approved.csv")
    assert proc.returncode == 3 and "nothing to export yet" in proc.stderr and "(1 waiting" in proc.stderr
    assert (
        len(proc.stderr.strip().splitlines()) == 1
        and not list(tmp_path.glob("*.csv"))
        and not list(tmp_path.glob(".*"))
    )


def test_export_force_replaces_only_an_export(tmp_path):
    store = make_store(tmp_path / "s.db", {"sft-v1": ["a"]})
    c = store.next_pending()
    store.decide(c.id, c.version, "approved")
    store.close()
    mine = tmp_path / "accounts.csv"
    mine.write_text("name,iban\nme,DE00\n")
    proc = run_engage("export", "--store", tmp_path / "s.db", "--out", mine, "--force")
    assert proc.returncode == 1 and "not a file engage export wrote" in proc.stderr
    assert mine.read_text() == "name,iban\nme,DE00\n"
    for name in ("approved.csv", "approved.jsonl"):
        out = tmp_path / name
        assert run_engage("export", "--store", tmp_path / "s.db", "--out", out).returncode == 0
        again = run_engage("export", "--store", tmp_path / "s.db", "--out", out, "--force", "--no-label")
        assert again.returncode == 0, again.stderr
        assert "AI-generated" not in out.read_text()
