"""The adapter's model card (``README.md`` in the output folder): Hub metadata written with
huggingface_hub's ``ModelCardData`` (base model, ``library_name: peft``, tags), then what the run
trained on, how it scored on the held-out split, what happened, and the hyperparameters."""

from __future__ import annotations

import json
from pathlib import Path


def _dataset_stats(dataset_dir: str) -> dict:
    try:
        return json.loads((Path(dataset_dir) / "stats.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def hub_id(name: str) -> str | None:
    """``name`` when it names a Hub repository (not a local folder), else None."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if Path(name).expanduser().exists():
        return None
    try:
        validate_repo_id(name)
    except HFValidationError:
        return None
    return name


def card_data(kind: str, model_args, training_args):
    from huggingface_hub import ModelCardData

    tags = ["engage", "trl", kind, "peft", "lora"] + (["qlora", "4-bit"] if model_args.load_in_4bit else [])
    return ModelCardData(
        base_model=hub_id(model_args.model_name_or_path),  # a local path means nothing on the Hub
        library_name="peft",
        pipeline_tag="text-generation",
        tags=tags,
        model_name=Path(training_args.output_dir).name,
    )


def _hyperparameters(model_args, training_args) -> dict:
    keys = ("learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
            "gradient_accumulation_steps", "lr_scheduler_type", "warmup_steps", "max_length", "beta", "loss_type",
            "seed")  # fmt: skip
    hp = {k: getattr(training_args, k, None) for k in keys if getattr(training_args, k, None) is not None}
    try:  # the LoRA shape as saved (for DPO it is the SFT adapter's), not as configured
        lora = json.loads((Path(training_args.output_dir) / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        lora = {}
    hp = {k: getattr(v, "value", v) for k, v in hp.items()}
    hp.update(
        lora_r=lora.get("r"),
        lora_alpha=lora.get("lora_alpha"),
        lora_dropout=lora.get("lora_dropout"),
        lora_target_modules=lora.get("target_modules"),
        load_in_4bit=model_args.load_in_4bit,
        bnb_4bit_quant_type=model_args.bnb_4bit_quant_type if model_args.load_in_4bit else None,
        double_quant=model_args.use_bnb_nested_quant if model_args.load_in_4bit else None,
    )
    return hp


def _run_line(info: dict) -> str:
    tokens, runtime = info.get("input_tokens_this_run"), info.get("train_runtime_s")
    peak = info.get("peak_gpu_memory_bytes") or info.get("peak_rss_bytes")
    reserved = info.get("peak_gpu_reserved_bytes")
    return (
        f"{info.get('global_step')} steps on {info.get('world_size')} process(es), {info.get('device')}"
        + (f", resumed from `{info['resumed_from']}`" if info.get("resumed_from") else "")
        + f"; {info.get('linear4bit_layers')} 4-bit linear layers, {info.get('trainable_parameters')} trainable parameters"
        + (f" ({', '.join(info['trainable_dtypes'])})" if info.get("trainable_dtypes") else "")
        + (
            f"; {tokens} non-padding tokens in {runtime:.0f} s ({tokens / runtime:.0f} tokens/s)"
            if tokens and runtime
            else ""
        )
        + (
            f"; peak {'GPU memory' if info.get('peak_gpu_memory_bytes') else 'RSS'} {peak / 2**30:.2f} GiB"
            + (f" ({reserved / 2**30:.2f} GiB reserved)" if reserved else "")
            if peak
            else ""
        )
        + "."
    )


def model_card(
    kind: str, model_args, training_args, dataset_dir: str, metrics: dict, info: dict, sft_adapter: str | None = None
):
    """The card as a huggingface_hub ``ModelCard`` (``card.save(folder / "README.md")``)."""
    from huggingface_hub import ModelCard

    stats = _dataset_stats(dataset_dir)
    counts = stats.get("counts", {})
    hp = _hyperparameters(model_args, training_args)
    lines = [
        f"# {kind.upper()} adapter for @{stats.get('input', {}).get('handle') or 'the account owner'}",
        "",
        f"A LoRA adapter trained with TRL's {'SFTTrainer' if kind == 'sft' else 'DPOTrainer'} by engage "
        f"{'(QLoRA: 4-bit NF4 base)' if model_args.load_in_4bit else ''}.",
        "",
        f"- base model: `{model_args.model_name_or_path}`",
    ]
    if sft_adapter:
        lines.append(f"- started from the SFT adapter `{sft_adapter}`, which is also the reference policy")
    lines += [
        f"- dataset: `{dataset_dir}` ({counts.get(kind, {}).get('train', '?')} train / {counts.get(kind, {}).get('test', '?')} "
        f"test {'rows' if kind == 'sft' else 'pairs'}, from {counts.get('eligible', '?')} eligible of "
        f"{counts.get('posts_read', '?')} posts)",
        "",
        "## Evaluation on the held-out (newest) split",
        "",
    ]
    if kind == "sft":
        lines.append("Eval loss is the mean token loss on the test posts' text (lower is better).")
    else:
        lines.append(
            "Reward accuracy is the share of test pairs in which the tuned model prefers the post that did better "
            "(relative to the SFT reference); margins are the mean reward gap."
        )
    lines += ["", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items()]
    lines += ["", "## Run", "", _run_line(info)]
    lines += ["", "## Hyperparameters", "", "| setting | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in hp.items() if v is not None]
    where = training_args.hub_model_id if training_args.push_to_hub and training_args.hub_model_id else None
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "from peft import AutoPeftModelForCausalLM",
        f'model = AutoPeftModelForCausalLM.from_pretrained("{where or Path(training_args.output_dir).resolve()}")',
        "```",
        "",
    ]
    data = card_data(kind, model_args, training_args)
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines))
