"""The training recipes through `accelerate launch`, on a CPU, with the tiny model and the 4-bit path on."""

from __future__ import annotations

import json
import os
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
    ok(launch("sft", "--model_name_or_path", model, "--dataset_dir", data, "--output_dir", sft,
              "--max_steps", 6, "--eval_strategy", "no"))  # fmt: skip
    return base, data, model, sft


def adapter_tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_sft_saves_a_4bit_qlora_adapter_that_peft_loads(trained):
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    _, _, model, sft = trained
    info = json.loads((sft / "train_info.json").read_text())
    assert info["linear4bit_layers"] > 0, "the base really was loaded in 4-bit"
    assert info["global_step"] == 6 and info["resumed_from"] is None
    metrics = json.loads((sft / "eval_results.json").read_text())
    assert metrics["eval_loss"] > 0
    card = (sft / "README.md").read_text()
    assert "QLoRA" in card and "eval_loss" in card and str(model) in card
    assert not list(sft.glob("checkpoint-*")), "only the adapter, not checkpoints"
    peft_model = AutoPeftModelForCausalLM.from_pretrained(sft)
    tok = AutoTokenizer.from_pretrained(sft)
    out = peft_model.generate(**tok("Write a post", return_tensors="pt"), max_new_tokens=5, do_sample=False)
    assert out.shape[1] > 0


def test_dpo_continues_the_sft_adapter_with_sft_as_reference(trained, tmp_path):
    base, data, model, sft = trained
    # With a learning rate of 0 the policy never moves: it must still be the SFT adapter, and with
    # the SFT policy as the reference every reward is 0 (against the bare base it would not be).
    frozen = tmp_path / "dpo0"
    ok(launch("dpo", "--model_name_or_path", model, "--dataset_dir", data, "--sft_adapter", sft, "--output_dir", frozen,
              "--max_steps", 2, "--learning_rate", 0, "--eval_strategy", "no"))  # fmt: skip
    a, b = adapter_tensors(sft), adapter_tensors(frozen)
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    metrics = json.loads((frozen / "eval_results.json").read_text())
    # Equal up to float noise; a bare-base reference would put rewards near beta x (SFT log-prob gain).
    assert abs(metrics["eval_rewards/margins"]) < 1e-4 and abs(metrics["eval_rewards/chosen"]) < 1e-4

    moved = tmp_path / "dpo"
    ok(launch("dpo", "--model_name_or_path", model, "--dataset_dir", data, "--sft_adapter", sft, "--output_dir", moved,
              "--max_steps", 4, "--eval_strategy", "no"))  # fmt: skip
    info = json.loads((moved / "train_info.json").read_text())
    assert info["started_from_adapter"] == str(sft) and info["linear4bit_layers"] > 0
    assert info["adapters_in_memory"] == ["default", "ref"]
    c = adapter_tensors(moved)
    assert c.keys() == a.keys(), "only the trained adapter is saved, not the reference copy"
    assert any(not (a[k] == c[k]).all() for k in a), "DPO trained the adapter"
    metrics = json.loads((moved / "eval_results.json").read_text())
    assert {"eval_rewards/accuracies", "eval_rewards/margins", "eval_loss"} <= set(metrics)
    assert "Reward accuracy" in (moved / "README.md").read_text()


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
    ok(launch("sft", *args))
    info = json.loads((out / "train_info.json").read_text())
    assert info["resumed_from"] and "checkpoint-" in info["resumed_from"]
    assert info["global_step"] == 40


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

    from engage.review_store import ReviewStore

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

    from engage.training import DPODataArguments, SFTDataArguments

    kind = Path(path).stem.split("-")[0]  # sft.yaml, sft-gpu.yaml
    types = (SFTDataArguments, SFTConfig, ModelConfig) if kind == "sft" else (DPODataArguments, DPOConfig, ModelConfig)
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
