"""The dataset card's YAML header lets the real `datasets` library load SFT and DPO apart from the folder."""

from __future__ import annotations

import json

import pytest

from engage.dataset.build import BuildSettings, build_dataset

datasets = pytest.importorskip("datasets")


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("test_fraction", [0.1, 0.0])
def test_load_dataset_on_the_folder_gives_sft_and_dpo_apart(sample_2024, tmp_path, test_fraction):
    out = tmp_path / "data"
    build_dataset(sample_2024[0], out, BuildSettings(test_fraction=test_fraction))
    assert (out / "README.md").read_text().startswith("---\nconfigs:\n")
    splits = ("train", "test") if test_fraction else ("train",)
    for kind, columns in (("sft", {"prompt", "completion"}), ("dpo", {"prompt", "chosen", "rejected"})):
        loaded = datasets.load_dataset(str(out), kind, cache_dir=str(tmp_path / "cache"))
        assert sorted(loaded) == sorted(splits)
        for split in splits:
            assert columns <= set(loaded[split].column_names)
            rows = _lines(out / kind / f"{split}.jsonl")
            assert loaded[split].select_columns(sorted(columns)).to_list() == [
                {k: r[k] for k in sorted(columns)} for r in rows
            ]
    with pytest.raises(ValueError, match="sft"):  # no silent mix of both: the folder asks which one
        datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
