"""The ``engage`` command: assembles each stage's subcommands (``engage/<stage>/cli.py``) into one
parser, and turns a person's mistake into one line and a non-zero exit code. Flags and what each
subcommand does live with the stage; a new subcommand is added there."""

from __future__ import annotations

import argparse
import sys

from archive_parsers import ArchiveError
from engage import __version__
from engage.dataset import cli as dataset_cli
from engage.errors import EXIT_NOTHING_YET, NothingYet, UserError
from engage.report import cli as report_cli
from engage.review import cli as review_cli
from engage.simulation import cli as simulation_cli
from engage.training import cli as training_cli

# The order `engage --help` lists the subcommands in: the pipeline's, with the sample archive beside the dataset it feeds.
STAGES = (dataset_cli, simulation_cli, training_cli, review_cli, report_cli)


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line, with where to look for help."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="engage", description="Fine-tune a model on your own posts; you approve every post it writes."
    )
    parser.add_argument("--version", action="version", version=f"engage {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for stage in STAGES:
        stage.add_commands(sub)
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
