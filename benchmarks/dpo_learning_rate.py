"""DPO learning rate for post-sized data: held-out eval loss, reward accuracy and margins after one
epoch of `recipes/mistral-7b/dpo.yaml` as shipped (bf16 on, 4-bit base) at several learning rates.

A post-sized DPO set is a few hundred to a few thousand pairs: 20-250 optimizer steps at 16 pairs
a step, against the ~480 of the alignment-handbook Zephyr QLoRA run its 5e-6 comes from. Each run
starts from the same SFT adapter (a few steps of `recipes/mistral-7b/sft.yaml`); the baseline is the
SFT reference itself (eval loss ln 2 = 0.6931, margin 0). Reward accuracy comes with a 95% Wilson
interval over the test pairs.

    python benchmarks/dpo_learning_rate.py                       # tiny model on a CPU
    python benchmarks/dpo_learning_rate.py --learning-rates 5e-6,5e-5 --model PATH --gpu

`--engage PATH` runs the recipes of another checkout (e.g. the code before a change) on the same
data and SFT adapter.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engage.stats import wilson  # noqa: E402


def moved_share(sft: Path, dpo: Path) -> float:
    """Share of the adapter's weights that DPO changed at all (compared in the dtype DPO saved them in:
    a weight held in bf16 whose every update rounded away counts as unchanged)."""
    from safetensors.torch import load_file

    before, after = load_file(str(sft / "adapter_model.safetensors")), load_file(str(dpo / "adapter_model.safetensors"))
    changed = total = 0
    for key, new in after.items():
        changed += int((new != before[key].to(new.dtype)).sum())
        total += new.numel()
    return changed / total


def launch(code: Path, kind: str, accelerate: str, args: list[str]) -> None:
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(REPO / "recipes" / "accelerate" / accelerate),
           str(code / "recipes" / f"{kind}.py"), "--config", str(REPO / "recipes" / "mistral-7b" / f"{kind}.yaml"), *args]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(code), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=code, env=env)
    if proc.returncode != 0:
        sys.exit(f"{kind} run failed:\n{proc.stderr[-4000:]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--learning-rates", default="5e-6,5e-5,2e-4")
    ap.add_argument("--model", default="tiny", help="tiny (built from the sample) or a model path")
    ap.add_argument("--posts", type=int, default=1500)
    ap.add_argument("--sft-steps", type=int, default=6)
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--engage", type=Path, default=REPO, help="checkout whose recipes run (default: this one)")
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()

    from engage.dataset.build import BuildSettings, build_dataset
    from engage.simulation.sample_archive import write_sample_archive
    from engage.training.tiny_model import build_tiny_model, dataset_texts

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        data = work / "data"
        if not data.exists():
            write_sample_archive(work / "sample.zip", posts=args.posts, seed=7, era="2024")
            build_dataset(work / "sample.zip", data, BuildSettings())
        model = Path(args.model) if args.model != "tiny" else work / "tiny"
        if args.model == "tiny" and not model.exists():
            build_tiny_model(dataset_texts(data), model)
        accelerate = "single_gpu.yaml" if args.gpu else "cpu.yaml"
        device = [] if args.gpu else ["--use_cpu", "true"]
        common = ["--model_name_or_path", str(model), "--dataset_dir", str(data), *device]
        sft = work / "sft"
        if not (sft / "adapter_config.json").exists():
            launch(REPO, "sft", accelerate, [*common, "--output_dir", str(sft), "--max_steps", str(args.sft_steps)])
        pairs = sum(1 for _ in (data / "dpo" / "test.jsonl").open(encoding="utf-8"))
        print(f"model {model}; DPO one epoch, recipes/mistral-7b/dpo.yaml (bf16 on); {pairs} held-out pairs; "
              f"code {args.engage}")  # fmt: skip
        print(f"{'learning rate':>13s} {'steps':>5s} {'eval loss':>9s} {'accuracy':>8s} {'95% CI':>13s} "
              f"{'margin':>8s} {'adapter':>8s} {'weights moved':>13s}")  # fmt: skip
        print(f"{'(SFT ref)':>13s} {0:5d} {math.log(2):9.4f} {'':>8s} {'':>13s} {0:8.4f}")
        for lr in args.learning_rates.split(","):
            out = work / f"dpo-{lr}-{args.engage.name}"
            if not (out / "eval_results.json").exists():
                launch(args.engage, "dpo", accelerate, [*common, "--sft_adapter", str(sft), "--output_dir", str(out),
                                                       "--learning_rate", lr])  # fmt: skip
            m = json.loads((out / "eval_results.json").read_text())
            info = json.loads((out / "train_info.json").read_text())
            acc = m["eval_rewards/accuracies"]
            lo, hi = wilson(acc * pairs, pairs)
            dtypes = ",".join(info.get("trainable_dtypes") or ["bfloat16"])  # before the fix: TRL's bf16 cast
            print(f"{lr:>13s} {info['global_step']:5d} {m['eval_loss']:9.4f} {acc:8.3f} [{lo:.2f}, {hi:.2f}]"
                  f" {m['eval_rewards/margins']:8.4f} {dtypes:>8s} {moved_share(sft, out):13.1%}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
