"""A run's start, before any model loads: the checks that the config can run on this machine
and launcher, the token count set to real (non-padding) tokens, a local base model's path made
absolute, and where training starts (a checkpoint to resume from, or none)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from engage.errors import UserError
from engage.training.qlora import check_fsdp_qlora, resolve_local_model


def prepare_run(model_args, training_args) -> None:
    """Check 4-bit and FSDP-QLoRA set-ups, count real tokens and resolve a local model path (changes the args)."""
    check_4bit(model_args)
    check_fsdp_qlora(model_args)
    count_real_tokens(training_args)
    resolve_local_model(model_args)


def check_4bit(model_args) -> None:
    """4-bit loading needs bitsandbytes with a backend for this machine."""
    if not getattr(model_args, "load_in_4bit", False):
        return
    if importlib.util.find_spec("bitsandbytes") is None:
        raise UserError("load_in_4bit needs bitsandbytes: pip install bitsandbytes, or set load_in_4bit: false")
    import torch

    if not torch.cuda.is_available():
        from importlib.metadata import version

        from packaging.version import Version

        if Version(version("bitsandbytes")) < Version("0.46"):
            raise UserError(
                "4-bit on a CPU needs bitsandbytes 0.46 or newer (this one has no CPU backend): "
                "pip install -U bitsandbytes, or set load_in_4bit: false"
            )


def count_real_tokens(training_args) -> None:
    """Count non-padding input tokens, so throughput is reported in real tokens/s (set here: the
    command line and YAML can only turn the count on or off, not choose non-padding)."""
    if training_args.include_num_input_tokens_seen in (False, "no"):
        training_args.include_num_input_tokens_seen = "non_padding"


def last_checkpoint(output_dir: str) -> str | None:
    """The newest checkpoint-N in ``output_dir`` that holds trainer state, for resuming a killed run."""
    from transformers.trainer_utils import get_last_checkpoint

    if not Path(output_dir).is_dir():
        return None
    return get_last_checkpoint(output_dir)


def resume_point(training_args) -> str | None:
    """Where training starts: ``--resume_from_checkpoint`` when given (a checkpoint folder, or ``true`` for
    the newest in ``output_dir``), else the newest checkpoint a killed run left in ``output_dir``."""
    asked = training_args.resume_from_checkpoint
    if asked is None or str(asked).strip().lower() in ("", "false"):
        return last_checkpoint(training_args.output_dir)
    if str(asked).strip().lower() == "true":
        found = last_checkpoint(training_args.output_dir)
        if found is None:
            raise UserError(
                f"--resume_from_checkpoint true, but {training_args.output_dir} holds no checkpoint-N folder "
                "to resume from; drop the flag to start afresh"
            )
        return found
    if not (Path(asked) / "trainer_state.json").is_file():
        raise UserError(
            f"--resume_from_checkpoint {asked} is not a checkpoint (no trainer_state.json in it); "
            "pass a checkpoint-N folder a run saved"
        )
    return str(asked)
