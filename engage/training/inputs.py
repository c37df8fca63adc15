"""What a training run reads: the SFT or DPO split of an ``engage build-dataset`` folder, and for
DPO the SFT run's adapter folder. A missing or empty input is one clear error, before any model loads."""

from __future__ import annotations

from pathlib import Path

from engage.errors import UserError


def load_splits(dataset_dir: str | None, kind: str):
    """The train and test splits of ``DIR/sft`` or ``DIR/dpo`` as a DatasetDict."""
    from datasets import load_dataset

    if not dataset_dir:
        raise UserError("no --dataset_dir: pass the folder `engage build-dataset` wrote")
    folder = Path(dataset_dir) / kind
    if not folder.is_dir():
        raise UserError(f"{folder} does not exist; pass the folder `engage build-dataset` wrote as --dataset_dir")
    files = {split: folder / f"{split}.jsonl" for split in ("train", "test")}
    for path in files.values():
        if not path.is_file():
            raise UserError(f"{path} is missing; build the dataset again with `engage build-dataset`")
    if files["train"].stat().st_size == 0:
        raise UserError(
            f"{files['train']} has no rows: nothing to train on "
            + (
                "(build again with looser pairing: --match none, a longer --window, --include-threads, "
                "--include-replies or a lower --min-ratio; the dataset card's what-if table counts each)"
                if kind == "dpo"
                else "(build again with --include-threads, --include-replies or a higher --top-fraction; the dataset "
                "card's what-if table counts each)"
            )
        )
    present = {split: str(path) for split, path in files.items() if path.stat().st_size > 0}
    return load_dataset("json", data_files=present)


def sft_adapter_folder(sft_adapter: str | None) -> Path:
    """The SFT run's output folder, checked to hold an adapter."""
    if not sft_adapter:
        raise UserError("no --sft_adapter: pass the SFT run's output folder (DPO continues from it)")
    adapter = Path(sft_adapter)
    if not (adapter / "adapter_config.json").is_file():
        raise UserError(f"{adapter} holds no SFT adapter (no adapter_config.json); run recipes/sft.py first")
    return adapter
