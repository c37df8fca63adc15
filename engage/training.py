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
from engage.model_card import model_card
from engage.qlora import (
    adapter_snapshot,
    check_chat_template,
    check_fsdp_qlora,
    keep_trainable_weights_fp32,
    load_base_model,
    match_reference_dtype,
    resolve_local_model,
)
from engage.run_facts import tokens_at, train_info


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


def _oom_hint(exc: BaseException) -> UserError:
    return UserError(
        f"out of memory ({str(exc).splitlines()[0][:120]}): lower per_device_train_batch_size and raise "
        "gradient_accumulation_steps to keep the effective batch, lower max_length, or set gradient_checkpointing: true"
    )


def _train_and_evaluate(trainer, resume: str | None, evaluate: bool):
    """Train (from ``resume`` when set), then evaluate on the test split; running out of memory
    becomes an error that says what to lower."""
    import torch

    try:
        output = trainer.train(resume_from_checkpoint=resume)
        metrics = trainer.evaluate() if evaluate else {}
    except torch.OutOfMemoryError as exc:
        raise _oom_hint(exc) from None
    return output, metrics


def save_outputs(trainer, card, output, metrics: dict, info: dict, base_model: str) -> None:
    """Save the trained adapter and the tokenizer (every process takes part: under FSDP and ZeRO-3 the
    weights are gathered from all of them), then, on the main process, the trainer state (loss
    history), metrics, run facts and model card; drop the checkpoints only once all of that is written;
    with ``--push_to_hub``, upload the finished folder."""
    out = Path(trainer.args.output_dir)
    model = trainer.accelerator.unwrap_model(trainer.model)
    for config in getattr(model, "peft_config", {}).values():
        config.base_model_name_or_path = base_model  # absolute for a local folder: loads from any directory
    if trainer.is_fsdp_enabled:
        # Sharded checkpoints resume fast; the final save needs the whole weights (Trainer.save_model
        # writes no model at all under SHARDED_STATE_DICT).
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(str(out), _internal_call=True)  # the push comes last, with the card
    if not trainer.accelerator.is_main_process:
        return
    # DPO's frozen reference is a second adapter, which PEFT saves under ref/: it is the SFT adapter again.
    shutil.rmtree(out / "ref", ignore_errors=True)
    trainer.save_state()  # trainer_state.json: the loss and eval history
    (out / "train_results.json").write_text(json.dumps(output.metrics, indent=2) + "\n", encoding="utf-8")
    (out / "eval_results.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    (out / "train_info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    card.save(out / "README.md")
    for ckpt in out.glob("checkpoint-*"):
        shutil.rmtree(ckpt, ignore_errors=True)
    if trainer.args.push_to_hub:
        push_outputs(trainer, out)


def push_outputs(trainer, folder: Path) -> str:
    """Upload the finished output folder (adapter, tokenizer, card, metrics) to the run's Hub repo."""
    from huggingface_hub import HfApi

    finish = getattr(trainer, "_finish_current_push", None)
    if finish is not None:
        finish()  # a checkpoint push still uploading would race the final one
    repo_id = trainer.hub_model_id or trainer.args.hub_model_id or folder.resolve().name
    HfApi(token=trainer.args.hub_token).upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        commit_message="engage: final adapter and model card",
        revision=trainer.args.hub_revision,
        ignore_patterns=["checkpoint-*", "checkpoint-*/**"],
    )
    return repo_id


def end(trainer) -> None:
    """Finish trackers and destroy the process group, as TRL's scripts do (``Trainer.end`` on
    transformers >= 5.18)."""
    finish = getattr(trainer, "end", None) or trainer.accelerator.end_training
    finish()


def run_sft(data_args: SFTDataArguments, training_args, model_args) -> dict:
    from peft import get_peft_model
    from transformers import AutoTokenizer
    from trl import SFTTrainer, get_peft_config

    dataset = load_splits(data_args.dataset_dir, "sft")
    check_4bit(model_args)
    check_fsdp_qlora(model_args)
    count_real_tokens(training_args)
    resolve_local_model(model_args)
    resume = resume_point(training_args)
    tokens_before = tokens_at(resume)  # read now: the run's own checkpoints may replace that one
    tokenizer = AutoTokenizer.from_pretrained(model_args.model_name_or_path, revision=model_args.model_revision)
    check_chat_template(dataset, tokenizer, model_args.model_name_or_path)
    model = load_base_model(model_args, training_args)
    peft_config = get_peft_config(model_args)
    if peft_config is not None:
        model = get_peft_model(model, peft_config)
    snapshot = adapter_snapshot(model)
    trainer = SFTTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset["train"],
        eval_dataset=dataset.get("test"),
        processing_class=tokenizer,
    )
    keep_trainable_weights_fp32(trainer, snapshot)
    output, metrics = _train_and_evaluate(trainer, resume, evaluate="test" in dataset)
    # eval_num_tokens is not the test split's size: TRL reports its running training-token counter there.
    metrics = {k: v for k, v in metrics.items() if k in ("eval_loss", "eval_mean_token_accuracy")}
    info = train_info(trainer, output, data_args.dataset_dir, resume, None, tokens_before)
    card = model_card("sft", model_args, training_args, data_args.dataset_dir, metrics, info)
    save_outputs(trainer, card, output, metrics, info, model_args.model_name_or_path)
    end(trainer)
    return metrics


def sft_adapter_folder(sft_adapter: str | None) -> Path:
    """The SFT run's output folder, checked to hold an adapter."""
    if not sft_adapter:
        raise UserError("no --sft_adapter: pass the SFT run's output folder (DPO continues from it)")
    adapter = Path(sft_adapter)
    if not (adapter / "adapter_config.json").is_file():
        raise UserError(f"{adapter} holds no SFT adapter (no adapter_config.json); run recipes/sft.py first")
    return adapter


def load_policy_from_sft(adapter: Path, model_args, training_args):
    """The base model (4-bit when asked) with the SFT adapter loaded as the trainable ``default`` adapter.

    Given a PeftModel with a pretrained adapter, TRL's DPOTrainer copies it into a frozen ``ref``
    adapter and uses that as the reference policy: the reference is the SFT policy, not the bare
    base model.
    """
    from peft import PeftModel

    return PeftModel.from_pretrained(load_base_model(model_args, training_args), str(adapter), is_trainable=True)


def run_dpo(data_args: DPODataArguments, training_args, model_args) -> dict:
    from transformers import AutoTokenizer

    from engage.dpo_batches import LengthGroupedDPOTrainer

    dataset = load_splits(data_args.dataset_dir, "dpo")
    check_4bit(model_args)
    check_fsdp_qlora(model_args)
    count_real_tokens(training_args)
    resolve_local_model(model_args)
    resume = resume_point(training_args)
    tokens_before = tokens_at(resume)  # read now: the run's own checkpoints may replace that one
    adapter = sft_adapter_folder(data_args.sft_adapter)
    tokenizer = AutoTokenizer.from_pretrained(adapter)
    check_chat_template(dataset, tokenizer, model_args.model_name_or_path)
    model = load_policy_from_sft(adapter, model_args, training_args)
    snapshot = adapter_snapshot(model)
    started = time.perf_counter()
    trainer = LengthGroupedDPOTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset["train"],
        eval_dataset=dataset.get("test"),
        processing_class=tokenizer,
    )
    keep_trainable_weights_fp32(trainer, snapshot)
    if not trainer.is_fsdp_enabled:  # under FSDP 1 the reference takes the base's dtype (one dtype per unit)
        match_reference_dtype(trainer.model)
    prepare_s = time.perf_counter() - started  # tokenizing, and the reference log-probs when precomputed
    output, metrics = _train_and_evaluate(trainer, resume, evaluate="test" in dataset)
    info = train_info(trainer, output, data_args.dataset_dir, resume, data_args.sft_adapter, tokens_before)
    info["prepare_s"] = prepare_s
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
    save_outputs(trainer, card, output, metrics, info, model_args.model_name_or_path)
    end(trainer)
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
