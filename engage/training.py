"""What the training recipes share: loading an engage dataset folder, QLoRA model set-up, the SFT
and DPO runs themselves, evaluation on the held-out split, and the model card.

``recipes/sft.py`` and ``recipes/dpo.py`` only parse their arguments and call ``run_sft`` /
``run_dpo``; the data logic lives here, next to the code that wrote the datasets.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from engage.errors import UserError


@dataclass
class SFTDataArguments:
    dataset_dir: str | None = field(default=None, metadata={"help": "Folder written by `engage build-dataset`."})


@dataclass
class DPODataArguments:
    dataset_dir: str | None = field(default=None, metadata={"help": "Folder written by `engage build-dataset`."})
    sft_adapter: str | None = field(
        default=None,
        metadata={
            "help": "The SFT run's output folder: DPO trains this adapter further, and it is the reference policy."
        },
    )


def is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0" and os.environ.get("LOCAL_RANK", "0") == "0"


def load_splits(dataset_dir: str | None, kind: str):
    """The train and test splits of ``DIR/sft`` or ``DIR/dpo`` as a DatasetDict."""
    from datasets import load_dataset

    if not dataset_dir:
        raise UserError("no --dataset_dir: pass the folder `engage build-dataset` wrote")
    folder = Path(dataset_dir) / kind
    if not folder.is_dir():
        raise UserError(f"{folder} does not exist; pass the folder `engage build-dataset` wrote as --dataset_dir")
    files = {split: folder / f"{split}.jsonl" for split in ("train", "test")}
    for path in files.values():
        if not path.is_file():
            raise UserError(f"{path} is missing; build the dataset again with `engage build-dataset`")
    if files["train"].stat().st_size == 0:
        raise UserError(
            f"{files['train']} has no rows: nothing to train on "
            + (
                "(build again with looser pairing: --match none, a longer --window, --include-threads, "
                "--include-replies or a lower --min-ratio; the dataset card's what-if table counts each)"
                if kind == "dpo"
                else "(build again with --include-threads, --include-replies or a higher --top-fraction; the dataset "
                "card's what-if table counts each)"
            )
        )
    present = {split: str(path) for split, path in files.items() if path.stat().st_size > 0}
    return load_dataset("json", data_files=present)


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


def model_init_kwargs(model_args, training_args) -> dict:
    kwargs = dict(
        revision=model_args.model_revision,
        attn_implementation=model_args.attn_implementation,
        dtype=model_args.dtype,
    )
    kwargs.update(training_args.model_init_kwargs or {})
    return kwargs


def last_checkpoint(output_dir: str) -> str | None:
    """The newest checkpoint-N in ``output_dir`` that holds trainer state, for resuming a killed run."""
    from transformers.trainer_utils import get_last_checkpoint

    if not Path(output_dir).is_dir():
        return None
    return get_last_checkpoint(output_dir)


def train_info(trainer, output, dataset_dir: str, resumed_from: str | None, started_from: str | None) -> dict:
    """Facts about the run as it happened (not as configured), for the card, checks and benchmarks."""
    import resource

    import torch

    model = trainer.accelerator.unwrap_model(trainer.model)
    four_bit = sum(1 for m in model.modules() if type(m).__name__ == "Linear4bit")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    adapters = sorted(getattr(model, "peft_config", {}) or {})
    return {
        "dataset_dir": str(Path(dataset_dir).resolve()),  # engage generate reads the prompt and posts from it
        "global_step": trainer.state.global_step,
        "resumed_from": resumed_from,
        "started_from_adapter": started_from,
        "world_size": trainer.accelerator.num_processes,
        "device": str(trainer.accelerator.device),
        "linear4bit_layers": four_bit,
        "trainable_parameters": trainable,
        "adapters_in_memory": adapters,
        "train_runtime_s": output.metrics.get("train_runtime"),
        "input_tokens_seen": trainer.state.num_input_tokens_seen or None,  # non-padding tokens trained on
        "peak_gpu_memory_bytes": torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def _finish(trainer, output_dir: str, metrics: dict, info: dict, card: str) -> None:
    """Save metrics, run facts and the model card; drop the checkpoints the finished run no longer needs."""
    if not trainer.accelerator.is_main_process:
        return
    out = Path(output_dir)
    (out / "eval_results.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    (out / "train_info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    (out / "README.md").write_text(card, encoding="utf-8")
    for ckpt in out.glob("checkpoint-*"):
        shutil.rmtree(ckpt, ignore_errors=True)


def _dataset_stats(dataset_dir: str) -> dict:
    try:
        return json.loads((Path(dataset_dir) / "stats.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def model_card(
    kind: str, model_args, training_args, dataset_dir: str, metrics: dict, info: dict, sft_adapter: str | None = None
) -> str:
    stats = _dataset_stats(dataset_dir)
    counts = stats.get("counts", {})
    hp = {
        k: getattr(training_args, k, None)
        for k in (
            "learning_rate",
            "num_train_epochs",
            "max_steps",
            "per_device_train_batch_size",
            "gradient_accumulation_steps",
            "lr_scheduler_type",
            "warmup_steps",
            "max_length",
            "beta",
            "loss_type",
            "seed",
        )  # fmt: skip
        if getattr(training_args, k, None) is not None
    }
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
    tokens, runtime = info.get("input_tokens_seen"), info.get("train_runtime_s")
    peak = info.get("peak_gpu_memory_bytes") or info.get("peak_rss_bytes")
    lines += [
        "",
        "## Run",
        "",
        f"{info.get('global_step')} steps on {info.get('world_size')} process(es), {info.get('device')}"
        + (f", resumed from `{info['resumed_from']}`" if info.get("resumed_from") else "")
        + f"; {info.get('linear4bit_layers')} 4-bit linear layers, {info.get('trainable_parameters')} trainable parameters"
        + (
            f"; {tokens} non-padding tokens in {runtime:.0f} s ({tokens / runtime:.0f} tokens/s)"
            if tokens and runtime
            else ""
        )
        + (
            f"; peak {'GPU memory' if info.get('peak_gpu_memory_bytes') else 'RSS'} {peak / 2**30:.2f} GiB"
            if peak
            else ""
        )
        + ".",
    ]
    lines += ["", "## Hyperparameters", "", "| setting | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in hp.items() if v is not None]
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "from peft import AutoPeftModelForCausalLM",
        f'model = AutoPeftModelForCausalLM.from_pretrained("{training_args.output_dir}")',
        "```",
        "",
    ]
    return "\n".join(lines)


def _oom_hint(exc: BaseException) -> UserError:
    return UserError(
        f"out of memory ({str(exc).splitlines()[0][:120]}): lower per_device_train_batch_size and raise "
        "gradient_accumulation_steps to keep the effective batch, lower max_length, or set gradient_checkpointing: true"
    )


def _train_and_evaluate(trainer, output_dir: str, evaluate: bool):
    """Train (resuming from the last checkpoint in ``output_dir`` if a killed run left one), then
    evaluate on the test split; running out of memory becomes an error that says what to lower."""
    import torch

    resume = last_checkpoint(output_dir)
    try:
        output = trainer.train(resume_from_checkpoint=resume)
        metrics = trainer.evaluate() if evaluate else {}
    except torch.OutOfMemoryError as exc:
        raise _oom_hint(exc) from None
    return output, metrics, resume


def run_sft(data_args: SFTDataArguments, training_args, model_args) -> dict:
    from trl import SFTTrainer, get_peft_config, get_quantization_config

    dataset = load_splits(data_args.dataset_dir, "sft")
    check_4bit(model_args)
    count_real_tokens(training_args)
    training_args.model_init_kwargs = model_init_kwargs(model_args, training_args)
    trainer = SFTTrainer(
        model=model_args.model_name_or_path,
        args=training_args,
        train_dataset=dataset["train"],
        eval_dataset=dataset.get("test"),
        quantization_config=get_quantization_config(model_args),
        peft_config=get_peft_config(model_args),
    )
    output, metrics, resume = _train_and_evaluate(trainer, training_args.output_dir, evaluate="test" in dataset)
    trainer.save_model(training_args.output_dir)
    metrics = {k: v for k, v in metrics.items() if k in ("eval_loss", "eval_mean_token_accuracy", "eval_num_tokens")}
    info = train_info(trainer, output, data_args.dataset_dir, resume, None)
    card = model_card("sft", model_args, training_args, data_args.dataset_dir, metrics, info)
    _finish(trainer, training_args.output_dir, metrics, info, card)
    return metrics


def load_policy_from_sft(sft_adapter: str | None, model_args, training_args):
    """The base model (4-bit when asked) with the SFT adapter loaded as the trainable ``default`` adapter.

    Given a PeftModel with a pretrained adapter, TRL's DPOTrainer copies it into a frozen ``ref``
    adapter and uses that as the reference policy: the reference is the SFT policy, not the bare
    base model.
    """
    from peft import PeftModel, prepare_model_for_kbit_training
    from trl import get_quantization_config
    from trl.trainer.utils import create_model_from_path

    if not sft_adapter:
        raise UserError("no --sft_adapter: pass the SFT run's output folder (DPO continues from it)")
    adapter = Path(sft_adapter)
    if not (adapter / "adapter_config.json").is_file():
        raise UserError(f"{adapter} holds no SFT adapter (no adapter_config.json); run recipes/sft.py first")
    # Loaded the way TRL's trainers load a model by name (one code path for dtypes and devices).
    kwargs = {k: v for k, v in model_init_kwargs(model_args, training_args).items() if v is not None}
    quant = get_quantization_config(model_args)
    if quant is not None:
        kwargs["quantization_config"] = quant
    if training_args.distributed_state.distributed_type in ("MULTI_GPU", "DEEPSPEED"):
        kwargs["device_map"] = None  # each process places its own copy
    base = create_model_from_path(model_args.model_name_or_path, **kwargs)
    if quant is not None:
        base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=training_args.gradient_checkpointing)
    return PeftModel.from_pretrained(base, str(adapter), is_trainable=True)


def run_dpo(data_args: DPODataArguments, training_args, model_args) -> dict:
    from transformers import AutoTokenizer

    from engage.dpo_batches import LengthGroupedDPOTrainer
    from engage.dpo_reference import match_reference_dtype

    dataset = load_splits(data_args.dataset_dir, "dpo")
    check_4bit(model_args)
    count_real_tokens(training_args)
    model = load_policy_from_sft(data_args.sft_adapter, model_args, training_args)
    tokenizer = AutoTokenizer.from_pretrained(data_args.sft_adapter)
    started = time.perf_counter()
    trainer = LengthGroupedDPOTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset["train"],
        eval_dataset=dataset.get("test"),
        processing_class=tokenizer,
    )
    match_reference_dtype(trainer.model)
    prepare_s = time.perf_counter() - started  # tokenizing, and the reference log-probs when precomputed
    output, metrics, resume = _train_and_evaluate(trainer, training_args.output_dir, evaluate="test" in dataset)
    info = train_info(trainer, output, data_args.dataset_dir, resume, data_args.sft_adapter)
    info["prepare_s"] = prepare_s
    if trainer.accelerator.is_main_process:
        # Only the trained adapter (and the tokenizer): not the frozen reference copy.
        trainer.accelerator.unwrap_model(trainer.model).save_pretrained(
            training_args.output_dir, selected_adapters=["default"]
        )
        tokenizer.save_pretrained(training_args.output_dir)
    keep = (
        "eval_loss",
        "eval_rewards/accuracies",
        "eval_rewards/margins",
        "eval_rewards/chosen",
        "eval_rewards/rejected",
    )
    metrics = {k: v for k, v in metrics.items() if k in keep}
    card = model_card(
        "dpo", model_args, training_args, data_args.dataset_dir, metrics, info, sft_adapter=data_args.sft_adapter
    )
    _finish(trainer, training_args.output_dir, metrics, info, card)
    return metrics


def run_recipe(kind: str) -> int:
    """Parse ``--config`` YAML plus command-line overrides with TRL's parser and run; one line per user error."""
    from trl import DPOConfig, ModelConfig, SFTConfig, TrlParser

    data_type, config_type = (SFTDataArguments, SFTConfig) if kind == "sft" else (DPODataArguments, DPOConfig)
    parser = TrlParser((data_type, config_type, ModelConfig), prog=f"recipes/{kind}.py")
    try:
        data_args, training_args, model_args = parser.parse_args_and_config(fail_with_unknown_args=True)
        (run_sft if kind == "sft" else run_dpo)(data_args, training_args, model_args)
    except (UserError, ValueError, FileNotFoundError) as exc:
        if isinstance(exc, ValueError) and not str(exc).startswith(("Unknown arguments", "Config file")):
            raise
        if is_main_process():
            print(f"recipes/{kind}.py: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    return 0
