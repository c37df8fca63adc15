"""Training throughput and peak memory: our recipe settings against TRL's stock QLoRA settings.

Runs the real recipes (`accelerate launch recipes/sft.py|dpo.py`) on datasets built from a sample
archive, once with our configs and once with the alignment-handbook's Zephyr-7B QLoRA values, and
prints throughput and peak memory side by side. SFT runs a fixed number of steps; DPO trains one
epoch on exactly `--pairs` pairs, both settings starting from the same SFT adapter, so its time is
the time a user waits for that many pairs. DPO throughput counts the reference log-probs: with
`precompute_ref_log_probs` they are computed before the training loop, so tokens/s is taken over
preparation plus loop, not the loop alone.

On a CPU it uses the tiny model (`engage tiny-model`). With a GPU, `--model mistral-7b-random`
builds a model with Mistral-7B's shape (32 layers, width 4096, vocabulary 32000) and random
weights, with no download (`benchmarks/random_mistral.py`), and the recipes load it in 4-bit.

    python benchmarks/train.py                                          # CPU, tiny model
    python benchmarks/train.py --model mistral-7b-random --gpu --pairs 4000
    python benchmarks/train.py ... --settings ours --recipes dpo        # one side, one recipe
    python benchmarks/train.py --model mistral-7b-random --shape 512x4 --configs mistral-7b
        # a CPU stand-in: the GPU configs on a small model of Mistral's proportions

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

from random_mistral import MISTRAL_7B, build_random_mistral  # beside this script
from rows import RunFailed, measure_all, require_cuda

REPO = Path(__file__).resolve().parents[1]

# alignment-handbook recipes/zephyr-7b-beta/{sft,dpo}/config_qlora.yaml, the values that set the speed
# (LoRA r=16 on all linear layers, 4-bit NF4 and bf16 are the same as ours; the handbook's DPO has used
# gradient accumulation 1 and 4 over time: it changes only how often the small LoRA optimizer steps).
STOCK = {
    "sft": ["--max_length", "2048", "--per_device_train_batch_size", "4", "--gradient_accumulation_steps", "2",
            "--train_sampling_strategy", "random", "--gradient_checkpointing", "true", "--learning_rate", "2e-4"],
    "dpo": ["--max_length", "1024", "--per_device_train_batch_size", "4", "--gradient_accumulation_steps", "4",
            "--train_sampling_strategy", "random", "--precompute_ref_log_probs", "false",
            "--gradient_checkpointing", "true", "--beta", "0.01", "--learning_rate", "5e-6"],
}  # fmt: skip


def build_data(work: Path, posts: int, pairs: int) -> Path:
    """Datasets from a sample archive, the DPO train split cut to exactly ``pairs`` pairs."""
    from engage.dataset.build import BuildSettings, build_dataset
    from engage.simulation.sample_archive import write_sample_archive

    data = work / f"data-{posts}"
    if not data.exists():
        write_sample_archive(work / f"sample-{posts}.zip", posts=posts, seed=0)
        build_dataset(work / f"sample-{posts}.zip", data, BuildSettings())
    train = data / "dpo" / "train.jsonl"
    rows = train.read_text(encoding="utf-8").splitlines()
    if len(rows) < pairs:
        sys.exit(f"the {posts}-post sample gives {len(rows)} train pairs, fewer than --pairs {pairs}: raise --posts")
    cut = work / f"data-{posts}-{pairs}"
    if not cut.exists():
        import shutil

        shutil.copytree(data, cut)
        (cut / "dpo" / "train.jsonl").write_text("\n".join(rows[:pairs]) + "\n", encoding="utf-8")
    return cut


def launch(kind: str, config: Path, accelerate: str, extra: list[str], timeout: float | None = None) -> dict:
    out = Path(extra[extra.index("--output_dir") + 1])
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(REPO / "recipes" / "accelerate" / accelerate),
           str(REPO / "recipes" / f"{kind}.py"), "--config", str(config), "--eval_strategy", "no", *extra]  # fmt: skip
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise RunFailed(f"{kind} run passed --timeout {timeout:.0f} s") from None
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RunFailed(f"{kind} run failed: {proc.stderr[-2000:]}")
    return json.loads((out / "train_info.json").read_text()) | {"wall_s": wall}


HEADER = (
    f"{'setting':8s} {'recipe':6s} {'steps':>6s} {'tokens':>9s} {'prep s':>7s} {'loop s':>7s} {'tokens/s':>9s} "
    f"{'wall s':>7s} {'peak GiB':>9s} {'reserved':>9s}"
)


def speed(row: dict) -> float:
    """Non-padding tokens this run trained on, over DPO's preparation plus the training loop."""
    tokens = row.get("input_tokens_this_run") or row.get("input_tokens_seen") or 0
    return tokens / ((row.get("prepare_s") or 0.0) + row["train_runtime_s"])


def row_line(row: dict) -> str:
    if "error" in row:
        return f"{row['setting']:8s} {row['kind']:6s} FAILED: {row['error'].strip().splitlines()[-1][:160]}"
    tokens = row.get("input_tokens_this_run") or row.get("input_tokens_seen") or 0
    gpu = row.get("peak_gpu_memory_bytes")
    peak = f"{(gpu or row['peak_rss_bytes']) / 2**30:9.2f}"
    reserved = f"{row['peak_gpu_reserved_bytes'] / 2**30:9.2f}" if row.get("peak_gpu_reserved_bytes") else f"{'-':>9s}"
    return (
        f"{row['setting']:8s} {row['kind']:6s} {row['global_step']:6d} {tokens:9d} {row.get('prepare_s') or 0.0:7.1f} "
        f"{row['train_runtime_s']:7.1f} {speed(row):9.0f} {row['wall_s']:7.1f} {peak} {reserved} ({'GPU' if gpu else 'RSS'})"
    )


def padding_table(data: Path, model: Path, settings: dict[str, tuple[int, str, int]]) -> list[str]:
    """Token slots per real token in one pass over the DPO pairs, for each setting's batch size and
    sampler (device-independent: the GPU computes every slot, padding or not)."""
    import torch
    from transformers import AutoTokenizer
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from engage.training.dpo_batches import padding_cost, pair_lengths

    tok = AutoTokenizer.from_pretrained(model)
    rows = [json.loads(line) for line in (data / "dpo" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    enc = {
        k: tok([r[k] for r in rows], add_special_tokens=False)["input_ids"] for k in ("prompt", "chosen", "rejected")
    }
    chosen = [ids + [tok.eos_token_id] for ids in enc["chosen"]]
    rejected = [ids + [tok.eos_token_id] for ids in enc["rejected"]]
    chars = sum(len(r["chosen"]) + len(r["rejected"]) for r in rows)
    post_tokens = sum(map(len, chosen)) + sum(map(len, rejected))
    lines = [
        f"tokenizer: {chars / post_tokens:.2f} characters per token, {post_tokens / 2 / len(rows):.0f} tokens per post"
    ]
    for name, (batch, sampler, max_length) in settings.items():
        lengths = pair_lengths(enc["prompt"], chosen, rejected, max_length)
        real = sum(min(len(p) + len(c), max_length) + min(len(p) + len(r), max_length)
                   for p, c, r in zip(enc["prompt"], chosen, rejected, strict=True))  # fmt: skip
        torch.manual_seed(0)
        order = (
            list(LengthGroupedSampler(batch, lengths=lengths))
            if sampler == "group_by_length"
            else torch.randperm(len(lengths)).tolist()
        )
        slots = padding_cost(lengths, order, batch)
        lines.append(
            f"{name:8s} {batch:3d} pairs per batch, {sampler:15s}: {slots / real:.2f} token slots per real token"
        )
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny", help="tiny (CPU), mistral-7b-random (GPU), or a model path")
    ap.add_argument("--gpu", action="store_true", help="use the GPU configs (recipes/mistral-7b, single_gpu)")
    ap.add_argument(
        "--configs",
        choices=("tiny", "mistral-7b"),
        default=None,
        help="recipe configs (default: mistral-7b with --gpu, else tiny); mistral-7b on a CPU runs "
        "them as they are but for device and dtypes",
    )
    ap.add_argument("--shape", default=MISTRAL_7B, help="mistral-7b-random: WIDTHxLAYERS (a smaller one for a CPU)")
    ap.add_argument("--pairs", type=int, default=400, help="DPO: train one epoch on this many pairs")
    ap.add_argument("--posts", type=int, default=None, help="sample archive size (default: enough for --pairs)")
    ap.add_argument("--sft-steps", type=int, default=30, help="SFT: steps per run")
    ap.add_argument("--settings", default="ours,stock", help="which settings to run: ours, stock or both")
    ap.add_argument(
        "--recipes", default="sft,dpo", help="which recipes to time: sft, dpo, both, or none (padding only)"
    )
    ap.add_argument("--work", type=Path, default=None, help="keep models and runs here (default: a temporary folder)")
    ap.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "train.jsonl",
                    help="append each row here as soon as it is measured (JSON lines)")  # fmt: skip
    ap.add_argument(
        "--timeout", type=float, default=None, help="seconds one recipe run may take; then it is a failed row"
    )
    args = ap.parse_args()
    if args.gpu:
        require_cuda("benchmarks/train.py")  # before any data or model is prepared
    settings = [s for s in args.settings.split(",") if s]
    recipes = [r for r in args.recipes.split(",") if r and r != "none"]
    if not set(settings) <= {"ours", "stock"} or not set(recipes) <= {"sft", "dpo"}:
        ap.error("--settings takes ours,stock and --recipes sft,dpo")
    posts = args.posts or max(3000, 8 * args.pairs)

    from engage.training.tiny_model import build_tiny_model, build_tiny_tokenizer, dataset_texts

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        data = build_data(work, posts, args.pairs)
        if not recipes:
            model = work / "tokenizer"  # the padding table needs only the tokenizer the random models get
            build_tiny_tokenizer(dataset_texts(data), vocab_size=1024).save_pretrained(model)
        elif args.model == "tiny":
            model = work / "tiny"
            if not model.exists():
                build_tiny_model(dataset_texts(data), model)
        elif args.model == "mistral-7b-random":
            model = build_random_mistral(work / f"mistral-random-{args.shape}", dataset_texts(data), args.shape)
        else:
            model = Path(args.model)
        configs = REPO / "recipes" / (args.configs or ("mistral-7b" if args.gpu else "tiny"))
        accelerate = "single_gpu.yaml" if args.gpu else "cpu.yaml"
        common = ["--model_name_or_path", str(model), "--dataset_dir", str(data)]
        if not args.gpu and configs.name == "mistral-7b":
            common += ["--use_cpu", "true", "--bf16", "false", "--dtype", "float32"]
        if "dpo" in recipes or not recipes:  # device-independent and quick: shown before any run
            import yaml

            cfg = yaml.safe_load((configs / "dpo.yaml").read_text(encoding="utf-8"))
            print(f"DPO padding, one pass over the {args.pairs} train pairs ({configs.name} configs):")
            stock = dict(zip(STOCK["dpo"][::2], STOCK["dpo"][1::2], strict=True))
            table = padding_table(data, model, {
                "ours": (cfg["per_device_train_batch_size"], cfg.get("train_sampling_strategy", "random"), cfg["max_length"]),
                "stock": (int(stock["--per_device_train_batch_size"]), stock["--train_sampling_strategy"], int(stock["--max_length"])),
            })  # fmt: skip
            print("\n".join("  " + line for line in table), flush=True)
        if not recipes:
            return 0
        print(f"model {model}, device {'GPU' if args.gpu else 'CPU'}; SFT {args.sft_steps} steps, "
              f"DPO one epoch on {args.pairs} pairs; each row is appended to {args.results} when measured")  # fmt: skip
        print(
            "tokens: non-padding tokens trained on; prep s: DPO's tokenizing (and reference log-probs if precomputed);"
        )
        print("loop s: the training loop; wall s: the whole launch (start-up, 4-bit loading, the test split's eval);")
        print("peak GiB: GPU memory allocated (RSS on a CPU); reserved: what the CUDA caching allocator held")
        print(HEADER, flush=True)
        sft_start = work / "sft-start"  # the SFT adapter both DPO runs continue from
        start_failed = None
        if "dpo" in recipes and not (sft_start / "adapter_config.json").exists():
            try:
                launch("sft", configs / "sft.yaml", accelerate,
                       [*common, "--output_dir", str(sft_start), "--max_steps", "2"], args.timeout)  # fmt: skip
            except RunFailed as exc:
                start_failed = RunFailed(f"the SFT adapter DPO starts from could not be trained: {exc}")

        def measure(item: dict) -> dict:
            setting, kind = item["setting"], item["kind"]
            extra = [
                *common,
                "--output_dir",
                str(work / f"{setting}-{kind}"),
                *(STOCK[kind] if setting == "stock" else []),
            ]
            if kind == "sft":
                return launch(
                    "sft", configs / "sft.yaml", accelerate, [*extra, "--max_steps", str(args.sft_steps)], args.timeout
                )
            if start_failed is not None:
                raise start_failed
            return launch("dpo", configs / "dpo.yaml", accelerate, [*extra, "--sft_adapter", str(sft_start)], args.timeout)  # fmt: skip

        plan = [{"setting": setting, "kind": kind, "model": str(args.model), "gpu": args.gpu, "pairs": args.pairs}
                for setting in settings for kind in recipes]  # fmt: skip
        rows = measure_all(plan, measure, args.results, show=lambda row: print(row_line(row), flush=True))
        done = {(r["setting"], r["kind"]): speed(r) for r in rows if "error" not in r}
        for kind in recipes:
            if ("ours", kind) in done and ("stock", kind) in done:
                print(f"{kind}: ours / stock tokens/s = {done[('ours', kind)] / done[('stock', kind)]:.2f}x")
        if any("error" in r for r in rows):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
