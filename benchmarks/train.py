"""Training throughput and peak memory: our recipe settings against TRL's stock QLoRA settings.

Runs the real recipes (`accelerate launch recipes/sft.py|dpo.py`) on datasets built from a
sample archive, once with our configs and once with the alignment-handbook's Zephyr-7B QLoRA
values, and prints tokens/s (non-padding input tokens per second of training) and peak memory
side by side. On a CPU it uses the tiny model (`engage tiny-model`); with a GPU,
`--model mistral-7b-random` builds a model with Mistral-7B's shape and random weights (no
download) and loads it in 4-bit.

    python benchmarks/train.py                                  # CPU, tiny model
    python benchmarks/train.py --model mistral-7b-random --pairs 4000 --gpu

Goals on one H100 (issue 3): DPO on 4k post pairs in <= 10 min, peak VRAM <= 16 GB, >= 1.5x the
stock settings' throughput. Record results in benchmarks/RESULTS.md with the command and machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# alignment-handbook recipes/zephyr-7b-beta/{sft,dpo}/config_qlora.yaml (the values that matter here).
STOCK = {
    "sft": ["--max_length", "2048", "--per_device_train_batch_size", "4", "--gradient_accumulation_steps", "2",
            "--train_sampling_strategy", "random", "--gradient_checkpointing", "true", "--learning_rate", "2e-4"],
    "dpo": ["--max_length", "1024", "--per_device_train_batch_size", "4", "--gradient_accumulation_steps", "4",
            "--precompute_ref_log_probs", "false", "--gradient_checkpointing", "true", "--beta", "0.01",
            "--learning_rate", "5e-6"],
}  # fmt: skip


def build_random_mistral(out: Path) -> Path:
    """Mistral-7B's shape with random weights, saved in bf16 so the recipes load it in 4-bit (GPU only)."""
    import torch
    from transformers import AutoTokenizer, MistralConfig, MistralForCausalLM

    from engage.tiny_model import build_tiny_tokenizer

    if (out / "config.json").exists():
        return out
    config = MistralConfig(vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                           num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=32768,
                           sliding_window=4096, rope_theta=10000.0)  # fmt: skip
    with torch.device("cuda"):
        model = MistralForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(out)
    del model
    tokenizer = build_tiny_tokenizer(["placeholder text " * 10], vocab_size=32000)
    tokenizer.save_pretrained(out)
    AutoTokenizer.from_pretrained(out)
    return out


def launch(kind: str, config: str, accelerate: str, extra: list[str]) -> dict:
    out = Path(extra[extra.index("--output_dir") + 1])
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(REPO / "recipes" / "accelerate" / accelerate),
           str(REPO / "recipes" / f"{kind}.py"), "--config", config, "--eval_strategy", "no", *extra]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{kind} run failed:\n{proc.stderr[-4000:]}")
    return json.loads((out / "train_info.json").read_text()) | {"wall_s": wall}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny", help="tiny (CPU), mistral-7b-random (GPU), or a model path")
    ap.add_argument("--posts", type=int, default=3000, help="sample archive size")
    ap.add_argument("--steps", type=int, default=30, help="training steps per run")
    ap.add_argument("--gpu", action="store_true", help="use the GPU configs (recipes/mistral-7b, single_gpu)")
    ap.add_argument("--work", type=Path, default=None, help="keep models and runs here (default: a temporary folder)")
    args = ap.parse_args()

    from engage.build import BuildSettings, build_dataset
    from engage.sample_archive import write_sample_archive
    from engage.tiny_model import build_tiny_model, dataset_texts

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        archive, data = work / "sample.zip", work / "data"
        if not data.exists():
            write_sample_archive(archive, posts=args.posts, seed=0)
            build_dataset(archive, data, BuildSettings())
        if args.model == "tiny":
            model = (
                build_tiny_model(dataset_texts(data), work / "tiny") if not (work / "tiny").exists() else work / "tiny"
            )
        elif args.model == "mistral-7b-random":
            model = build_random_mistral(work / "mistral-7b-random")
        else:
            model = Path(args.model)
        folder = "mistral-7b" if args.gpu else "tiny"
        accelerate = "single_gpu.yaml" if args.gpu else "cpu.yaml"
        rows = []
        for setting in ("ours", "stock"):
            common = ["--model_name_or_path", str(model), "--dataset_dir", str(data), "--max_steps", str(args.steps)]
            sft_out, dpo_out = work / f"{setting}-sft", work / f"{setting}-dpo"
            overrides = {k: (STOCK[k] if setting == "stock" else []) for k in ("sft", "dpo")}
            sft = launch("sft", str(REPO / "recipes" / folder / "sft.yaml"), accelerate,
                         [*common, "--output_dir", str(sft_out), *overrides["sft"]])  # fmt: skip
            dpo = launch("dpo", str(REPO / "recipes" / folder / "dpo.yaml"), accelerate,
                         [*common, "--output_dir", str(dpo_out), "--sft_adapter", str(sft_out), *overrides["dpo"]])  # fmt: skip
            for kind, info in (("sft", sft), ("dpo", dpo)):
                tokens, runtime = info["input_tokens_seen"] or 0, info["train_runtime_s"] or float("nan")
                peak = info["peak_gpu_memory_bytes"] or info["peak_rss_bytes"]
                what = "GPU" if info["peak_gpu_memory_bytes"] else "RSS"
                rows.append((setting, kind, tokens, runtime, info["wall_s"], peak / 2**30, what))
        print(f"model {model}, {args.steps} steps per run, device {'GPU' if args.gpu else 'CPU'}")
        print("tokens: non-padding tokens trained on; train s: the training loop; wall s: the whole launch")
        print("(start-up, loading, and for DPO the reference log-probs when they are precomputed)")
        print(
            f"{'setting':8s} {'recipe':6s} {'tokens':>8s} {'tokens/s':>9s} {'train s':>8s} {'wall s':>7s} {'peak GiB':>9s}"
        )
        for setting, kind, tokens, runtime, wall, peak, what in rows:
            print(
                f"{setting:8s} {kind:6s} {tokens:8d} {tokens / runtime:9.0f} {runtime:8.1f} {wall:7.1f} {peak:9.2f} ({what})"
            )
        speed = {(s, k): (tokens / runtime, tokens / wall) for s, k, tokens, runtime, wall, *_ in rows}
        for kind in ("sft", "dpo"):
            ours, stock = speed[("ours", kind)], speed[("stock", kind)]
            print(
                f"{kind}: ours / stock tokens/s = {ours[0] / stock[0]:.2f}x in the loop, {ours[1] / stock[1]:.2f}x over the wall"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
