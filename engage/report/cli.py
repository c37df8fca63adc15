"""``engage report``: acceptance per model from the review store, and how published posts did."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engage.arguments import duration
from engage.durations import parse_duration
from engage.errors import UserError


def add_commands(sub) -> None:
    """Add this stage's subcommands to the ``engage`` command's subparsers."""
    _add_report(sub)


def _add_report(sub) -> None:
    p = sub.add_parser(
        "report",
        help="acceptance per model, and how published posts did",
        description="Per model label: candidates, decisions, acceptance (approved / decided) with a 95% Wilson "
        "interval, the engagement-bait rate, label rates (all over decided candidates); between two labels the "
        "difference with Fisher's exact test. With --archive (a newer export): each published post against your own post made closest in time "
        "within --window, win rate with an exact sign test. Printed as a table; --out writes report.json and "
        "report.html too. With no decision in the store yet it says so and exits 3.",
    )
    p.add_argument("--store", type=Path, required=True, help="review store file")
    p.add_argument(
        "--archive", type=Path, default=None, help="a newer X archive (or post table) holding the published posts"
    )
    p.add_argument(
        "--out", type=Path, default=None, help="folder for report.json and report.html (must not exist unless --force)"
    )
    p.add_argument("--force", action="store_true", help="replace --out if it is a report folder engage wrote")
    p.add_argument(
        "--window",
        type=duration,
        default=parse_duration("3h"),
        help="own post within this of a published one (default 3h)",
    )
    p.add_argument("--min-age", type=duration, default=parse_duration("7d"),
                   help="leave out posts younger than this when the archive was made (default 7d)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the report as JSON (report.json's content) instead of the table")  # fmt: skip
    p.set_defaults(run=_run_report)


def _run_report(args) -> int:
    from engage.report.measure import MatchRule, build_report
    from engage.report.render import render_text, write_report
    from engage.review.store import ReviewStore

    with ReviewStore(args.store, readonly=True) as store:
        report = build_report(store, args.archive, MatchRule(window=args.window, min_age=args.min_age))
    sys.stdout.write(json.dumps(report, indent=2) + "\n" if args.json else render_text(report))
    if args.out:
        protect = (args.store, *([args.archive] if args.archive else []))
        try:
            write_report(report, args.out, args.force, protect)
        except OSError as exc:
            raise UserError(f"cannot write {args.out}: {exc.strerror or exc}") from None
        print(f"engage: wrote {args.out}/report.json and {args.out}/report.html", file=sys.stderr)
    return 0
