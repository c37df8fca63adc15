"""``engage build-dataset``: the archive in, the SFT and DPO datasets out."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from archive_parsers.x_text import parse_iso_utc
from engage.arguments import duration, finite_number, fraction, whole_number
from engage.dataset.formats import DEFAULT_LINK_PLACEHOLDER, DEFAULT_PROMPT, FORMATS, LINK_POLICIES
from engage.dataset.pairing import ADJUSTMENTS, MATCH_FIELDS, PairRule
from engage.dataset.selection import RANKS
from engage.durations import parse_duration


def add_commands(sub) -> None:
    """Add this stage's subcommands to the ``engage`` command's subparsers."""
    _add_build(sub)


def _evidence(text: str) -> float:
    if text.strip().lower() == "off":
        return 1.0
    value = fraction(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0 would drop every pair; write a level like 0.05, or off")
    return value


def _timestamp(text: str) -> datetime:
    try:
        return parse_iso_utc(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; write ISO 8601 like 2024-11-16 or 2024-11-16T11:33:22Z"
        ) from None


def _match(text: str) -> tuple[str, ...]:
    if text.strip().lower() in ("", "none"):
        return ()
    fields = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in fields if f not in MATCH_FIELDS]
    if bad:
        raise argparse.ArgumentTypeError(
            f"{bad[0]!r} cannot be matched; use a comma list of {', '.join(MATCH_FIELDS)}, or none"
        )
    return fields


BUILD_HELP = """\
Read an X archive (the zip X sends you, or its unpacked folder) or a post table (.csv, .jsonl,
.parquet with id, created_at, text, likes, reposts) and write datasets TRL loads as they are:

  OUT/sft/{train,test}.jsonl   prompt, completion: the top posts by score
  OUT/dpo/{train,test}.jsonl   prompt, chosen, rejected: pairs of posts made close in time
  OUT/posts.parquet            every post read, its score, and why it was left out if it was
  OUT/stats.json, README.md    every count and setting; a dataset card to read

score = like-weight x likes + repost-weight x reposts. Reposts are never the owner's words;
replies to others are left out unless --include-replies, thread continuations (replies to your
own posts) unless --include-threads; posts younger than --min-age when the archive was made are
left out (their counts were still growing). Pairs compare posts made within --window of each
other: same audience size, about the same time of day, so a clear difference in score is mostly
about the words; a pair also needs evidence that the difference is not noise at its counts
(--evidence). When the sets come out small, a warning and the card's what-if table say what
each looser setting would give.
"""


def _add_build(sub) -> None:
    d = PairRule()
    p = sub.add_parser(
        "build-dataset",
        help="turn an archive into SFT and DPO datasets",
        description=BUILD_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("archive", type=Path, help="X archive .zip or folder, or a .csv/.jsonl/.parquet post table")
    p.add_argument("--out", type=Path, required=True, help="output folder (must not exist unless --force)")
    p.add_argument("--force", action="store_true", help="replace --out if it is a dataset folder engage wrote")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    g = p.add_argument_group("scoring and eligibility")
    g.add_argument("--like-weight", type=finite_number, default=1.0, help="score per like (default 1)")
    g.add_argument("--repost-weight", type=finite_number, default=3.0, help="score per repost (default 3)")
    g.add_argument("--include-replies", action="store_true",
                   help="keep replies to other people (leading @handles removed)")  # fmt: skip
    g.add_argument("--include-threads", action="store_true",
                   help="keep thread continuations: your replies to your own posts (they pair only with each other)")  # fmt: skip
    g.add_argument("--min-age", type=duration, default=parse_duration("7d"),
                   help="leave out posts younger than this when the archive was made (default 7d)")  # fmt: skip
    g.add_argument("--as-of", type=_timestamp, default=None,
                   help="when the counts were taken (default: the archive's generationDate, else the newest post)")  # fmt: skip
    g = p.add_argument_group("SFT set")
    g.add_argument(
        "--top-fraction", type=fraction, default=0.1, help="share of eligible posts kept, best first (default 0.1)"
    )
    g.add_argument("--rank", choices=RANKS, default="absolute",
                   help="absolute: by score; relative: by score against the owner's median score around the same "
                        "time, so audience growth does not make the set all-recent (default absolute)")  # fmt: skip
    g.add_argument("--baseline-window", type=duration, default=parse_duration("30d"),
                   help="the 'around the same time' for --rank relative and --adjust hour: posts within this, "
                        "either side (default 30d)")  # fmt: skip
    g = p.add_argument_group("DPO pairs")
    g.add_argument("--window", type=duration, default=d.window,
                   help="pair posts made at most this far apart, e.g. 90m, 6h, 2d (default 3h)")  # fmt: skip
    g.add_argument("--min-ratio", type=finite_number, default=d.min_ratio,
                   help="pair only when (chosen + 1) / (rejected + 1) is at least this (default 2)")  # fmt: skip
    g.add_argument("--evidence", type=_evidence, default=d.evidence,
                   help="pair only when an exact binomial test on the two posts' like and repost counts puts the "
                        "chance that equal words gave this lead at most this (default 0.05; 1 or off turns it off)")  # fmt: skip
    g.add_argument("--max-pairs-per-post", type=whole_number, default=d.max_pairs_per_post,
                   help="a post joins at most this many pairs, nearest in time first (default 5)")  # fmt: skip
    g.add_argument("--match", type=_match, default=d.match,
                   help="pair only posts alike in these, so a picture or a link does not explain the difference: "
                        f"comma list of {', '.join(MATCH_FIELDS)}, or none (default media,link,quote)")  # fmt: skip
    g.add_argument("--adjust", choices=ADJUSTMENTS, default=d.adjust,
                   help="hour: compare scores after taking out the owner's typical hour-of-day effect (a 4 a.m. "
                        "post meets a sleeping audience); none: compare raw scores (default hour)")  # fmt: skip
    g = p.add_argument_group("split and format")
    g.add_argument("--test-fraction", type=fraction, default=0.1,
                   help="the newest share of eligible posts is the test set; the SFT set takes its top fraction "
                        "within each side, so about this share of SFT rows is test (default 0.1)")  # fmt: skip
    g.add_argument("--format", choices=FORMATS, default="text",
                   help="text: TRL prompt/completion and prompt/chosen/rejected strings; chat: conversational messages")  # fmt: skip
    g.add_argument("--links", choices=LINK_POLICIES, default="strip",
                   help="strip: no URL in training text (default); placeholder: each URL becomes --link-placeholder; keep")  # fmt: skip
    g.add_argument("--link-placeholder", default=DEFAULT_LINK_PLACEHOLDER, help=f"default {DEFAULT_LINK_PLACEHOLDER}")
    g.add_argument("--prompt", default=DEFAULT_PROMPT,
                   help="prompt template; may use {handle} and {display_name} (default: %(default)r)")  # fmt: skip
    g.add_argument("--handle", default=None, help="account handle for the prompt (default: from the archive)")
    p.set_defaults(run=_run_build)


def _run_build(args) -> int:
    from engage.dataset.build import BuildSettings, build_dataset
    from engage.progress import Progress

    settings = BuildSettings(
        like_weight=args.like_weight,
        repost_weight=args.repost_weight,
        include_replies=args.include_replies,
        include_threads=args.include_threads,
        min_age=args.min_age,
        as_of=args.as_of,
        top_fraction=args.top_fraction,
        rank=args.rank,
        baseline_window=args.baseline_window,
        pairs=PairRule(args.window, args.min_ratio, args.max_pairs_per_post, args.match, args.adjust, args.evidence),
        test_fraction=args.test_fraction,
        format=args.format,
        links=args.links,
        link_placeholder=args.link_placeholder,
        prompt=args.prompt,
        handle=args.handle,
    )
    build_dataset(args.archive, args.out, settings, force=args.force, progress=Progress(args.quiet))
    return 0
