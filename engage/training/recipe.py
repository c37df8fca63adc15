"""What every recipe shares around its own ``main(script_args, training_args, model_args)``: the
script arguments beside TRL's config and ``ModelConfig``, the command-line run (``--config`` YAML plus
flags, a person's mistake as one line and exit code 1), training with evaluation on the held-out
split, and the end of the run.

The steps of a run are in the recipe files themselves (``recipes/sft.py``, ``recipes/dpo.py``), each a
call into this package where the logic is shared, so a run can be read and adapted in one file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from engage.errors import UserError


@dataclass
class SFTScriptArguments:
    dataset_dir: str | None = field(default=None, metadata={"help": "Folder written by `engage build-dataset`."})


@dataclass
class DPOScriptArguments:
    dataset_dir: str | None = field(default=None, metadata={"help": "Folder written by `engage build-dataset`."})
    sft_adapter: str | None = field(
        default=None,
        metadata={
            "help": "The SFT run's output folder: DPO trains this adapter further, and it is the reference policy."
        },
    )


def is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0" and os.environ.get("LOCAL_RANK", "0") == "0"


def run_recipe(main: Callable, parser) -> int:
    """Parse ``--config`` YAML plus command-line overrides with ``parser`` (a TrlParser over the script
    arguments, TRL's config and ``ModelConfig``) and call ``main`` with them; one line per user error."""
    try:
        script_args, training_args, model_args = parser.parse_args_and_config(fail_with_unknown_args=True)
        main(script_args, training_args, model_args)
    except (UserError, ValueError, FileNotFoundError) as exc:
        if isinstance(exc, ValueError) and not str(exc).startswith(("Unknown arguments", "Config file")):
            raise
        if is_main_process():
            print(f"{parser.prog}: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


def _oom_hint(exc: BaseException) -> UserError:
    return UserError(
        f"out of memory ({str(exc).splitlines()[0][:120]}): lower per_device_train_batch_size and raise "
        "gradient_accumulation_steps to keep the effective batch, lower max_length, or set gradient_checkpointing: true"
    )


def train_and_evaluate(trainer, resume: str | None, evaluate: bool):
    """Train (from ``resume`` when set), then evaluate on the test split when ``evaluate``; return the
    training output and the metrics. Running out of memory becomes an error that says what to lower."""
    import torch

    try:
        output = trainer.train(resume_from_checkpoint=resume)
        metrics = trainer.evaluate() if evaluate else {}
    except torch.OutOfMemoryError as exc:
        raise _oom_hint(exc) from None
    return output, metrics


def end(trainer) -> None:
    """Finish trackers and destroy the process group, as TRL's scripts do (``Trainer.end`` on
    transformers >= 5.18)."""
    finish = getattr(trainer, "end", None) or trainer.accelerator.end_training
    finish()
