"""``engage build-dataset``: from an archive to TRL-ready SFT and DPO datasets."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from archive_parsers import ArchiveData, read_posts
from engage import __version__
from engage.baseline import hour_effect, relative_log_score
from engage.card import write_card
from engage.durations import format_duration
from engage.errors import UserError
from engage.formats import (
    DEFAULT_LINK_PLACEHOLDER,
    DEFAULT_PROMPT,
    FORMATS,
    LINK_POLICIES,
    apply_links,
    check_prompt,
    dpo_row,
    prompt_fields,
    render_prompt,
    sft_row,
)
from engage.output import staged_folder
from engage.pairing import ADJUSTMENTS, MATCH_FIELDS, Pair, PairRule, find_pairs
from engage.progress import Progress
from engage.scoring import REASONS, EligibilityRule, ScoreRule
from engage.selection import RANKS, top_fraction
from engage.splits import test_cutoff


@dataclass(frozen=True)
class BuildSettings:
    like_weight: float = 1.0
    repost_weight: float = 3.0
    include_replies: bool = False
    min_age: timedelta = timedelta(days=7)
    as_of: datetime | None = None
    top_fraction: float = 0.1
    rank: str = "absolute"
    baseline_window: timedelta = timedelta(days=30)
    pairs: PairRule = field(default_factory=PairRule)
    test_fraction: float = 0.1
    format: str = "text"
    links: str = "strip"
    link_placeholder: str = DEFAULT_LINK_PLACEHOLDER
    prompt: str = DEFAULT_PROMPT
    handle: str | None = None

    def validate(self) -> None:
        def need(cond: bool, message: str) -> None:
            if not cond:
                raise UserError(message)

        need(self.like_weight >= 0 and self.repost_weight >= 0, "--like-weight and --repost-weight must be 0 or more")
        need(self.like_weight + self.repost_weight > 0, "--like-weight and --repost-weight cannot both be 0")
        need(0 < self.top_fraction <= 1, "--top-fraction must be above 0 and at most 1 (0.1 is the top 10%)")
        need(0 <= self.test_fraction < 1, "--test-fraction must be at least 0 and below 1 (0.1 is the newest 10%)")
        need(self.pairs.min_ratio >= 1, "--min-ratio must be 1 or more (2 means the chosen post did twice as well)")
        need(self.pairs.max_pairs_per_post >= 0, "--max-pairs-per-post must be 0 or more")
        need(self.pairs.window.total_seconds() > 0, "--window must be longer than 0")
        need(self.baseline_window.total_seconds() > 0, "--baseline-window must be longer than 0")
        need(self.min_age.total_seconds() >= 0, "--min-age cannot be negative")
        need(self.rank in RANKS, f"--rank must be one of {', '.join(RANKS)}")
        need(self.pairs.adjust in ADJUSTMENTS, f"--adjust must be one of {', '.join(ADJUSTMENTS)}")
        need(
            all(m in MATCH_FIELDS for m in self.pairs.match),
            f"--match takes a comma list of {', '.join(MATCH_FIELDS)} (or none)",
        )
        need(self.format in FORMATS, f"--format must be one of {', '.join(FORMATS)}")
        need(self.links in LINK_POLICIES, f"--links must be one of {', '.join(LINK_POLICIES)}")
        try:
            check_prompt(self.prompt)
        except ValueError as exc:
            raise UserError(str(exc)) from None

    def as_record(self) -> dict:
        rec = asdict(self)
        rec["min_age"] = format_duration(self.min_age)
        rec["baseline_window"] = format_duration(self.baseline_window)
        rec["as_of"] = self.as_of.isoformat() if self.as_of else None
        pairs = rec.pop("pairs")
        pairs["window"] = format_duration(self.pairs.window)
        pairs["match"] = list(self.pairs.match)
        rec.update({f"pair_{k}" if k in ("adjust", "match") else k: v for k, v in pairs.items()})
        return rec


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else round(float(x), 6)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _write_jsonl(path: Path, rows) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False))
            fh.write("\n")
            n += 1
    return n


def build_dataset(
    input_path: Path, out: Path, settings: BuildSettings, force: bool = False, progress: Progress | None = None
) -> dict:
    """Read ``input_path``, build the datasets, write them to ``out``; return stats.json's content."""
    settings.validate()
    progress = progress or Progress(quiet=True)
    if out.exists() and not force:  # fail before the long read
        raise UserError(f"{out} already exists; pass --force to replace it, or choose another --out")

    progress.say(f"reading {input_path}")
    with progress.bar("reading posts") as (set_total, advance):
        data: ArchiveData = read_posts(input_path, on_bytes=advance, on_total=set_total)
    posts = data.posts
    handle = settings.handle or data.handle
    if "handle" in prompt_fields(settings.prompt) and not handle:
        raise UserError("the input names no account handle and the prompt uses {handle}; pass --handle NAME")
    prompt = render_prompt(settings.prompt, handle, data.display_name)

    times_all = np.array([p.created_at.timestamp() for p in posts], dtype=float)
    as_of = settings.as_of or data.generated_at or datetime.fromtimestamp(float(times_all.max()), tz=timezone.utc)
    eligibility = EligibilityRule(as_of=as_of, min_age=settings.min_age, include_replies=settings.include_replies)
    scorer = ScoreRule(settings.like_weight, settings.repost_weight)
    texts = [apply_links(p.text, settings.links, settings.link_placeholder) for p in posts]
    reasons = [eligibility.reason(p, t) for p, t in zip(posts, texts)]
    scores = np.array([scorer.score(p) for p in posts], dtype=float)

    elig = np.array([i for i, r in enumerate(reasons) if r is None], dtype=int)
    if elig.size == 0:
        left = Counter(reasons)
        detail = ", ".join(f"{v} {k}" for k, v in left.most_common())
        raise UserError(
            f"none of the {len(posts)} posts is eligible to train on ({detail}); see --include-replies and --min-age"
        )
    e_times, e_scores = times_all[elig], scores[elig]
    cut = test_cutoff(e_times, settings.test_fraction)
    is_test = np.zeros(len(posts), dtype=bool)
    if cut is not None:
        is_test[elig[e_times >= cut]] = True

    # SFT: the top fraction of eligible posts, by score or by score against the norm at the time.
    half = settings.baseline_window.total_seconds()
    keys = e_scores if settings.rank == "absolute" else relative_log_score(e_times, e_scores, half)
    in_sft = np.zeros(len(posts), dtype=bool)
    in_sft[elig[top_fraction(keys, e_times, settings.top_fraction)]] = True

    # DPO: pairs close in time, within each split.
    rule = settings.pairs
    values = scores + 1.0
    if rule.adjust == "hour":
        effect = hour_effect(e_times, e_scores, half)
        values = values / np.exp(effect[((times_all // 3600) % 24).astype(int)])
    group_ids: dict[tuple, int] = {}
    attrs = {"media": "has_media", "link": "has_link", "quote": "is_quote", "lang": "lang"}
    group = np.array(
        [group_ids.setdefault(tuple(getattr(p, attrs[m]) for m in rule.match), len(group_ids)) for p in posts],
        dtype=np.int64,
    )
    text_key = np.array([hash(" ".join(t.casefold().split())) for t in texts], dtype=np.int64)
    pairs: dict[str, list[Pair]] = {}
    for split, mask in (("train", ~is_test[elig]), ("test", is_test[elig])):
        idx = elig[mask]
        found = find_pairs(
            times_all[idx], values[idx], group[idx], text_key[idx],
            rule.window.total_seconds(), rule.min_ratio, rule.max_pairs_per_post,
        )  # fmt: skip
        pairs[split] = [Pair(int(idx[p.chosen]), int(idx[p.rejected]), p.seconds_apart, p.ratio) for p in found]
    pair_count = np.zeros(len(posts), dtype=int)
    for plist in pairs.values():
        for p in plist:
            pair_count[p.chosen] += 1
            pair_count[p.rejected] += 1

    def sft_rows(split_test: bool):
        for i in sorted(np.flatnonzero(in_sft & (is_test == split_test)), key=lambda i: (times_all[i], posts[i].id)):
            row = sft_row(prompt, texts[i], settings.format)
            row.update(id=posts[i].id, score=_num(scores[i]), created_at=_iso(times_all[i]))
            yield row

    def dpo_rows(split: str):
        for p in pairs[split]:
            c, r = p.chosen, p.rejected
            row = dpo_row(prompt, texts[c], texts[r], settings.format)
            row.update(
                chosen_id=posts[c].id,
                rejected_id=posts[r].id,
                chosen_score=_num(scores[c]),
                rejected_score=_num(scores[r]),
                seconds_apart=_num(p.seconds_apart),
                score_ratio=round(float((scores[c] + 1) / (scores[r] + 1)), 6),
            )
            if rule.adjust != "none":
                row["adjusted_ratio"] = round(p.ratio, 6)
            yield row

    counts = {
        "posts_read": len(posts),
        "by_kind": dict(Counter(p.kind for p in posts).most_common()),
        "left_out": {r: n for r in REASONS if (n := reasons.count(r))},
        "eligible": int(elig.size),
        "eligible_train": int(elig.size - is_test.sum()),
        "eligible_test": int(is_test.sum()),
        "parse": dict(sorted(data.counts.items())),
    }
    progress.say("writing datasets")
    with staged_folder(out, force, protect=Path(input_path)) as stage:
        (stage / "sft").mkdir()
        (stage / "dpo").mkdir()
        counts["sft"] = {
            s: _write_jsonl(stage / "sft" / f"{s}.jsonl", sft_rows(s == "test")) for s in ("train", "test")
        }
        counts["dpo"] = {s: _write_jsonl(stage / "dpo" / f"{s}.jsonl", dpo_rows(s)) for s in ("train", "test")}
        _write_posts_table(stage / "posts.parquet", posts, texts, scores, reasons, is_test, in_sft, pair_count)
        stats = {
            "tool": "engage",
            "version": __version__,
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "input": {
                "path": str(input_path),
                "type": data.input_type,
                "handle": handle,
                "generated_at": data.generated_at.isoformat() if data.generated_at else None,
                "files": data.files,
            },
            "as_of": as_of.isoformat(),
            "as_of_source": "--as-of"
            if settings.as_of
            else ("archive generationDate" if data.generated_at else "newest post"),
            "test_from": _iso(cut) if cut is not None else None,
            "prompt": prompt,
            "settings": settings.as_record(),
            "counts": counts,
            "distributions": _distributions(posts, scores, times_all, elig, in_sft, pairs),
        }
        (stage / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        write_card(stage / "README.md", stats)
    progress.say(
        f"wrote {out}: {counts['sft']['train']}+{counts['sft']['test']} SFT rows, "
        f"{counts['dpo']['train']}+{counts['dpo']['test']} DPO pairs (train+test) from {counts['eligible']} eligible of {len(posts)} posts"
    )
    return stats


def _quantiles(values) -> dict:
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return {}
    qs = np.quantile(arr, [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1])
    return {
        k: _num(round(float(v), 3)) for k, v in zip(("min", "p10", "p25", "median", "p75", "p90", "p99", "max"), qs)
    } | {"mean": round(float(arr.mean()), 3)}


def _years(times: np.ndarray) -> dict:
    years = Counter(datetime.fromtimestamp(float(t), tz=timezone.utc).year for t in times)
    return {str(y): years[y] for y in sorted(years)}


def _distributions(posts, scores, times, elig, in_sft, pairs) -> dict:
    all_pairs = [p for plist in pairs.values() for p in plist]
    sft_idx = np.flatnonzero(in_sft)
    return {
        "score_eligible": _quantiles(scores[elig]),
        "score_sft": _quantiles(scores[sft_idx]),
        "years_eligible": _years(times[elig]),
        "years_sft": _years(times[sft_idx]),
        "pair_seconds_apart": _quantiles([p.seconds_apart for p in all_pairs]),
        "pair_score_ratio": _quantiles([(scores[p.chosen] + 1) / (scores[p.rejected] + 1) for p in all_pairs]),
        "posts_in_pairs": int(len({i for p in all_pairs for i in (p.chosen, p.rejected)})),
    }


def _write_posts_table(path: Path, posts, texts, scores, reasons, is_test, in_sft, pair_count) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    kept = [r is None for r in reasons]
    table = pa.table(
        {
            "id": pa.array([p.id for p in posts], pa.string()),
            "created_at": pa.array([p.created_at for p in posts], pa.timestamp("us", tz="UTC")),
            "kind": pa.array([p.kind for p in posts], pa.string()),
            "text": pa.array([p.text for p in posts], pa.string()),
            "training_text": pa.array([t if k else None for t, k in zip(texts, kept)], pa.string()),
            "likes": pa.array([p.likes for p in posts], pa.int64()),
            "reposts": pa.array([p.reposts for p in posts], pa.int64()),
            "score": pa.array(scores, pa.float64()),
            "kept": pa.array(kept, pa.bool_()),
            "reason": pa.array(reasons, pa.string()),
            "split": pa.array(
                [("test" if t else "train") if k else None for t, k in zip(is_test.tolist(), kept)], pa.string()
            ),
            "in_sft": pa.array(in_sft, pa.bool_()),
            "dpo_pairs": pa.array(pair_count, pa.int32()),
            "has_media": pa.array([p.has_media for p in posts], pa.bool_()),
            "has_link": pa.array([p.has_link for p in posts], pa.bool_()),
            "is_quote": pa.array([p.is_quote for p in posts], pa.bool_()),
            "is_community": pa.array([p.is_community for p in posts], pa.bool_()),
            "lang": pa.array([p.lang for p in posts], pa.string()),
            "reply_to_id": pa.array([p.reply_to_id for p in posts], pa.string()),
            "source": pa.array([p.source for p in posts], pa.string()),
        }
    )
    pq.write_table(table, path, compression="zstd")
