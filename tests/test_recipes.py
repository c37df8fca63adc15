"""The training recipes through `accelerate launch`, on a CPU, with the tiny model and the 4-bit path on."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(REPO), TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")


def launch(
    kind: str, *args, accelerate_config: str = "cpu.yaml", preset: str = "tiny", timeout: int = 600
) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(REPO / "recipes" / "accelerate" / accelerate_config),
           str(REPO / "recipes" / f"{kind}.py"), "--config", str(REPO / "recipes" / preset / f"{kind}.yaml"), *map(str, args)]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=REPO, timeout=timeout)


def recipe(kind: str, *args) -> subprocess.CompletedProcess:
    """The recipe run directly (no launcher): what its own error output looks like."""
    cmd = [sys.executable, str(REPO / "recipes" / f"{kind}.py"), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=REPO, timeout=300)


def ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_base):
    base = tmp_path_factory.mktemp("recipes")
    data, model = tiny_base
    sft = base / "sft"
    # The base model as a user types it, relative to the directory the run starts in.
    ok(launch("sft", "--model_name_or_path", os.path.relpath(model, REPO), "--dataset_dir", data, "--output_dir", sft,
              "--max_steps", 6, "--eval_strategy", "no"))  # fmt: skip
    return base, data, model, sft


def adapter_tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_sft_saves_a_4bit_qlora_adapter_that_peft_loads(trained, tmp_path, monkeypatch):
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoConfig, AutoTokenizer

    _, _, model, sft = trained
    info = json.loads((sft / "train_info.json").read_text())
    layers = AutoConfig.from_pretrained(model).num_hidden_layers
    assert info["linear4bit_layers"] == 7 * layers, "each 4-bit linear layer once (q k v o gate up down)"
    assert info["trainable_dtypes"] == ["float32"], "LoRA weights train in float32, not TRL's bf16 cast"
    assert info["global_step"] == 6 and info["resumed_from"] is None
    assert info["eval_tokens"] and info["eval_tokens"] != info["input_tokens_seen"]
    metrics = json.loads((sft / "eval_results.json").read_text())
    assert metrics["eval_loss"] > 0 and "eval_num_tokens" not in metrics
    card = (sft / "README.md").read_text()
    assert "QLoRA" in card and "eval_loss" in card and str(Path(model).resolve()) in card
    assert not list(sft.glob("checkpoint-*")), "only the adapter, not checkpoints"
    import torch

    state = json.loads((sft / "trainer_state.json").read_text())
    assert state["global_step"] == 6 and any("loss" in entry for entry in state["log_history"])
    # As a user would: from another directory (the run was given the base model as a relative path).
    monkeypatch.chdir(tmp_path)
    peft_model = AutoPeftModelForCausalLM.from_pretrained(sft)
    tok = AutoTokenizer.from_pretrained(sft)
    prompt = tok("Write a post", return_tensors="pt")
    out = peft_model.generate(**prompt, max_new_tokens=5, min_new_tokens=5, do_sample=False)
    assert out.shape[1] == prompt["input_ids"].shape[1] + 5, "five new tokens after the prompt"
    with torch.no_grad():
        tuned = peft_model(**prompt).logits
        with peft_model.disable_adapter():
            base_logits = peft_model(**prompt).logits
    assert (tuned - base_logits).abs().max() > 1e-4, (
        "the saved adapter holds what training learned (LoRA B starts at 0)"
    )


def test_the_model_card_carries_hub_metadata(trained):
    from huggingface_hub import ModelCard

    from engage.training.model_card import hub_id

    _, _, model, sft = trained
    card = ModelCard.load(sft / "README.md")
    assert card.data.library_name == "peft" and card.data.pipeline_tag == "text-generation"
    assert {"trl", "sft", "lora", "qlora"} <= set(card.data.tags)
    assert card.data.base_model is None, "a local base model is no Hub id"
    assert "## Evaluation on the held-out (newest) split" in card.text
    assert hub_id("mistralai/Mistral-7B-v0.1") == "mistralai/Mistral-7B-v0.1"
    assert hub_id(str(model)) is None and hub_id("not a/valid id!") is None


def test_dpo_continues_the_sft_adapter_with_sft_as_reference(trained, tmp_path):
    from huggingface_hub import ModelCard

    base, data, model, sft = trained
    # With a learning rate of 0 the policy never moves: it must still be the SFT adapter, and with
    # the SFT policy as the reference every reward is 0 (against the bare base it would not be).
    frozen = tmp_path / "dpo0"
    ok(launch("dpo", "--model_name_or_path", model, "--dataset_dir", data, "--sft_adapter", sft, "--output_dir", frozen,
              "--max_steps", 2, "--learning_rate", 0, "--eval_strategy", "no"))  # fmt: skip
    a, b = adapter_tensors(sft), adapter_tensors(frozen)
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    metrics = json.loads((frozen / "eval_results.json").read_text())
    # Policy and reference are the same weights in the same dtype (engage.training.qlora.match_reference_dtype), so the same
    # arithmetic: a reward is beta x (policy - reference) summed log-probs, and all that may differ is the
    # float32 order of summing <= 160 per-token log-probs of the 512-token vocabulary (|sum| <= ~1000,
    # eps 1.2e-7): beta 0.1 x 1.2e-4 = 1.2e-5. A bare-base reference puts rewards near 0.1 here, and a
    # bf16 policy against a float32 copy of itself (TRL's own cast, before the fix) near 1e-4.
    for key in ("eval_rewards/chosen", "eval_rewards/rejected", "eval_rewards/margins"):
        assert abs(metrics[key]) <= 2e-5, (key, metrics[key])

    moved = tmp_path / "dpo"
    ok(launch("dpo", "--model_name_or_path", model, "--dataset_dir", data, "--sft_adapter", sft, "--output_dir", moved,
              "--max_steps", 4, "--eval_strategy", "no"))  # fmt: skip
    info = json.loads((moved / "train_info.json").read_text())
    assert info["started_from_adapter"] == str(sft) and info["linear4bit_layers"] > 0
    assert info["adapters_in_memory"] == ["default", "ref"]
    c = adapter_tensors(moved)
    assert c.keys() == a.keys(), "only the trained adapter is saved, not the reference copy"
    assert not (moved / "ref").exists()
    assert info["trainable_dtypes"] == ["float32"]
    assert any(not (a[k] == c[k]).all() for k in a), "DPO trained the adapter"
    metrics = json.loads((moved / "eval_results.json").read_text())
    assert {"eval_rewards/accuracies", "eval_rewards/margins", "eval_loss"} <= set(metrics)
    assert "Reward accuracy" in (moved / "README.md").read_text()
    assert "dpo" in ModelCard.load(moved / "README.md").data.tags


def test_the_shipped_mistral_7b_dpo_config_learns_with_bf16_on(trained, tmp_path):
    """recipes/mistral-7b/dpo.yaml as shipped (bf16 on, bf16 base, its learning rate, one epoch) but on
    a CPU and the tiny model: DPO must move the policy off the SFT reference on held-out pairs. With
    TRL's bf16 LoRA weights and the handbook's 5e-6 the same run ended at eval loss 0.6930 (ln 2 less
    0.0002) and a held-out margin of 0.0003: nothing learnt (benchmarks/RESULTS.md)."""
    _, data, model, sft = trained
    out = tmp_path / "dpo"
    ok(launch("dpo", "--model_name_or_path", model, "--dataset_dir", data, "--sft_adapter", sft, "--output_dir", out,
              "--use_cpu", "true", "--logging_steps", 3, preset="mistral-7b"))  # fmt: skip
    info = json.loads((out / "train_info.json").read_text())
    assert info["trainable_dtypes"] == ["float32"] and info["global_step"] >= 12
    metrics = json.loads((out / "eval_results.json").read_text())
    # The tiny model (width 64) moves far less per step than a 7B model does: "clearly" is measured
    # against the run above, at least 5x its distance from ln 2 and its margin.
    assert metrics["eval_loss"] < math.log(2) - 0.001, metrics
    assert metrics["eval_rewards/margins"] > 0.0015 and metrics["eval_rewards/accuracies"] > 0.5, metrics
    margins = [e["rewards/margins"] for e in json.loads((out / "trainer_state.json").read_text())["log_history"]
               if "rewards/margins" in e]  # fmt: skip
    assert len(margins) >= 4 and margins[-1] > margins[0] and margins[-1] > 0, margins


def test_a_killed_run_resumes_from_its_last_checkpoint(trained, tmp_path):
    _, data, model, _ = trained
    out = tmp_path / "sft"
    args = ["--model_name_or_path", model, "--dataset_dir", data, "--output_dir", out, "--max_steps", 40,
            "--save_steps", 4, "--eval_strategy", "no"]  # fmt: skip
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(REPO / "recipes/accelerate/cpu.yaml"),
           str(REPO / "recipes/sft.py"), "--config", str(REPO / "recipes/tiny/sft.yaml"), *map(str, args)]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=ENV, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 300
    while not list(out.glob("checkpoint-*/trainer_state.json")):
        assert proc.poll() is None and time.time() < deadline, "the run ended before its first checkpoint"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "train_info.json").exists()
    saved = tmp_path / "saved" / "checkpoint"
    complete = [p.parent for p in out.glob("checkpoint-*/trainer_state.json")]
    shutil.copytree(max(complete, key=lambda p: int(p.name.split("-")[1])), saved)
    ok(launch("sft", *args))
    info = json.loads((out / "train_info.json").read_text())
    assert info["resumed_from"] and "checkpoint-" in info["resumed_from"]
    assert info["global_step"] == 40
    # Throughput is this run's tokens over this run's time, not the whole run's tokens.
    assert 0 < info["input_tokens_this_run"] < info["input_tokens_seen"]
    assert info["tokens_per_s"] == pytest.approx(info["input_tokens_this_run"] / info["train_runtime_s"])

    # An explicit --resume_from_checkpoint is honoured, from any folder.
    other = tmp_path / "other"
    ok(launch("sft", *args[:5], other, *args[6:], "--resume_from_checkpoint", saved))
    info = json.loads((other / "train_info.json").read_text())
    assert info["resumed_from"] == str(saved) and info["global_step"] == 40


def test_two_process_ddp_on_gloo(trained, tmp_path):
    _, data, model, sft = trained
    for kind, extra in (("sft", []), ("dpo", ["--sft_adapter", sft])):
        out = tmp_path / kind
        ok(launch(kind, "--model_name_or_path", model, "--dataset_dir", data, "--output_dir", out, "--max_steps", 3,
                  "--eval_strategy", "no", *extra, accelerate_config="multi_cpu.yaml"))  # fmt: skip
        info = json.loads((out / "train_info.json").read_text())
        assert info["world_size"] == 2 and info["device"].startswith("cpu") and info["linear4bit_layers"] > 0


def test_the_mistral_7b_configs_run_as_they_are_on_the_tiny_model(trained, tmp_path):
    """Every setting of the GPU recipes (length grouping in DPO, batch sizes, gradient checkpointing,
    4-bit) runs end to end; only the device and dtypes change."""
    _, data, model, _ = trained
    cpu = ["--model_name_or_path", model, "--dataset_dir", data, "--use_cpu", "true", "--bf16", "false",
           "--dtype", "float32", "--max_steps", 3, "--per_device_eval_batch_size", 8]  # fmt: skip
    sft, dpo = tmp_path / "sft", tmp_path / "dpo"
    ok(launch("sft", *cpu, "--output_dir", sft, preset="mistral-7b"))
    ok(launch("dpo", *cpu, "--output_dir", dpo, "--sft_adapter", sft, preset="mistral-7b"))
    for out in (sft, dpo):
        info = json.loads((out / "train_info.json").read_text())
        assert info["global_step"] == 3 and info["linear4bit_layers"] > 0
    assert info["prepare_s"] > 0 and info["input_tokens_seen"] > 0
    assert "eval_rewards/accuracies" in json.loads((dpo / "eval_results.json").read_text())


def test_the_smollm2_configs_train_a_llama_model_that_engage_generate_samples(tiny_llama, tmp_path):
    """SFT then DPO with the SmolLM2 CPU configs as they are, on a tiny random model of SmolLM2's
    architecture (Llama, tied embeddings), then candidates from the DPO adapter into a store."""
    from conftest import run_engage

    from engage.review.store import ReviewStore

    data, model = tiny_llama
    common = ["--model_name_or_path", model, "--dataset_dir", data, "--max_steps", 2, "--logging_steps", 1]
    sft, dpo, store = tmp_path / "sft", tmp_path / "dpo", tmp_path / "engage.db"
    ok(launch("sft", *common, "--output_dir", sft, preset="smollm2-135m"))
    ok(launch("dpo", *common, "--output_dir", dpo, "--sft_adapter", sft, preset="smollm2-135m"))
    for out in (sft, dpo):
        info = json.loads((out / "train_info.json").read_text())
        assert info["global_step"] == 2 and info["trainable_parameters"] > 0
    assert "eval_rewards/accuracies" in json.loads((dpo / "eval_results.json").read_text())
    assert json.loads((dpo / "adapter_config.json").read_text())["base_model_name_or_path"] == str(model)
    proc = run_engage("generate", "--adapter", dpo, "--label", "dpo", "--n", 4, "--batch-size", 4,
                      "--max-new-tokens", 16, "--store", store)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    with ReviewStore(store) as s:
        (batch,) = s.batches()
        assert len(s.candidates()) == 4 and batch["base_model"] == str(model)


@pytest.mark.parametrize(
    "kind, args, needle",
    [
        ("sft", ["--dataset_dir", "/nonexistent/data"], "does not exist"),
        ("dpo", ["--sft_adapter", "/nonexistent/sft"], "holds no SFT adapter"),
        ("dpo", ["--sft_adapter", ""], "no --sft_adapter"),
        ("sft", ["--dataset_dir", "EMPTY"], "no rows"),
        ("sft", ["--resume_from_checkpoint", "/nonexistent/checkpoint-4"], "is not a checkpoint"),
        ("dpo", ["--resume_from_checkpoint", "true"], "holds no checkpoint"),
    ],
)
def test_user_errors_are_one_line(trained, tmp_path, kind, args, needle):
    _, data, model, _ = trained
    if "EMPTY" in args:
        empty = tmp_path / "empty"
        (empty / "sft").mkdir(parents=True)
        (empty / "sft" / "train.jsonl").write_text("")
        (empty / "sft" / "test.jsonl").write_text("")
        args = ["--dataset_dir", empty]
    base_args = ["--config", REPO / "recipes" / "tiny" / f"{kind}.yaml", "--model_name_or_path", model,
                 "--output_dir", tmp_path / "out", "--dataset_dir", data]  # fmt: skip
    proc = recipe(kind, *base_args, *args)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and needle in errors[0], proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == errors[0], "the error is the last thing printed"


def test_fsdp_with_a_4bit_base_takes_the_documented_fsdp_qlora_path(trained, tmp_path):
    """FSDP 2 cannot shard a 4-bit base and FSDP 1 needs float storage for it: one line each, before
    any model loads (the environment is what `accelerate launch` exports for an FSDP config)."""
    _, data, model, _ = trained
    base = ["--config", REPO / "recipes" / "mistral-7b" / "sft.yaml", "--model_name_or_path", model,
            "--dataset_dir", data, "--output_dir", tmp_path / "out", "--use_cpu", "true", "--bf16", "false"]  # fmt: skip
    fsdp = {"ACCELERATE_USE_FSDP": "true", "FSDP_USE_ORIG_PARAMS": "false"}
    for env, extra, needle in (
        ({"FSDP_VERSION": "2"}, [], "FSDP 2 cannot shard a 4-bit base"),
        ({"FSDP_VERSION": "1"}, ["--bnb_4bit_quant_storage", "uint8"], "bnb_4bit_quant_storage equal to dtype"),
    ):
        proc = subprocess.run([sys.executable, str(REPO / "recipes" / "sft.py"), *map(str, base + extra)],
                              capture_output=True, text=True, env=ENV | fsdp | env, cwd=REPO, timeout=300)  # fmt: skip
        errors = [line for line in proc.stderr.splitlines() if "error:" in line]
        assert proc.returncode == 1 and len(errors) == 1 and needle in errors[0], proc.stderr[-2000:]


def test_the_accelerate_configs_follow_the_fsdp_qlora_guides():
    import yaml

    fsdp = yaml.safe_load((REPO / "recipes" / "accelerate" / "fsdp.yaml").read_text())["fsdp_config"]
    assert fsdp["fsdp_version"] == 1 and fsdp["fsdp_use_orig_params"] is False
    assert fsdp["fsdp_cpu_ram_efficient_loading"] is True and fsdp["fsdp_sync_module_states"] is True
    for kind in ("sft", "dpo"):
        config = yaml.safe_load((REPO / "recipes" / "mistral-7b" / f"{kind}.yaml").read_text())
        assert config["bnb_4bit_quant_storage"] == config["dtype"] == "bfloat16"


def test_chat_rows_with_a_model_that_has_no_chat_template_are_one_line(tiny_base, sample_2024, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engage.dataset.build import BuildSettings, build_dataset

    _, model = tiny_base
    data = tmp_path / "chat"
    build_dataset(sample_2024[0], data, BuildSettings(format="chat"))
    plain = tmp_path / "base-model"  # a base model such as Mistral-7B-v0.1: no chat template
    AutoModelForCausalLM.from_pretrained(model).save_pretrained(plain)
    tok = AutoTokenizer.from_pretrained(model)
    tok.chat_template = None
    tok.save_pretrained(plain)
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    proc = recipe("sft", "--config", REPO / "recipes" / "tiny" / "sft.yaml", "--model_name_or_path", plain,
                  "--dataset_dir", data, "--output_dir", tmp_path / "out")  # fmt: skip
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(errors) == 1 and "--format chat" in errors[0] and "no chat template" in errors[0]
    assert not (tmp_path / "out" / "adapter_model.safetensors").exists()


def test_unknown_yaml_keys_are_an_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "recipes" / "tiny" / "sft.yaml").read_text() + "\nlearning_rat: 0.1\n")
    proc = recipe("sft", "--config", bad, "--dataset_dir", tmp_path)
    assert proc.returncode == 1 and "learning_rat" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "path", sorted(str(p.relative_to(REPO)) for p in REPO.glob("recipes/*/*.yaml") if p.parent.name != "accelerate")
)
def test_every_recipe_config_parses_with_no_unknown_key(path):
    import torch
    from trl import DPOConfig, ModelConfig, SFTConfig, TrlParser

    from engage.training.recipe import DPOScriptArguments, SFTScriptArguments

    kind = Path(path).stem.split("-")[0]  # sft.yaml, sft-gpu.yaml
    types = (
        (SFTScriptArguments, SFTConfig, ModelConfig) if kind == "sft" else (DPOScriptArguments, DPOConfig, ModelConfig)
    )
    parser = TrlParser(types)
    no_gpu = (
        [] if torch.cuda.is_available() else ["--bf16", "false", "--use_cpu", "true"]
    )  # bf16 is checked at parse time
    _, training_args, model_args = parser.parse_args_and_config(
        ["--config", str(REPO / path), "--output_dir", "x", *no_gpu]
    )
    if model_args.load_in_4bit:
        assert model_args.bnb_4bit_quant_type == "nf4" and model_args.use_bnb_nested_quant
    else:  # plain weights only for the 135M model: 4-bit saves it nothing worth having (recipes/smollm2-135m)
        assert "smollm2" in path
    assert training_args.max_length <= 512, "posts are short: no 2k-token sequences"
    assert "all-linear" in model_args.lora_target_modules
