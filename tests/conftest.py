"""Fixtures are made by code: archives of every era, hand-made quirky archives, a tiny model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from engage.simulation.sample_archive import write_sample_archive

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def sample_2024(tmp_path_factory):
    path = tmp_path_factory.mktemp("a2024") / "twitter-2024.zip"
    truth = write_sample_archive(path, posts=1500, seed=7, era="2024")
    return path, truth


@pytest.fixture(scope="session")
def sample_archives(tmp_path_factory):
    """One archive per era, as zip and as unpacked folder."""
    out = {}
    for era in ("2019", "2021", "2024"):
        base = tmp_path_factory.mktemp(f"era{era}")
        truth = write_sample_archive(base / "archive.zip", posts=400, seed=3, era=era)
        write_sample_archive(base / "folder", posts=400, seed=3, era=era, folder=True)
        out[era] = (base / "archive.zip", base / "folder", truth)
    return out


def js(global_name: str, payload) -> str:
    return f"window.{global_name} = " + json.dumps(payload, indent=2, separators=(",", " : "))


def tweet(
    pid: str, text: str, created: str = "Fri Oct 13 14:58:50 +0000 2023", likes: int = 0, reposts: int = 0, **extra
) -> dict:
    t = {
        "id_str": pid,
        "id": pid,
        "created_at": created,
        "full_text": text,
        "favorite_count": str(likes),
        "retweet_count": str(reposts),
        "entities": {"hashtags": [], "urls": [], "user_mentions": []},
        "lang": "en",
        "retweeted": False,
    }
    t.update(extra)
    return t


def manifest(files: dict[str, list[str]], generated: str = "2024-11-16T11:33:22.222Z", handle: str = "owner") -> str:
    types = {
        key: {"files": [{"fileName": f, "globalName": "x", "count": "1"} for f in names]}
        for key, names in files.items()
    }
    return js(
        "__THAR_CONFIG",
        {
            "userInfo": {"accountId": "1", "userName": handle, "displayName": "Owner"},
            "archiveInfo": {"generationDate": generated, "isPartialArchive": False},
            "dataTypes": types,
        },
    ).replace("window.__THAR_CONFIG", "window.__THAR_CONFIG", 1)


def write_zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, body in members.items():
            zf.writestr(name, body if isinstance(body, bytes) else body.encode("utf-8"))
    return path


def run_engage(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run the real ``engage`` command in a fresh process, as a user would."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "engage", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory, sample_2024):
    """A dataset folder built from the 2024 sample and the tiny model trained on its text."""
    from engage.dataset.build import BuildSettings, build_dataset
    from engage.training.tiny_model import build_tiny_model, dataset_texts

    base = tmp_path_factory.mktemp("tiny")
    data = base / "data"
    build_dataset(sample_2024[0], data, BuildSettings())
    return data, build_tiny_model(dataset_texts(data), base / "tiny")


@pytest.fixture(scope="session")
def tiny_llama(tiny_base):
    """A tiny random Llama-architecture model (SmolLM2's architecture, tied embeddings) on the tiny tokenizer."""
    import torch
    from transformers import AutoTokenizer

    from engage.training.tiny_model import save_random_llama

    data, mistral = tiny_base
    torch.manual_seed(0)
    out = save_random_llama(mistral.parent / "tiny-llama", AutoTokenizer.from_pretrained(mistral), hidden_size=64,
                            intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                            max_position_embeddings=512, tie_word_embeddings=True)  # fmt: skip
    return data, out


@pytest.fixture(scope="session")
def tiny_adapter(tmp_path_factory, tiny_base):
    """The dataset folder, the tiny model, and a LoRA adapter on it saved as the recipes save one."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    data, model_dir = tiny_base
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(model_dir), LoraConfig(r=4, target_modules="all-linear")
    )
    adapter = tmp_path_factory.mktemp("adapter") / "adapter"
    model.save_pretrained(adapter)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(adapter)
    return data, model_dir, adapter
