"""Time one LoRA training step of a model folder on a CPU with the base in 4-bit NF4, float32 or bfloat16.

Chooses the `dtype` / `load_in_4bit` of the recipes/smollm2-135m CPU configs. Each step is what the SFT
recipe does per optimizer step: a forward and backward pass over a batch of real SFT rows (prompt +
completion) and an AdamW step on the LoRA weights. The settings take turns, round by round, so load from
other processes on the machine falls on all of them alike.

    python benchmarks/cpu_lora_step.py --model models/smollm2 --dataset_dir data --rounds 3 --steps 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

SETTINGS = ("float32", "bfloat16", "4bit-nf4")


def load(model_dir: Path, setting: str, lora_r: int):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    kwargs: dict = {"dtype": torch.bfloat16 if setting == "bfloat16" else torch.float32}
    if setting == "4bit-nf4":  # as the recipes ask for it: NF4, nested quantisation, float32 compute on a CPU
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.float32,
        )
    model = AutoModelForCausalLM.from_pretrained(model_dir, **kwargs)
    model = get_peft_model(model, LoraConfig(r=lora_r, lora_alpha=2 * lora_r, target_modules="all-linear"))
    model.train()
    return model


def batches(model_dir: Path, dataset_dir: Path, batch_size: int, max_length: int):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    rows = [json.loads(line) for line in (dataset_dir / "sft" / "train.jsonl").open(encoding="utf-8")]
    texts = [r["prompt"] + r["completion"] + tok.eos_token for r in rows]
    out = []
    for i in range(0, len(texts) - batch_size + 1, batch_size):
        enc = tok(texts[i : i + batch_size], return_tensors="pt", padding=True, truncation=True, max_length=max_length)
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        out.append({**enc, "labels": labels})
    return out


def step_times(model, data: list, steps: int) -> list[tuple[float, float]]:
    """(wall s, CPU s of this process) per step. On a machine other processes share, CPU seconds are
    the fairer comparison: wall time also counts the time the scheduler gave to them."""
    import torch

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    times = []
    for i in range(steps + 1):  # the first step warms up (allocations, kernel choice) and is not counted
        wall, cpu = time.perf_counter(), time.process_time()
        loss = model(**data[i % len(data)]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if i:
            times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def main() -> None:
    import torch

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=Path("models/smollm2"))
    p.add_argument("--dataset_dir", type=Path, default=Path("data"))
    p.add_argument("--settings", default=",".join(SETTINGS), help=f"comma list of {', '.join(SETTINGS)}")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=4, help="timed steps per setting per round")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--lora-r", type=int, default=8)
    args = p.parse_args()
    settings = args.settings.split(",")
    data = batches(args.model, args.dataset_dir, args.batch_size, args.max_length)
    tokens = statistics.mean(int(b["attention_mask"].sum()) for b in data)
    print(f"{args.model}: batch {args.batch_size}, {tokens:.0f} tokens a batch on average, torch threads "
          f"{torch.get_num_threads()}")  # fmt: skip
    times: dict[str, list[tuple[float, float]]] = {s: [] for s in settings}
    for r in range(args.rounds):
        for s in settings:
            torch.manual_seed(0)
            model = load(args.model, s, args.lora_r)
            t = step_times(model, data, args.steps)
            times[s] += t
            print(f"round {r + 1} {s:9s} wall/CPU s: " + " ".join(f"{w:.2f}/{c:.2f}" for w, c in t), flush=True)
            del model
    print("\n| base weights | median wall s/step | median CPU s/step | CPU min-max | steps |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for s in settings:
        wall, cpu = [w for w, _ in times[s]], [c for _, c in times[s]]
        print(
            f"| {s} | {statistics.median(wall):.2f} | {statistics.median(cpu):.2f} | {min(cpu):.2f}-{max(cpu):.2f} "
            f"| {len(cpu)} |"
        )


if __name__ == "__main__":
    main()
