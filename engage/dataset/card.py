"""The dataset card: a README.md a person can read next to the data."""

from __future__ import annotations

from pathlib import Path

_REASON_TEXT = {
    "deleted": "deleted by the owner (listed in deleted-tweets.js; text not kept)",
    "edit_superseded": "an earlier version of an edited post (the final version is kept)",
    "repost": "a repost (`RT @…`): someone else's words",
    "reply": "a reply to someone else (pass --include-replies to keep replies)",
    "thread": "a thread continuation: a reply to the owner's own post (pass --include-threads to keep them)",
    "too_recent": "too recent: its likes and reposts were still coming in when the archive was made (--min-age)",
    "empty_text": "no text left after the link policy (e.g. only a link or a picture)",
}


def _table(rows: list[tuple], header: tuple) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _quant_row(name: str, q: dict) -> tuple:
    return (name, *(q.get(k, "–") for k in ("min", "p25", "median", "p75", "p90", "max", "mean")))


def _years_text(s: dict, d: dict) -> str:
    """What the SFT set's spread over time shows, from the data: a lean is named only when there is one."""
    rank = f"SFT ranks posts by **{s['rank']}** score" + (
        f" (score against the owner's median within {s['baseline_window']} either side)"
        if s["rank"] == "relative"
        else ""
    )
    lean = d.get("sft_time_lean") or {}
    if not lean:
        return rank + "."
    half = (
        f"{lean['newer_half']} of {lean['rows']} SFT rows come from the newer half of the eligible posts "
        f"(made after {lean['middle']})"
    )
    if lean["lean"] == "recent":
        tail = (
            "; the set leans to recent posts more than chance explains (two-sided sign test p = "
            f"{lean['p']:.3g}), as when the audience grew"
            + (": try --rank relative." if s["rank"] == "absolute" else ".")
        )
    elif lean["lean"] == "older":
        tail = (
            f"; the set leans to older posts more than chance explains (two-sided sign test p = {lean['p']:.3g}), "
            "as when the audience shrank" + (": try --rank relative." if s["rank"] == "absolute" else ".")
        )
    else:
        tail = f"; no lean to either half beyond what chance explains (two-sided sign test p = {lean['p']:.3g})."
    return f"{rank}. {half}{tail}"


def _advice(c: dict, advice: dict) -> list[str]:
    if not advice.get("small"):
        return []
    rows = [
        (f"`{r['setting']}`" if r["setting"].startswith("--") else r["setting"], r["sft_train"], r["sft_test"],
         r["dpo_train"], r["dpo_test"])
        for r in advice["what_if"]
    ]  # fmt: skip
    return [
        "## Small sets",
        "",
        f"**Warning: {' and '.join(advice['small'])}.** Each row below runs the same rules on the same posts with "
        "one setting loosened (counts, not estimates), so you can choose knowingly; looser settings trade "
        "how clean the lesson is for how many examples there are.",
        "",
        _table(rows, ("setting", "SFT train", "SFT test", "DPO train", "DPO test")),
        "",
    ]


def front_matter(counts: dict) -> list[str]:
    """The card's YAML header: one ``datasets`` config per dataset, so ``load_dataset(DIR, "sft")`` and
    ``load_dataset(DIR, "dpo")`` each load their own files with their train/test splits (and the Hub's viewer
    shows both) instead of one split mixing SFT rows and DPO pairs. Empty splits are left out."""
    lines = ["---", "configs:"]
    for kind in ("sft", "dpo"):
        splits = [split for split in ("train", "test") if counts[kind][split]]
        if splits:
            lines += [f"- config_name: {kind}", "  data_files:"]
            lines += [f"  - split: {split}\n    path: {kind}/{split}.jsonl" for split in splits]
    if lines[-1] == "configs:":
        lines[-1] = "configs: []"
    return [*lines, "---", ""]


def write_card(path: Path, stats: dict) -> None:
    c, s, d = stats["counts"], stats["settings"], stats["distributions"]
    advice = stats.get("advice") or {}
    handle = stats["input"]["handle"] or "(unknown)"
    left = c["left_out"]
    years = sorted(set(d["years_eligible"]) | set(d["years_sft"]))
    quant_header = ("", "min", "p25", "median", "p75", "p90", "max", "mean")
    parts = [
        *front_matter(c),
        f"# Dataset card: posts of @{handle}",
        "",
        f"Built by engage {stats['version']} on {stats['built_at']} from `{Path(stats['input']['path']).name}` "
        f"({stats['input']['type']}). Engagement counts are a snapshot as of **{stats['as_of']}** "
        f"(from the {stats['as_of_source']}).",
        "",
        "Every row is one of the owner's own posts. Scores are "
        f"`{s['like_weight']:g} × likes + {s['repost_weight']:g} × reposts`.",
        "",
        "## What was kept",
        "",
        _table(
            [
                ("posts read", c["posts_read"]),
                ("eligible (train / test)", f"{c['eligible']} ({c['eligible_train']} / {c['eligible_test']})"),
                ("SFT rows (train / test)", f"{c['sft']['train']} / {c['sft']['test']}"),
                ("DPO pairs (train / test)", f"{c['dpo']['train']} / {c['dpo']['test']}"),
                ("posts in at least one pair", d["posts_in_pairs"]),
            ],
            ("", "count"),
        ),
        "",
        "Posts by kind: "
        + ", ".join(f"{k} {v}" for k, v in c["by_kind"].items())
        + ". Eligible by kind: "
        + (", ".join(f"{k} {v}" for k, v in c["eligible_by_kind"].items()) or "none")
        + ". A `thread` post is a reply to the owner's own post (a thread continuation); a `reply` answers someone "
        "else.",
        "",
        *_advice(c, advice),
        "## Why posts were left out",
        "",
        _table([(k, v, _REASON_TEXT.get(k, "")) for k, v in left.items()], ("reason", "posts", "meaning"))
        if left
        else "No post was left out.",
        "",
    ]
    parse = {
        k: v
        for k, v in c["parse"].items()
        if k.startswith(("skipped", "notes", "edit", "duplicate", "members", "deleted"))
    }
    if parse:
        parts += ["Reading the archive: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in parse.items()) + ".", ""]
    parts += [
        "## Scores",
        "",
        _table(
            [_quant_row("eligible posts", d["score_eligible"]), _quant_row("SFT set", d["score_sft"])], quant_header
        ),
        "",
        "## Years",
        "",
        f"The SFT set is the top {s['top_fraction']:g} of the eligible posts within each side of the time split "
        "(train and test separately), so the test set holds about its share of the SFT rows. " + _years_text(s, d),
        "",
        _table(
            [(y, d["years_eligible"].get(y, 0), d["years_sft"].get(y, 0)) for y in years], ("year", "eligible", "SFT")
        ),
        "",
        "## DPO pairs",
        "",
        f"Two eligible posts made within {s['window']} of each other, in the same split, the higher score chosen, "
        f"only when (chosen + 1) / (rejected + 1) ≥ {s['min_ratio']:g}"
        + (" after taking out the owner's hour-of-day effect" if s["pair_adjust"] == "hour" else "")
        + (f", alike in {', '.join(s['pair_match'])}" if s["pair_match"] else "")
        + (
            f", and only when the lead is unlikely to be noise: an exact one-sided binomial test on the two posts' "
            f"engagements (likes and reposts, each one event) gives p ≤ {s['evidence']:g}"
            + (
                ", with each post's chance of an engagement set by its hour's audience"
                if s["pair_adjust"] == "hour"
                else ""
            )
            if s["evidence"] < 1
            else " (no evidence test: --evidence off)"
        )
        + f"; each post in at most {s['max_pairs_per_post']} pairs, nearest in time first. Thread continuations "
        "pair only with each other.",
        "",
        (
            f"The evidence test dropped {sum(c['dpo_dropped_as_noise'].values())} candidate pairs that passed the "
            "ratio (before each post's pair limit was applied)."
            if s["evidence"] < 1
            else ""
        ),
        "",
        "Absolute counts of the pairs kept:",
        "",
        _table(
            [
                _quant_row("chosen likes", d["pair_chosen_likes"]),
                _quant_row("rejected likes", d["pair_rejected_likes"]),
                _quant_row("chosen reposts", d["pair_chosen_reposts"]),
                _quant_row("rejected reposts", d["pair_rejected_reposts"]),
                _quant_row("chosen score", d["pair_chosen_score"]),
                _quant_row("rejected score", d["pair_rejected_score"]),
            ],
            quant_header,
        ),
        "",
        _table(
            [_quant_row("seconds apart", d["pair_seconds_apart"]), _quant_row("score ratio", d["pair_score_ratio"])]
            + ([_quant_row("adjusted ratio", d["pair_adjusted_ratio"])] if s["pair_adjust"] == "hour" else []),
            quant_header,
        ),
        "",
        "Score ratio is (chosen + 1) / (rejected + 1) on raw scores."
        + (
            f" With the hour-of-day adjustment the rule applies to the adjusted ratio (always ≥ {s['min_ratio']:g}); "
            "a raw ratio can be lower when the chosen post went out at an hour the audience is away."
            if s["pair_adjust"] == "hour"
            else ""
        ),
        "",
        "## Split and format",
        "",
        f"Test set: eligible posts made from {stats['test_from'] or '(no test set)'} on (the newest "
        f"{s['test_fraction']:g}); no post is in both train and test. Format `{s['format']}`, links `{s['links']}`. "
        f"Prompt: `{stats['prompt'].strip()}`",
        "",
        "```python",
        "from datasets import load_dataset",
        'sft = load_dataset("json", data_files={"train": "sft/train.jsonl", "test": "sft/test.jsonl"})',
        'dpo = load_dataset("json", data_files={"train": "dpo/train.jsonl", "test": "dpo/test.jsonl"})',
        "```",
        "",
        "Every post, kept or not, with its score and reason is in `posts.parquet`; every setting is in `stats.json`.",
        "",
    ]
    path.write_text("\n".join(parts), encoding="utf-8")
