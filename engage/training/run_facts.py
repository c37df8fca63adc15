"""Facts about a training run as it happened (not as configured), for ``train_info.json``, the model
card and the benchmarks."""

from __future__ import annotations

import json
from pathlib import Path


def linear4bit_layers(model) -> int:
    """bitsandbytes 4-bit linear layers in the model. PEFT's LoRA wrapper around one is also named
    ``Linear4bit``; it is not counted again."""
    try:
        from bitsandbytes.nn import Linear4bit
    except ImportError:
        return 0
    return sum(1 for m in model.modules() if isinstance(m, Linear4bit))


def tokens_at(checkpoint: str | None) -> int:
    """Non-padding input tokens the run had trained on when ``checkpoint`` was saved (0 for none)."""
    if not checkpoint:
        return 0
    try:
        state = json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    return int(state.get("num_input_tokens_seen") or 0)


def eval_tokens(dataset) -> int | None:
    """Non-padding tokens in the test split as the trainer tokenized it (SFT: each row's ids; DPO:
    the prompt with each of the two posts)."""
    if dataset is None:
        return None
    columns = set(dataset.column_names)
    if "input_ids" in columns:
        return sum(map(len, dataset["input_ids"]))
    if {"prompt_ids", "chosen_ids", "rejected_ids"} <= columns:
        return sum(
            2 * len(p) + len(c) + len(r)
            for p, c, r in zip(dataset["prompt_ids"], dataset["chosen_ids"], dataset["rejected_ids"], strict=True)
        )
    return None


def train_info(
    trainer, output, dataset_dir: str, resumed_from: str | None, started_from: str | None, tokens_before: int = 0
) -> dict:
    """``tokens_before``: :func:`tokens_at` the resumed checkpoint, read before training (the run's own
    checkpoints may replace it)."""
    import resource

    import torch

    model = trainer.accelerator.unwrap_model(trainer.model)
    total = trainer.state.num_input_tokens_seen or 0
    this_run = total - tokens_before  # train_runtime covers only this run, not the resumed part
    runtime = output.metrics.get("train_runtime")
    cuda = torch.cuda.is_available()
    return {
        "dataset_dir": str(Path(dataset_dir).resolve()),  # engage generate reads the prompt and posts from it
        "global_step": trainer.state.global_step,
        "resumed_from": resumed_from,
        "started_from_adapter": started_from,
        "world_size": trainer.accelerator.num_processes,
        "device": str(trainer.accelerator.device),
        "linear4bit_layers": linear4bit_layers(model),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "trainable_dtypes": sorted(
            {str(p.dtype).removeprefix("torch.") for p in model.parameters() if p.requires_grad}
        ),
        "adapters_in_memory": sorted(getattr(model, "peft_config", {}) or {}),
        "train_runtime_s": runtime,
        "input_tokens_seen": total or None,  # non-padding tokens trained on, over the whole run
        "input_tokens_this_run": this_run or None,  # the same, since this process started (resumed or not)
        "tokens_per_s": this_run / runtime if this_run and runtime else None,
        "eval_tokens": eval_tokens(trainer.eval_dataset),
        "peak_gpu_memory_bytes": torch.cuda.max_memory_allocated() if cuda else None,
        "peak_gpu_reserved_bytes": torch.cuda.max_memory_reserved() if cuda else None,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
