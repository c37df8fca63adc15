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
    from transformers import MistralConfig, MistralForCausalLM

    from engage.tiny_model import build_tiny_tokenizer

    if (out / "config.json").exists():
        return out
    tokenizer = build_tiny_tokenizer(texts, vocab_size=1024)
    width, layers = map(int, shape.split("x"))
    heads = width // 128
    config = MistralConfig(
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
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.set_default_dtype(torch.bfloat16)  # made in bf16 (14.5 GB for 7B), not float32 then cast
    try:
        with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
            model = MistralForCausalLM(config)
    finally:
        torch.set_default_dtype(torch.float32)
    model.save_pretrained(out)
    del model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    tokenizer.save_pretrained(out)
    return out
