"""QLoRA supervised fine-tuning on the SFT split of an engage dataset folder.

    accelerate launch recipes/sft.py --config recipes/mistral-7b/sft.yaml --dataset_dir data/ --output_dir runs/sft
    accelerate launch --config_file recipes/accelerate/cpu.yaml recipes/sft.py --config recipes/tiny/sft.yaml \\
        --model_name_or_path models/tiny --dataset_dir data/ --output_dir runs/sft

Every key of the YAML config is a TRL SFTConfig / ModelConfig field or `dataset_dir`; an
unknown key is an error. Command-line flags override the config. A killed run resumes from its
last checkpoint when launched again with the same output_dir.

The whole run is ``main`` below, step by step; each step is a call into ``engage.training`` where
the logic is shared with recipes/dpo.py.
"""

import sys

from engage.quiet import quiet_libraries

quiet_libraries()  # before the libraries load: some speak while loading

from peft import get_peft_model
from transformers import AutoTokenizer
from trl import ModelConfig, SFTConfig, SFTTrainer, TrlParser, get_peft_config

from engage.training.inputs import load_splits
from engage.training.model_card import model_card
from engage.training.outputs import save_outputs
from engage.training.qlora import adapter_snapshot, check_chat_template, keep_trainable_weights_fp32, load_base_model
from engage.training.recipe import SFTScriptArguments, end, run_recipe, train_and_evaluate
from engage.training.run_facts import tokens_at, train_info
from engage.training.start import prepare_run, resume_point

# eval_num_tokens is not the test split's size: TRL reports its running training-token counter there.
KEEP_METRICS = ("eval_loss", "eval_mean_token_accuracy")


def main(script_args: SFTScriptArguments, training_args: SFTConfig, model_args: ModelConfig) -> dict:
    # Data: the SFT split's train and test rows (prompt, completion).
    dataset = load_splits(script_args.dataset_dir, "sft")

    # Start: check the set-up can run here, and find a checkpoint a killed run left.
    prepare_run(model_args, training_args)
    resume = resume_point(training_args)
    tokens_before = tokens_at(resume)  # read now: the run's own checkpoints may replace that one

    # Model and adapter: the base (4-bit when the config asks) with a new LoRA adapter.
    tokenizer = AutoTokenizer.from_pretrained(model_args.model_name_or_path, revision=model_args.model_revision)
    check_chat_template(dataset, tokenizer, model_args.model_name_or_path)
    model = load_base_model(model_args, training_args)
    peft_config = get_peft_config(model_args)
    if peft_config is not None:
        model = get_peft_model(model, peft_config)
    snapshot = adapter_snapshot(model)

    # Trainer: TRL's, with the trainable LoRA weights kept in float32.
    trainer = SFTTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset["train"],
        eval_dataset=dataset.get("test"),
        processing_class=tokenizer,
    )
    keep_trainable_weights_fp32(trainer, snapshot)

    # Train, then evaluate on the held-out split.
    output, metrics = train_and_evaluate(trainer, resume, evaluate="test" in dataset)
    metrics = {k: v for k, v in metrics.items() if k in KEEP_METRICS}

    # Save: adapter, tokenizer, metrics, run facts and model card (pushed with --push_to_hub).
    info = train_info(trainer, output, script_args.dataset_dir, resume, None, tokens_before)
    card = model_card("sft", model_args, training_args, script_args.dataset_dir, metrics, info)
    save_outputs(trainer, card, output, metrics, info, model_args.model_name_or_path)
    end(trainer)
    return metrics


if __name__ == "__main__":
    parser = TrlParser((SFTScriptArguments, SFTConfig, ModelConfig), prog="recipes/sft.py")
    sys.exit(run_recipe(main, parser))
