"""Candidates per second: batched sampling against one at a time.

On a CPU: the tiny model (built from a sample archive's dataset) with a LoRA adapter. With
``--gpu``: a model with Mistral-7B's shape and random weights (no download) in 4-bit NF4 with a
LoRA adapter on all linear layers, as `engage generate` loads one. Goal on a GPU (issue 4):
batched >= 10x one at a time.

    python benchmarks/generate.py                      # CPU, tiny model
    python benchmarks/generate.py --gpu --batch-size 32
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from random_mistral import build_random_mistral  # noqa: E402  (beside this script)
from rows import gpu_memory, measure_all, require_cuda  # noqa: E402  (beside this script)

from engage.review.generate import RunSource, SamplingSettings, load_model, sample_batch  # noqa: E402


def build_models(tmp: Path, gpu: bool) -> RunSource:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engage.dataset.build import BuildSettings, build_dataset
    from engage.simulation.sample_archive import write_sample_archive
    from engage.training.tiny_model import build_tiny_model, dataset_texts

    write_sample_archive(tmp / "a.zip", posts=2000, seed=0)
    build_dataset(tmp / "a.zip", tmp / "data", BuildSettings())
    texts = dataset_texts(tmp / "data")
    if gpu:
        build_random_mistral(tmp / "base", texts)
    else:
        build_tiny_model(texts, tmp / "base")
    base = AutoModelForCausalLM.from_pretrained(tmp / "base")
    peft = get_peft_model(base, LoraConfig(r=16, target_modules="all-linear"))
    peft.save_pretrained(tmp / "adapter")
    AutoTokenizer.from_pretrained(tmp / "base").save_pretrained(tmp / "adapter")
    prompt = "Write a post in the voice of @sample_owner:\n"
    return RunSource(str(tmp / "base"), str(tmp / "adapter"), tmp / "data", prompt, "text")


def rate(model, tokenizer, prompt: str, settings: SamplingSettings, count: int, batch: int) -> float:
    import torch

    torch.manual_seed(0)
    sample_batch(model, tokenizer, prompt, min(batch, 2), settings)  # warm-up
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    done = 0
    while done < count:
        done += len(sample_batch(model, tokenizer, prompt, min(batch, count - done), settings))
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return done / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpu", action="store_true", help="Mistral-7B-shaped random model in 4-bit on the GPU")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--candidates", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--results", type=Path, default=Path(__file__).resolve().parent / "results" / "generate.jsonl",
                    help="append each row here as soon as it is measured (JSON lines)")  # fmt: skip
    args = ap.parse_args()
    if args.gpu:
        require_cuda("benchmarks/generate.py")  # before any model is built
    with tempfile.TemporaryDirectory() as tmp:
        source = build_models(Path(tmp), args.gpu)
        settings = SamplingSettings(max_new_tokens=args.max_new_tokens, load_in_4bit=args.gpu)
        model, tokenizer, four_bit = load_model(source, settings)
        # every sample runs to max_new_tokens, so both modes do the same work per candidate
        model.generation_config.eos_token_id = None
        name = "Mistral-7B-shaped, 4-bit NF4" if four_bit else "tiny (CPU)"
        print(f"model: {name} + LoRA, {args.max_new_tokens} new tokens each; rows appended to {args.results}")
        plan = [
            {"mode": "one at a time", "batch": 1, "candidates": min(args.candidates, 16)},
            {"mode": f"batch of {args.batch_size}", "batch": args.batch_size, "candidates": args.candidates},
        ]
        common = {"model": name, "max_new_tokens": args.max_new_tokens}

        def measure(item: dict) -> dict:
            speed = rate(model, tokenizer, source.prompt, settings, item["candidates"], item["batch"])
            return common | {"candidates_per_s": speed} | gpu_memory()

        def show(row: dict) -> None:
            memory = (
                f"; peak GPU {row['peak_gpu_memory_bytes'] / 2**30:.2f} GiB allocated, "
                f"{row['peak_gpu_reserved_bytes'] / 2**30:.2f} GiB reserved"
                if row.get("peak_gpu_memory_bytes")
                else ""
            )
            print(f"{row['mode']}: {row['candidates_per_s']:.2f} candidates/s{memory}", flush=True)

        rows = measure_all(plan, measure, args.results, show)
    one, batched = rows[0]["candidates_per_s"], rows[1]["candidates_per_s"]
    print(f"batched / one at a time: {batched / one:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
