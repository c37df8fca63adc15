"""``engage generate``, ``engage review``, ``engage export`` and ``engage feedback``: candidates in, the
owner's decisions, approved posts and the next round's training data out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engage.arguments import finite_number, fraction, whole_number
from engage.errors import UserError
from engage.review.feedback import NEGATIVE_LABELS
from engage.review.store import DEFAULT_LABELS


def add_commands(sub) -> None:
    """Add this stage's subcommands to the ``engage`` command's subparsers."""
    _add_generate(sub)
    _add_review(sub)
    _add_export(sub)
    _add_feedback(sub)


GENERATE_HELP = """\
Sample candidate posts from a base model plus a trained adapter into a review store (SQLite).
Nothing is posted: candidates wait for you in `engage review`. Each one is flagged when it is a
near copy of one of your posts (memorisation), has an @mention, a link or a hashtag, or is
longer than the platform limit. An exact duplicate of a stored candidate is not stored again.
"""


def _positive(text: str) -> float:
    value = finite_number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be more than 0")
    return value


def _labels(text: str) -> tuple[str, ...]:
    if text.strip().lower() in ("", "none"):
        return ()
    return tuple(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))


def _add_generate(sub) -> None:
    from engage.review.generate import SamplingSettings
    from engage.review.near_copy import DEFAULT_THRESHOLD
    from engage.review.post_flags import X_LIMIT

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
    p.add_argument("--n", type=whole_number, default=d.n, help=f"new candidates to store (default {d.n})")
    p.add_argument(
        "--batch-size",
        type=whole_number,
        default=d.batch_size,
        help=f"samples per generate call (default {d.batch_size})",
    )
    p.add_argument("--temperature", type=_positive, default=d.temperature, help=f"default {d.temperature}")
    p.add_argument("--top-p", type=fraction, default=d.top_p, help=f"default {d.top_p}")
    p.add_argument("--max-new-tokens", type=whole_number, default=d.max_new_tokens, help=f"default {d.max_new_tokens}")
    p.add_argument("--seed", type=whole_number, default=d.seed, help=f"default {d.seed}")
    p.add_argument("--load-in-4bit", dest="load_in_4bit", action="store_true", default=None,
                   help="4-bit NF4 base (default on a GPU)")  # fmt: skip
    p.add_argument(
        "--no-4bit", dest="load_in_4bit", action="store_false", help="full-precision base (default on a CPU)"
    )
    p.add_argument(
        "--limit", type=whole_number, default=X_LIMIT, help=f"platform length limit (default {X_LIMIT}, X's)"
    )
    p.add_argument("--copy-threshold", type=fraction, default=DEFAULT_THRESHOLD,
                   help=f"flag a near copy at this similarity to one of your posts, 0-1 (default {DEFAULT_THRESHOLD})")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(run=_run_generate)


def _run_generate(args) -> int:
    from engage.progress import Progress
    from engage.review.generate import SamplingSettings, generate, resolve_source
    from engage.review.store import ReviewStore

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
    p.add_argument("--port", type=whole_number, default=7860, help="default 7860")
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

    from engage.review.store import ReviewStore

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
    from engage.review.export import DEFAULT_DISCLOSURE

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
    from engage.review.export import export_approved
    from engage.review.store import ReviewStore

    label = None if args.no_label else args.label_text.strip()
    if label == "":
        raise UserError("--label-text is empty; pass --no-label to leave the label out")
    with ReviewStore(args.store, readonly=True) as store:
        count = export_approved(store, args.out, label, force=args.force)
    note = "" if label else " without the AI-generated label"
    print(f"engage: wrote {count} approved posts to {args.out}{note}", file=sys.stderr)
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
        "--test-fraction", type=fraction, default=0.1, help="newest share of decisions kept for test (default 0.1)"
    )
    p.add_argument("--negative-labels", type=_labels, default=NEGATIVE_LABELS,
                   help="comma list of labels that make a candidate count as rejected, approved or not: never the "
                        "chosen side of a pair, KTO label false; none to turn off (default: "
                        + ", ".join(NEGATIVE_LABELS) + ")")  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace --out if engage wrote it")
    p.set_defaults(run=_run_feedback)


def _run_feedback(args) -> int:
    from engage.review.feedback import write_feedback
    from engage.review.store import ReviewStore

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
