"""TRL's own trainers take build-dataset's output as it is (tiny local tokenizer and model, two steps)."""

from __future__ import annotations

import json
import math

import pytest

from engage.dataset.build import BuildSettings, build_dataset
from engage.training.tiny_model import build_tiny_model

pytest.importorskip("trl")


@pytest.fixture(scope="module")
def tiny(sample_2024, tmp_path_factory):
    base = tmp_path_factory.mktemp("trl")
    data = {}
    for fmt in ("text", "chat"):
        out = base / fmt
        build_dataset(sample_2024[0], out, BuildSettings(format=fmt))
        data[fmt] = out
    texts = [json.loads(line)["completion"] for line in (data["text"] / "sft" / "train.jsonl").read_text().splitlines()]
    return data, build_tiny_model(texts, base / "model")


def _train(kind: str, fmt: str, tiny, tmp_path):
    """Load the split files with datasets and train TRL's own trainer on them for two steps."""
    from datasets import load_dataset
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    data, model = tiny
    config, trainer_class = (SFTConfig, SFTTrainer) if kind == "sft" else (DPOConfig, DPOTrainer)
    ds = load_dataset("json", data_files={s: str(data[fmt] / kind / f"{s}.jsonl") for s in ("train", "test")})
    args = config(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=2, per_device_eval_batch_size=2,
                  use_cpu=True, bf16=False, report_to="none", save_strategy="no", max_length=128, logging_steps=1)  # fmt: skip
    trainer = trainer_class(model=str(model), args=args, train_dataset=ds["train"], eval_dataset=ds["test"],
                            processing_class=AutoTokenizer.from_pretrained(model))  # fmt: skip
    result = trainer.train()
    assert result.global_step == 2
    metrics = trainer.evaluate()
    logged = next(h for h in reversed(trainer.state.log_history) if "eval_loss" in h)  # TRL 0.29 logs its own here
    return {**logged, **metrics}, result


@pytest.mark.parametrize("fmt", ["text", "chat"])
def test_sft_trainer_takes_the_sft_files_as_they_are(tiny, fmt, tmp_path):
    metrics, result = _train("sft", fmt, tiny, tmp_path)
    assert result.training_loss > 0 and metrics["eval_loss"] > 0


@pytest.mark.parametrize("fmt", ["text", "chat"])
def test_dpo_trainer_takes_the_dpo_files_as_they_are(tiny, fmt, tmp_path):
    metrics, result = _train("dpo", fmt, tiny, tmp_path)
    # The reference is the starting policy, so the loss starts at ln 2 and two small steps barely move it.
    assert abs(result.training_loss - math.log(2)) < 0.05 and abs(metrics["eval_loss"] - math.log(2)) < 0.05
    # chosen and rejected really are different posts, each read as a whole
    assert metrics["eval_logps/chosen"] != metrics["eval_logps/rejected"]
    assert metrics["eval_logps/chosen"] < -5 and metrics["eval_logps/rejected"] < -5
    assert 0 <= metrics["eval_rewards/accuracies"] <= 1
