"""What a run leaves in its output folder, in an order that never loses work: the adapter and the
tokenizer (all processes take part), then the trainer state, metrics, run facts and model card, then
the checkpoints dropped, then, with ``--push_to_hub``, the finished folder uploaded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


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
