"""``engage build-dataset``: from an archive to TRL-ready SFT and DPO datasets."""

from __future__ import annotations

import gc
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from archive_parsers import ArchiveData, read_posts
from engage import __version__
from engage.dataset.card import write_card
from engage.dataset.files import write_dpo, write_posts_table, write_sft
from engage.dataset.formats import (
    DEFAULT_LINK_PLACEHOLDER,
    DEFAULT_PROMPT,
    FORMATS,
    LINK_POLICIES,
    apply_links,
    check_prompt,
    prompt_fields,
    render_prompt,
)
from engage.dataset.pairing import ADJUSTMENTS, MATCH_FIELDS, PairRule, Pairs
from engage.dataset.rules import ScoredPosts, Selection, apply_rules, engagement_events
from engage.dataset.scoring import LIKE_WEIGHT, MIN_AGE, REASONS, REPOST_WEIGHT, EligibilityRule, engagement_scores
from engage.dataset.selection import RANKS
from engage.dataset.what_if import advice_line, small_sets, what_if_table
from engage.durations import format_duration
from engage.errors import UserError
from engage.output import staged_folder
from engage.progress import Progress
from engage.stats import sign_test


@dataclass(frozen=True)
class BuildSettings:
    like_weight: float = LIKE_WEIGHT
    repost_weight: float = REPOST_WEIGHT
    include_replies: bool = False
    include_threads: bool = False
    min_age: timedelta = MIN_AGE
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
        need(0 < self.pairs.evidence <= 1, "--evidence must be above 0 and at most 1 (0.05 is the default; 1 is off)")
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

    def eligibility(self, as_of: datetime) -> EligibilityRule:
        return EligibilityRule(as_of, self.min_age, self.include_replies, self.include_threads)

    def select(self, data: ScoredPosts, as_of: datetime) -> Selection:
        """The data rules with these settings, on these posts."""
        return apply_rules(
            data, as_of, self.eligibility(as_of), self.test_fraction, self.top_fraction, self.rank,
            self.baseline_window.total_seconds(), self.pairs,
        )  # fmt: skip

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


def build_dataset(
    input_path: Path, out: Path, settings: BuildSettings, force: bool = False, progress: Progress | None = None
) -> dict:
    """Read ``input_path``, build the datasets, write them to ``out``; return stats.json's content."""
    # Hundreds of thousands of short-lived dicts and records make no reference cycles; the
    # cyclic collector would only rescan them over and over (half the parse time).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(input_path, out, settings, force, progress)
    finally:
        if gc_was_enabled:
            gc.enable()


def _build(input_path: Path, out: Path, settings: BuildSettings, force: bool, progress: Progress | None) -> dict:
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

    # One pass over the posts; everything after works on columns.
    n = len(posts)
    times = np.fromiter((p.created_at.timestamp() for p in posts), dtype=float, count=n)
    as_of = settings.as_of or data.generated_at or datetime.fromtimestamp(float(times.max()), tz=timezone.utc)
    links, placeholder = settings.links, settings.link_placeholder
    texts = [apply_links(p.text, links, placeholder) for p in posts]
    likes = np.fromiter((p.likes for p in posts), dtype=float, count=n)
    reposts = np.fromiter((p.reposts for p in posts), dtype=float, count=n)
    scores = engagement_scores(likes, reposts, settings.like_weight, settings.repost_weight)
    text_key = np.fromiter((hash(t.casefold()) for t in texts), dtype=np.int64, count=n)
    scored = ScoredPosts(
        posts, times, texts, scores, engagement_events(likes, reposts, settings.like_weight, settings.repost_weight),
        text_key,
    )  # fmt: skip

    sel = settings.select(scored, as_of)
    reasons, elig, cut, is_test, in_sft, pairs = sel.reasons, sel.elig, sel.cut, sel.is_test, sel.in_sft, sel.pairs
    rule = settings.pairs
    if elig.size == 0:
        detail = ", ".join(f"{v} {k}" for k, v in Counter(reasons).most_common())
        raise UserError(
            f"none of the {n} posts is eligible to train on ({detail}); see --include-threads, --include-replies "
            "and --min-age"
        )
    pair_count = np.zeros(n, dtype=np.int32)
    for found in pairs.values():
        np.add.at(pair_count, found.chosen, 1)
        np.add.at(pair_count, found.rejected, 1)

    ids = [p.id for p in posts]
    score_values = (
        [int(x) for x in scores.tolist()] if np.all(scores == np.round(scores)) else np.round(scores, 6).tolist()
    )
    counts = {
        "posts_read": n,
        "by_kind": dict(Counter(p.kind for p in posts).most_common()),
        "left_out": {r: k for r in REASONS if (k := reasons.count(r))},
        "eligible_by_kind": dict(Counter(posts[i].kind for i in elig.tolist()).most_common()),
        "eligible": int(elig.size),
        "eligible_train": int(elig.size - is_test.sum()),
        "eligible_test": int(is_test.sum()),
        "parse": dict(sorted(data.counts.items())),
    }
    progress.say("writing datasets")
    with staged_folder(out, force, protect=Path(input_path)) as stage:
        (stage / "sft").mkdir()
        (stage / "dpo").mkdir()
        counts["sft"] = {}
        for split, test in (("train", False), ("test", True)):
            rows = np.flatnonzero(in_sft & (is_test == test))
            rows = rows[np.argsort(times[rows], kind="stable")]
            created = {int(i): _iso(times[i]) for i in rows}
            counts["sft"][split] = write_sft(
                stage / "sft" / f"{split}.jsonl", rows, prompt, texts, ids, score_values, created, settings.format
            )
        counts["dpo"] = {
            split: write_dpo(stage / "dpo" / f"{split}.jsonl", pairs[split], prompt, texts, ids, score_values, settings.format, rule.adjust != "none")
            for split in ("train", "test")
        }  # fmt: skip
        counts["dpo_dropped_as_noise"] = {split: pairs[split].noise_dropped for split in ("train", "test")}
        small = small_sets(counts["sft"]["train"], counts["dpo"]["train"])
        advice = {"small": small, "what_if": what_if_table(settings, scored, as_of) if small else []}
        kept = [r is None for r in reasons]
        columns = _posts_columns(posts, ids, times, texts, kept, scores, reasons, is_test, in_sft, pair_count)
        write_posts_table(stage / "posts.parquet", columns)
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
            "distributions": _distributions(scores, times, elig, in_sft, pairs, likes, reposts),
            "advice": advice,
        }
        (stage / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        write_card(stage / "README.md", stats)
    if small:
        progress.warn(
            f"{' and '.join(small)}; {advice_line(advice['what_if'])}. "
            f"The what-if table in {out / 'README.md'} lists every looser setting."
        )
    progress.say(
        f"wrote {out}: {counts['sft']['train']}+{counts['sft']['test']} SFT rows, "
        f"{counts['dpo']['train']}+{counts['dpo']['test']} DPO pairs (train+test) from {counts['eligible']} eligible of {n} posts"
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
    if times.size == 0:
        return {}
    years = times.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970
    counts = np.bincount(years - years.min())
    return {str(int(years.min()) + k): int(c) for k, c in enumerate(counts.tolist()) if c}


def _time_lean(elig_times: np.ndarray, sft_times: np.ndarray) -> dict:
    """How many SFT rows come from the newer half of the eligible posts, and whether that is more than chance.

    With no lean, an SFT row is as likely to be from either half; a two-sided sign test says
    whether the count is further from half than chance explains (p < 0.05 and a share of at
    least 60%, so a big set's small tilt is not called a lean).
    """
    if elig_times.size == 0 or sft_times.size == 0:
        return {}
    middle = float(np.median(elig_times))
    newer = int(np.count_nonzero(sft_times > middle))
    n = int(sft_times.size)
    p = sign_test(newer, n - newer)
    share = newer / n
    lean = ("recent" if share >= 0.6 else "older" if share <= 0.4 else None) if p < 0.05 else None
    return {"middle": _iso(middle), "newer_half": newer, "rows": n, "p": round(p, 6), "lean": lean}


def _distributions(scores, times, elig, in_sft, pairs: dict[str, Pairs], likes, reposts) -> dict:
    chosen = np.concatenate([p.chosen for p in pairs.values()])
    rejected = np.concatenate([p.rejected for p in pairs.values()])
    sft_idx = np.flatnonzero(in_sft)
    return {
        "pair_chosen_likes": _quantiles(likes[chosen]),
        "pair_rejected_likes": _quantiles(likes[rejected]),
        "pair_chosen_reposts": _quantiles(reposts[chosen]),
        "pair_rejected_reposts": _quantiles(reposts[rejected]),
        "pair_chosen_score": _quantiles(scores[chosen]),
        "pair_rejected_score": _quantiles(scores[rejected]),
        "score_eligible": _quantiles(scores[elig]),
        "score_sft": _quantiles(scores[sft_idx]),
        "years_eligible": _years(times[elig]),
        "years_sft": _years(times[sft_idx]),
        "sft_time_lean": _time_lean(times[elig], times[sft_idx]),
        "pair_seconds_apart": _quantiles(np.concatenate([p.seconds_apart for p in pairs.values()])),
        "pair_score_ratio": _quantiles((scores[chosen] + 1) / (scores[rejected] + 1)),
        "pair_adjusted_ratio": _quantiles(np.concatenate([p.ratio for p in pairs.values()])),
        "posts_in_pairs": int(np.count_nonzero(np.bincount(np.concatenate([chosen, rejected]), minlength=1))),
    }


def _posts_columns(posts, ids, times, texts, kept, scores, reasons, is_test, in_sft, pair_count) -> dict:
    import pyarrow as pa

    return {
        "id": (pa.string(), ids),
        "created_at": (pa.timestamp("us", tz="UTC"), np.round(times * 1e6).astype("datetime64[us]")),
        "kind": (pa.string(), [p.kind for p in posts]),
        "text": (pa.string(), [p.text for p in posts]),
        "training_text": (pa.string(), [t if k else None for t, k in zip(texts, kept)]),
        "likes": (pa.int64(), [p.likes for p in posts]),
        "reposts": (pa.int64(), [p.reposts for p in posts]),
        "score": (pa.float64(), scores),
        "kept": (pa.bool_(), kept),
        "reason": (pa.string(), reasons),
        "split": (pa.string(), [("test" if t else "train") if k else None for t, k in zip(is_test.tolist(), kept)]),
        "in_sft": (pa.bool_(), in_sft),
        "dpo_pairs": (pa.int32(), pair_count),
        "has_media": (pa.bool_(), [p.has_media for p in posts]),
        "has_link": (pa.bool_(), [p.has_link for p in posts]),
        "is_quote": (pa.bool_(), [p.is_quote for p in posts]),
        "is_community": (pa.bool_(), [p.is_community for p in posts]),
        "lang": (pa.string(), [p.lang for p in posts]),
        "reply_to_id": (pa.string(), [p.reply_to_id for p in posts]),
        "source": (pa.string(), [p.source for p in posts]),
    }
