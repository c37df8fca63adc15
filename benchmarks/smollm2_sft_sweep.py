"""A small SFT sweep of SmolLM2-135M on a dataset folder: held-out loss, near copies, and the candidates.

For each setting (learning rate, epochs, LoRA rank) it trains recipes/sft.py with the
recipes/smollm2-135m/sft.yaml config, reads the held-out (test split) eval loss after each epoch,
samples --n candidates at the default sampling settings with `engage generate` into one store, and
counts those flagged as near copies of the owner's posts. The base model alone is sampled too, as
the baseline. Candidates are written to WORK/candidates.md to be read.

    python benchmarks/smollm2_sft_sweep.py --model models/smollm2 --dataset_dir data --work /tmp/sweep \\
        --settings 3e-4:3:8 1e-3:1:8 1e-3:3:8
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engage.review.store import ReviewStore  # noqa: E402
from engage.stats import wilson  # noqa: E402


def heldout_loss(model_dir: Path, dataset_dir: Path) -> float:
    """The base model's loss per completion token on the SFT test split, as the recipe's eval_loss counts it
    (prompt tokens masked, the post and its end-of-sequence token scored)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    total = count = 0.0
    with torch.inference_mode():
        for line in (dataset_dir / "sft" / "test.jsonl").open(encoding="utf-8"):
            row = json.loads(line)
            prompt = tok(row["prompt"])["input_ids"]
            completion = tok(row["completion"])["input_ids"] + [tok.eos_token_id]
            labels = torch.tensor([[-100] * len(prompt) + completion])
            loss = model(input_ids=torch.tensor([prompt + completion]), labels=labels).loss.item()
            total += loss * len(completion)
            count += len(completion)
    return total / count


def run(cmd: list, env: dict) -> str:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return proc.stdout + proc.stderr


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=Path("models/smollm2"))
    p.add_argument("--dataset_dir", type=Path, default=Path("data"))
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--settings", nargs="+", default=["3e-4:3:8", "1e-3:1:8", "1e-3:3:8"], help="lr:epochs:lora_r")
    p.add_argument("--n", type=int, default=30, help="candidates per model")
    p.add_argument("--no-base", action="store_true", help="skip sampling the base model alone")
    args = p.parse_args()
    env = dict(os.environ, PYTHONPATH=str(REPO), TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1")
    args.work.mkdir(parents=True, exist_ok=True)
    store = args.work / "engage.db"
    engage = [sys.executable, "-m", "engage"]
    rows = []
    runs: list[tuple[str, list]] = [] if args.no_base else [("base", ["--model", args.model])]
    if not args.no_base:
        rows.append({"label": "base", "train_min": 0.0, "eval_loss": [heldout_loss(args.model, args.dataset_dir)]})
    for setting in args.settings:
        lr, epochs, r = setting.split(":")
        label = f"lr{lr}-ep{epochs}-r{r}"
        out = args.work / label
        started = time.perf_counter()
        log = run([sys.executable, "-m", "accelerate.commands.launch", "--config_file", REPO / "recipes/accelerate/cpu.yaml",
                   REPO / "recipes/sft.py", "--config", REPO / "recipes/smollm2-135m/sft.yaml",
                   "--model_name_or_path", args.model, "--dataset_dir", args.dataset_dir, "--output_dir", out,
                   "--learning_rate", lr, "--num_train_epochs", epochs, "--lora_r", r, "--lora_alpha", 2 * int(r),
                   "--eval_strategy", "epoch", "--disable_tqdm", "true"], env)  # fmt: skip
        minutes = (time.perf_counter() - started) / 60
        losses = [float(x) for x in re.findall(r"'eval_loss': '?([0-9.]+)", log)]
        if not losses:
            losses = [json.loads((out / "eval_results.json").read_text())["eval_loss"]]
        rows.append({"label": label, "train_min": minutes, "eval_loss": losses})
        runs.append((label, ["--adapter", out]))
    for label, source in runs:
        run([*engage, "generate", *source, "--dataset_dir", args.dataset_dir, "--label", label, "--n", args.n,
             "--store", store, "--quiet"], env)  # fmt: skip
    with ReviewStore(store, readonly=True) as s:
        cands = s.candidates()
    by_label: dict[str, list] = {}
    for c in cands:
        by_label.setdefault(c.model_label, []).append(c)
    print("| model | train min | held-out eval loss (each epoch, then the final eval) | near copies | 95% interval |")
    print("| --- | ---: | --- | ---: | --- |")
    info = {r["label"]: r for r in rows}
    md = []
    for label, _ in runs:
        cs = by_label.get(label, [])
        k = sum(bool(c.flags.get("near_copy")) for c in cs)
        lo, hi = wilson(k, len(cs))
        r = info.get(label, {"train_min": 0, "eval_loss": []})
        loss = ", ".join(f"{x:.3f}" for x in r["eval_loss"]) or "-"
        print(f"| {label} | {r['train_min']:.1f} | {loss} | {k}/{len(cs)} | {lo:.2f}-{hi:.2f} |")
        md.append(f"## {label}\n\n" + "\n".join(f"- {'[near copy] ' if c.flags.get('near_copy') else ''}"
                                             f"{c.text!r}" for c in cs) + "\n")  # fmt: skip
    (args.work / "candidates.md").write_text("\n".join(md), encoding="utf-8")
    print(f"candidates: {args.work / 'candidates.md'}")


if __name__ == "__main__":
    main()
