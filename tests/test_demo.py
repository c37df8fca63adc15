"""The README's first command, headless: the whole kit from sample archive to reviewed candidates."""

from __future__ import annotations

import json
import os
import subprocess

from conftest import REPO

from engage.review.store import ReviewStore


def test_headless_demo_runs_the_whole_kit(tmp_path):
    out = tmp_path / "demo"
    # Two SFT and two DPO steps: the path end to end, not the quality (the demo's own run trains longer).
    env = dict(os.environ, PYTHON=str(REPO / ".venv" / "bin" / "python"), DEMO_MAX_STEPS="2")
    proc = subprocess.run(["bash", str(REPO / "scripts" / "demo.sh"), "--headless", str(out)],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=1200)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for artefact in ("data/sft/train.jsonl", "runs/sft/adapter_model.safetensors", "runs/dpo/eval_results.json"):
        assert (out / artefact).is_file(), artefact
    with ReviewStore(out / "engage.db") as store:
        assert {s.model_label: s.candidates for s in store.stats()} == {"sft-v1": 20, "dpo-v1": 20}
    assert "40 candidates waiting for review" in proc.stdout
    assert f"review store:    {out}/engage.db" in proc.stdout
    info = json.loads((out / "runs/dpo/train_info.json").read_text())
    assert info["global_step"] == 2, "DEMO_MAX_STEPS caps the runs"
    assert json.loads((out / "models/smollm2/stats.json").read_text())["made"] == "engage base-model"
