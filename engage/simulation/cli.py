"""``engage sample-archive``: a synthetic account's archive for demos, tests and benchmarks."""

from __future__ import annotations

import sys
from pathlib import Path

from engage.arguments import whole_number
from engage.errors import UserError


def add_commands(sub) -> None:
    """Add this stage's subcommands to the ``engage`` command's subparsers."""
    _add_sample(sub)


def _add_sample(sub) -> None:
    p = sub.add_parser(
        "sample-archive",
        help="write a synthetic X archive for demos and tests",
        description="Write a synthetic X archive with the real format's quirks (parts, long posts, edits, "
        "reposts, replies, threads, quotes, media, links mid-sentence, HTML escapes). Engagement follows the "
        "words, audience growth and time of day. The same seed gives the same archive.",
    )
    p.add_argument("out", type=Path, help="the .zip to write")
    p.add_argument("--posts", type=whole_number, default=2000, help="how many posts (default 2000)")
    p.add_argument("--seed", type=whole_number, default=0, help="random seed (default 0)")
    p.add_argument(
        "--era", choices=("2019", "2021", "2024"), default="2024", help="archive layout by year (default 2024)"
    )
    p.add_argument("--followers", type=whole_number, default=None,
                   help="audience at the archive's end (default about 9,000 for 2,000 posts or more, in proportion "
                        "below: --posts 300 is a small account whose posts mostly get 0-5 likes)")  # fmt: skip
    p.add_argument("--force", action="store_true", help="overwrite OUT if it is a sample archive engage wrote")
    p.set_defaults(run=_run_sample)


def _run_sample(args) -> int:
    import os

    from engage.output import temp_file_beside
    from engage.simulation.sample_archive import is_sample_archive, write_sample_archive

    if args.posts < 1:
        raise UserError("--posts must be at least 1")
    if args.out.is_dir():
        raise UserError(f"{args.out} is a folder; name the .zip file to write")
    if args.out.exists() and not args.force:
        raise UserError(f"{args.out} already exists; pass --force to overwrite it")
    if args.out.exists() and args.out.stat().st_size and not is_sample_archive(args.out):
        raise UserError(f"{args.out} is not a sample archive engage wrote; refusing to replace it, name another file")
    tmp = temp_file_beside(args.out)
    try:
        write_sample_archive(tmp, posts=args.posts, seed=args.seed, era=args.era, followers=args.followers)
        os.replace(tmp, args.out)
    except OSError as exc:
        raise UserError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    print(f"engage: wrote {args.out} ({args.posts} posts, seed {args.seed})", file=sys.stderr)
    return 0
