"""A tiny tokenizer and Mistral-architecture model built locally, so the kit runs with no download.

The tokenizer is a byte-level BPE trained on the given texts; the model has random weights and
the Mistral architecture, saved like any hub model (``from_pretrained`` loads the folder).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

SPECIAL = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
# A minimal chat template, so conversational datasets (--format chat) work with the tiny model.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
    "{% elif m['role'] == 'assistant' %}{% generation %}{{ m['content'] }}{{ eos_token }}{% endgeneration %}"
    "{% else %}{{ m['content'] }}\n{% endif %}{% endfor %}"
)


def dataset_texts(dataset_dir: Path) -> list[str]:
    """Every training text of a build-dataset folder (all eligible posts) plus its prompt."""
    import json

    import pyarrow.parquet as pq

    from engage.errors import UserError

    dataset_dir = Path(dataset_dir)
    try:
        table = pq.read_table(dataset_dir / "posts.parquet", columns=["training_text"])
        prompt = json.loads((dataset_dir / "stats.json").read_text(encoding="utf-8"))["prompt"]
    except (OSError, ValueError, KeyError):
        raise UserError(
            f"{dataset_dir} is not a folder `engage build-dataset` wrote (no posts.parquet / stats.json)"
        ) from None
    texts = [t for t in table.column("training_text").to_pylist() if t]
    if not texts:
        raise UserError(f"{dataset_dir} holds no training text")
    return [prompt, *texts]


def build_tiny_tokenizer(texts: Iterable[str], vocab_size: int = 512):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=SPECIAL["unk_token"]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIAL)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_model(
    texts: Iterable[str], out: Path, vocab_size: int = 512, hidden_size: int = 64, layers: int = 2, seed: int = 0
) -> Path:
    """Write a tokenizer trained on ``texts`` and a random tiny Mistral model to ``out``."""
    import torch

    tokenizer = build_tiny_tokenizer(texts, vocab_size)
    torch.manual_seed(seed)
    return save_random_mistral(
        out,
        tokenizer,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=False,
    )


def write_tiny_model(
    dataset_dir: Path,
    out: Path,
    force: bool = False,
    vocab_size: int = 512,
    hidden_size: int = 64,
    layers: int = 2,
    seed: int = 0,
) -> int:
    """``engage tiny-model``: the tiny model built on a dataset folder's text, written to ``out`` whole or not at
    all, with a stats.json that marks the folder as engage's (so --force replaces only a folder engage wrote).
    Returns how many texts the tokenizer was trained on."""
    import json
    from datetime import datetime, timezone

    from engage import __version__
    from engage.output import staged_folder

    texts = dataset_texts(dataset_dir)
    stats = {
        "tool": "engage",
        "version": __version__,
        "made": "engage tiny-model",
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset_dir": str(Path(dataset_dir).resolve()),
        "texts": len(texts),
        "settings": {"vocab_size": vocab_size, "hidden_size": hidden_size, "layers": layers, "seed": seed},
    }
    with staged_folder(out, force, protect=Path(dataset_dir)) as stage:
        build_tiny_model(texts, stage, vocab_size=vocab_size, hidden_size=hidden_size, layers=layers, seed=seed)
        (stage / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    return len(texts)


def save_random_mistral(out: Path, tokenizer, dtype=None, device: str = "cpu", **config) -> Path:
    """A Mistral-architecture model with random weights, made in ``dtype`` on ``device`` and saved with
    ``tokenizer`` (whose special tokens it uses) to ``out`` like a hub model. ``config``: MistralConfig
    fields; the vocabulary is the tokenizer's unless given."""
    from transformers import MistralConfig, MistralForCausalLM

    return _save_random(MistralConfig, MistralForCausalLM, out, tokenizer, dtype, device, config)


def save_random_llama(out: Path, tokenizer, dtype=None, device: str = "cpu", **config) -> Path:
    """As ``save_random_mistral``, with the Llama architecture (SmolLM2's, from ``engage base-model``)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    return _save_random(LlamaConfig, LlamaForCausalLM, out, tokenizer, dtype, device, config)


def _save_random(config_class, model_class, out: Path, tokenizer, dtype, device: str, config: dict) -> Path:
    import torch

    config = config_class(
        **{"vocab_size": len(tokenizer), **config},
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype or default)  # made in dtype, not float32 then cast (14.5 GB for a 7B in bf16)
    try:
        with torch.device(device):
            model = model_class(config)
    finally:
        torch.set_default_dtype(default)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
