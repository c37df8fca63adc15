"""A model with Mistral-7B's shape and random weights, for GPU benchmarks with no download.

Saved in bf16 like a hub checkpoint, so the recipes and `engage generate` load it in 4-bit as they
would load Mistral-7B. The tokenizer is a BPE trained on the sample posts (about 4 characters per
token on them, near Mistral's own on English posts). ``shape`` WIDTHxLAYERS builds a smaller
model in the same proportions for a CPU; it gets the tokenizer's own vocabulary, so that, as in
the 7B model, the layers and not the output layer hold the work.
"""

from __future__ import annotations

from pathlib import Path

MISTRAL_7B = "4096x32"


def build_random_mistral(out: Path, texts: list[str], shape: str = MISTRAL_7B) -> Path:
    import torch

    from engage.training.tiny_model import build_tiny_tokenizer, save_random_mistral

    if (out / "config.json").exists():
        return out
    tokenizer = build_tiny_tokenizer(texts, vocab_size=1024)
    width, layers = map(int, shape.split("x"))
    heads = width // 128
    save_random_mistral(
        out,
        tokenizer,
        dtype=torch.bfloat16,
        device="cuda" if torch.cuda.is_available() else "cpu",
        vocab_size=32000 if shape == MISTRAL_7B else len(tokenizer),
        hidden_size=width,
        intermediate_size=width * 7 // 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 4),
        head_dim=128,
        max_position_embeddings=32768,
        sliding_window=4096,
        rope_theta=10000.0,
    )
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return out
