"""DPO on the DPO split of an engage dataset folder, continuing from the SFT adapter.

    accelerate launch recipes/dpo.py --config recipes/mistral-7b/dpo.yaml --dataset_dir data/ \\
        --sft_adapter runs/sft --output_dir runs/dpo

The SFT adapter is trained further, and a frozen copy of it is the reference policy (so DPO
measures its preferences against the SFT model, not the bare base). Only the trained adapter and
the tokenizer are saved. Every YAML key is a TRL DPOConfig / ModelConfig field, `dataset_dir` or
`sft_adapter`; an unknown key is an error.

The whole run is ``main`` below, step by step; each step is a call into ``engage.training`` where
the logic is shared with recipes/sft.py.
"""

import sys
import time

from engage.quiet import quiet_libraries

quiet_libraries()  # before the libraries load: some speak while loading

from transformers import AutoTokenizer
from trl import DPOConfig, ModelConfig, TrlParser

from engage.training.dpo_batches import LengthGroupedDPOTrainer
from engage.training.inputs import load_splits, sft_adapter_folder
from engage.training.model_card import model_card
from engage.training.outputs import save_outputs
from engage.training.qlora import (
    adapter_snapshot,
    check_chat_template,
    keep_trainable_weights_fp32,
    load_policy_from_sft,
    match_reference_dtype,
)
from engage.training.recipe import DPOScriptArguments, end, run_recipe, train_and_evaluate
from engage.training.run_facts import tokens_at, train_info
from engage.training.start import prepare_run, resume_point

KEEP_METRICS = (
    "eval_loss",
    "eval_rewards/accuracies",
    "eval_rewards/margins",
    "eval_rewards/chosen",
    "eval_rewards/rejected",
)


def main(script_args: DPOScriptArguments, training_args: DPOConfig, model_args: ModelConfig) -> dict:
    # Data: the DPO split's train and test pairs (prompt, chosen, rejected).
    dataset = load_splits(script_args.dataset_dir, "dpo")

    # Start: check the set-up can run here, and find a checkpoint a killed run left.
    prepare_run(model_args, training_args)
    resume = resume_point(training_args)
    tokens_before = tokens_at(resume)  # read now: the run's own checkpoints may replace that one

    # Model and adapter: the base with the SFT adapter, trained further; TRL copies it as the reference.
    adapter = sft_adapter_folder(script_args.sft_adapter)
    tokenizer = AutoTokenizer.from_pretrained(adapter)
    check_chat_template(dataset, tokenizer, model_args.model_name_or_path)
    model = load_policy_from_sft(adapter, model_args, training_args)
    snapshot = adapter_snapshot(model)

    # Trainer: TRL's DPOTrainer with pairs of similar length batched together, LoRA weights in float32.
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

    # Train, then evaluate on the held-out pairs (reward accuracy: how often chosen beats rejected).
    output, metrics = train_and_evaluate(trainer, resume, evaluate="test" in dataset)
    metrics = {k: v for k, v in metrics.items() if k in KEEP_METRICS}

    # Save: adapter, tokenizer, metrics, run facts and model card (pushed with --push_to_hub).
    info = train_info(trainer, output, script_args.dataset_dir, resume, script_args.sft_adapter, tokens_before)
    info["prepare_s"] = prepare_s
    card = model_card(
        "dpo", model_args, training_args, script_args.dataset_dir, metrics, info, sft_adapter=script_args.sft_adapter
    )
    save_outputs(trainer, card, output, metrics, info, model_args.model_name_or_path)
    end(trainer)
    return metrics


if __name__ == "__main__":
    parser = TrlParser((DPOScriptArguments, DPOConfig, ModelConfig), prog="recipes/dpo.py")
    sys.exit(run_recipe(main, parser))
