"""``engage generate``: sample candidate posts from a base model plus adapter into the review store.

Each candidate is stored with its batch (model label, base model, adapter, prompt, sampling
settings, time) and the flags a reviewer needs: a near copy of one of the owner's posts (the
nearest one and how similar), @mentions, URLs, hashtags, longer than the platform limit.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from engage.errors import UserError
from engage.progress import Progress
from engage.review.near_copy import DEFAULT_THRESHOLD, NearCopyIndex
from engage.review.post_flags import X_LIMIT, flag_post
from engage.review.store import NewCandidate, ReviewStore

MAX_DRAWS_PER_CANDIDATE = 4  # give up on new candidates after n x this many samples (all duplicates)


@dataclass
class SamplingSettings:
    n: int = 20
    batch_size: int = 8
    temperature: float = 0.9
    top_p: float = 0.95
    max_new_tokens: int = 96
    seed: int = 0
    load_in_4bit: bool | None = None  # None: 4-bit on a GPU, plain weights on a CPU


@dataclass
class RunSource:
    """Where the candidates come from and what they are checked against."""

    base_model: str
    adapter: str | None
    dataset_dir: Path | None
    prompt: str  # the prompt as the model saw it in training (the rendered template)
    format: str  # "text" or "chat"


def resolve_source(
    model: str | None, adapter: str | Path | None, dataset_dir: str | Path | None, prompt: str | None
) -> RunSource:
    """Fill in what the user left out from the adapter folder (its base model, the dataset it was trained on)."""
    info: dict = {}
    if adapter is not None:
        adapter = Path(adapter)
        config = adapter / "adapter_config.json"
        if not config.is_file():
            raise UserError(
                f"{adapter} holds no adapter (no adapter_config.json); pass a recipes/sft.py or dpo.py output"
            )
        adapter_config = json.loads(config.read_text(encoding="utf-8"))
        model = model or adapter_config.get("base_model_name_or_path")
        if (adapter / "train_info.json").is_file():
            info = json.loads((adapter / "train_info.json").read_text(encoding="utf-8"))
    if not model:
        raise UserError("name the base model with --model (a hub id or a local folder)")
    dataset = Path(dataset_dir) if dataset_dir else (Path(info["dataset_dir"]) if info.get("dataset_dir") else None)
    fmt = "text"
    if dataset is not None:
        stats_file = dataset / "stats.json"
        if not stats_file.is_file():
            raise UserError(
                f"{dataset} is not a folder `engage build-dataset` wrote (no stats.json); pass --dataset_dir"
            )
        stats = json.loads(stats_file.read_text(encoding="utf-8"))
        prompt = prompt if prompt is not None else stats.get("prompt")
        fmt = stats["settings"].get("format", "text")
        if stats.get("made") == "engage feedback":  # trained on review feedback: the posts are in the first dataset
            dataset = Path(stats["posts_dataset"]) if stats.get("posts_dataset") else None
    if prompt is None:
        raise UserError(
            "no dataset to take the prompt and your posts from: pass --dataset_dir (the build-dataset folder the "
            "adapter was trained on)"
        )
    return RunSource(str(model), str(adapter) if adapter is not None else None, dataset, prompt, fmt)


def owner_posts(dataset_dir: Path | None) -> list[tuple[str, str]]:
    """(id, training text) of every post the dataset kept: what the model may have learnt by heart."""
    if dataset_dir is None:
        return []
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(dataset_dir / "posts.parquet", columns=["id", "training_text", "kept"])
    except (OSError, ValueError):
        raise UserError(f"{dataset_dir} has no readable posts.parquet; rebuild it with engage build-dataset") from None
    ids, texts, kept = (table.column(c).to_pylist() for c in ("id", "training_text", "kept"))
    return [(str(i), t) for i, t, k in zip(ids, texts, kept) if k and t]


def load_model(source: RunSource, settings: SamplingSettings):
    """The base model (4-bit NF4 on a GPU unless told otherwise) with the adapter, ready to sample."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the command shows its own progress
    cuda = torch.cuda.is_available()
    four_bit = cuda if settings.load_in_4bit is None else settings.load_in_4bit
    kwargs: dict = {}
    if four_bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16 if cuda else torch.float32,
        )
    if cuda:
        kwargs["device_map"] = {"": 0}
        kwargs["dtype"] = torch.bfloat16
    else:  # as the CPU recipes train (a bf16 folder from engage base-model too): most CPUs emulate bf16 slowly
        kwargs["dtype"] = torch.float32
    tokenizer_source = (
        source.adapter
        if source.adapter and Path(source.adapter, "tokenizer_config.json").is_file()
        else source.base_model
    )
    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
        model = AutoModelForCausalLM.from_pretrained(source.base_model, **kwargs)
    except OSError as exc:
        raise UserError(f"cannot load the model {source.base_model!r}: {str(exc).splitlines()[0]}") from None
    if source.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, source.adapter)
    model.eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, four_bit


def model_input(tokenizer, source: RunSource) -> str:
    if source.format == "chat":
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": source.prompt.strip()}], add_generation_prompt=True, tokenize=False
        )
    return source.prompt


def sample_batch(
    model, tokenizer, text: str, count: int, settings: SamplingSettings, templated: bool = False
) -> list[str]:
    """``count`` samples for one prompt in one ``generate`` call; the new tokens decoded, stripped."""
    import torch

    # A chat template writes its own special tokens; a plain prompt gets them as in training.
    inputs = tokenizer([text] * count, return_tensors="pt", padding=True, add_special_tokens=not templated)
    inputs = {k: v.to(model.device) for k, v in inputs.items()}
    with torch.inference_mode():
        out = model.generate(
            **inputs,
            do_sample=True,
            temperature=settings.temperature,
            top_p=settings.top_p,
            max_new_tokens=settings.max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
        )
    new = out[:, inputs["input_ids"].shape[1] :]
    return [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]


@dataclass
class GenerateResult:
    added: int
    duplicates: int
    empty: int
    drawn: int
    seconds: float
    batch_id: int


def generate(
    store: ReviewStore,
    source: RunSource,
    model_label: str,
    settings: SamplingSettings,
    *,
    limit: int = X_LIMIT,
    copy_threshold: float = DEFAULT_THRESHOLD,
    progress: Progress | None = None,
    loaded=None,
) -> GenerateResult:
    """Sample until ``settings.n`` new candidates are stored (or n x 4 samples were drawn)."""
    import torch

    progress = progress or Progress(quiet=True)
    index = NearCopyIndex(owner_posts(source.dataset_dir))
    model, tokenizer, four_bit = loaded or load_model(source, settings)
    record = {**asdict(settings), "load_in_4bit": four_bit, "limit": limit, "copy_threshold": copy_threshold}
    record["dataset_dir"] = str(source.dataset_dir) if source.dataset_dir else None
    batch_id = store.add_batch(model_label, source.base_model, source.adapter, source.prompt, record)
    text = model_input(tokenizer, source)
    torch.manual_seed(settings.seed)
    added = duplicates = empty = drawn = 0
    started = time.perf_counter()
    with progress.bar("generating", unit="post") as (set_total, advance):
        set_total(settings.n)
        while added < settings.n and drawn < settings.n * MAX_DRAWS_PER_CANDIDATE:
            count = min(settings.batch_size, settings.n * MAX_DRAWS_PER_CANDIDATE - drawn)
            samples = sample_batch(model, tokenizer, text, count, settings, templated=source.format == "chat")
            drawn += len(samples)
            fresh: list[NewCandidate] = []
            for sample in samples:
                if not sample:
                    empty += 1
                    continue
                if len(fresh) + added >= settings.n:
                    break
                flags = flag_post(sample, limit).as_dict()
                nearest = index.nearest(sample)
                flags["near_copy"] = bool(nearest and nearest.similarity >= copy_threshold)
                fresh.append(
                    NewCandidate(
                        sample,
                        flags,
                        nearest.post_id if nearest else None,
                        nearest.text if nearest else None,
                        nearest.similarity if nearest else None,
                    )
                )
            ids, dup = store.add_candidates(batch_id, fresh)
            added += len(ids)
            duplicates += dup
            advance(len(ids))
    return GenerateResult(added, duplicates, empty, drawn, time.perf_counter() - started, batch_id)
