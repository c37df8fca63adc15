"""``engage feedback``: the owner's review decisions as training data for the next round.

- DPO pairs (``dpo/{train,test}.jsonl``, the same format build-dataset writes, so
  ``recipes/dpo.py`` trains on them unchanged): an approved candidate over a rejected one of the
  same prompt and batch; the owner's edit over the text the model wrote; Compare choices.
- Unpaired rows (``kto/{train,test}.jsonl``: prompt, completion, label) for KTO-style training:
  approved candidates (as approved, edited text where edited) true, rejected ones false.
A candidate carrying a negative label (default: engagement bait, offensive, factually wrong) counts
as rejected whatever the decision: it is never the chosen side of a pair and its KTO label is false.
The newest tenth of each by decision time is the test split, as build-dataset splits by time.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from engage import __version__
from engage.errors import NothingYet, UserError
from engage.output import staged_folder
from engage.review.store import BAIT_LABEL, ReviewStore

MAX_PAIRS_PER_CANDIDATE = 5
NEGATIVE_LABELS = (BAIT_LABEL, "offensive", "factually wrong")


def _split(rows: list[dict], test_fraction: float) -> tuple[list[dict], list[dict]]:
    rows = sorted(rows, key=lambda r: r["decided_at"])
    n_test = int(len(rows) * test_fraction) if len(rows) >= 10 else 0
    return rows[: len(rows) - n_test], rows[len(rows) - n_test :]


def feedback_rows(
    store: ReviewStore, negative: tuple[str, ...] = NEGATIVE_LABELS
) -> tuple[list[dict], list[dict], dict]:
    """(DPO pairs, KTO rows, counts) from the store's decisions; candidates labelled with one of ``negative``
    count as rejected."""
    everything = store.candidates()
    by_id = {c.id: c for c in everything}
    bad_label = {c.id for c in everything if set(c.labels) & set(negative)}

    def side(c) -> str:
        return "rejected" if c.id in bad_label else c.status

    decided = [c for status in ("approved", "rejected") for c in everything if c.status == status]
    groups: dict[tuple, dict[str, list]] = defaultdict(lambda: {"approved": [], "rejected": []})
    for c in decided:
        groups[(c.prompt, c.batch_id)][side(c)].append(c)
    pairs, used = [], defaultdict(int)
    for group in groups.values():
        for good, bad in itertools.product(group["approved"], group["rejected"]):
            if used[good.id] >= MAX_PAIRS_PER_CANDIDATE or used[bad.id] >= MAX_PAIRS_PER_CANDIDATE:
                continue
            used[good.id] += 1
            used[bad.id] += 1
            pairs.append(_pair(good.prompt, good.current_text, bad.text, "approved_over_rejected", good, bad))
    for c in decided:
        if side(c) == "approved" and c.edited:
            pairs.append(_pair(c.prompt, c.final_text, c.text, "edit_over_original", c, c))
    ties = negative_choices = 0
    for cmp in store.comparisons():
        if cmp["choice"] == "tie":
            ties += 1
            continue
        left, right = by_id[cmp["left_id"]], by_id[cmp["right_id"]]
        good, bad = (left, right) if cmp["choice"] == "left" else (right, left)
        if good.id in bad_label:
            negative_choices += 1
            continue
        row = _pair(good.prompt, good.current_text, bad.current_text, "compare", good, bad)
        row["decided_at"] = cmp["at"]
        pairs.append(row)
    kto = [
        {
            "prompt": c.prompt,
            "completion": c.current_text if side(c) == "approved" else c.text,
            "label": side(c) == "approved",
            "candidate_id": c.id,
            "model_label": c.model_label,
            "decided_at": c.decided_at,
        }
        for c in decided
    ]
    sources = [p["source"] for p in pairs]
    counts = {
        "pairs": len(pairs),
        "approved_over_rejected": sources.count("approved_over_rejected"),
        "edit_over_original": sources.count("edit_over_original"),
        "compare": sources.count("compare"),
        "compare_ties_left_out": ties,
        "compare_negative_choice_left_out": negative_choices,
        "negative_labels": list(negative),
        "approved_with_negative_label_as_rejected": sum(c.status == "approved" and c.id in bad_label for c in decided),
        "kto_rows": len(kto),
        "kto_approved": sum(r["label"] for r in kto),
    }
    return pairs, kto, counts


def _pair(prompt: str, chosen: str, rejected: str, source: str, good, bad) -> dict:
    return {
        "prompt": prompt,
        "chosen": chosen,
        "rejected": rejected,
        "source": source,
        "chosen_id": good.id,
        "rejected_id": bad.id,
        "decided_at": max(good.decided_at or "", bad.decided_at or ""),
    }


def _archive_pairs(dataset_dir: Path) -> dict[str, list[dict]]:
    out = {}
    for split in ("train", "test"):
        path = dataset_dir / "dpo" / f"{split}.jsonl"
        if not path.is_file():
            raise UserError(f"{path} is missing; --mix takes a folder `engage build-dataset` wrote")
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if rows and not isinstance(rows[0]["prompt"], str):
            raise UserError(f"{dataset_dir} was built with --format chat; feedback pairs are text: rebuild with text")
        out[split] = [
            {"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"], "source": "archive"} for r in rows
        ]
    return out


def write_feedback(
    store: ReviewStore,
    out: Path,
    mix: Path | None = None,
    test_fraction: float = 0.1,
    force: bool = False,
    negative: tuple[str, ...] = NEGATIVE_LABELS,
) -> dict:
    pairs, kto, counts = feedback_rows(store, negative)
    if not pairs and not kto:
        raise NothingYet(
            "the store holds no decisions yet: review some candidates first (engage review); nothing written"
        )
    dpo_train, dpo_test = _split(pairs, test_fraction)
    kto_train, kto_test = _split(kto, test_fraction)
    if mix is not None:
        archive = _archive_pairs(mix)
        dpo_train += archive["train"]
        dpo_test += archive["test"]
        counts["archive_pairs"] = len(archive["train"]) + len(archive["test"])
    files = {"dpo/train": dpo_train, "dpo/test": dpo_test, "kto/train": kto_train, "kto/test": kto_test}
    batches = store.batches()
    stats = {
        "tool": "engage",
        "version": __version__,
        "made": "engage feedback",
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "store": str(store.path),
        "mixed_with": str(mix) if mix else None,
        # what engage generate needs from a dataset folder: the prompt, its format, and where the owner's posts are
        "prompt": batches[-1]["prompt"] if batches else None,
        "settings": {"format": "text"},
        "posts_dataset": next(
            (b["settings"].get("dataset_dir") for b in reversed(batches) if b["settings"].get("dataset_dir")), None
        ),
        "counts": counts,
        "rows": {name: len(rows) for name, rows in files.items()},
    }
    with staged_folder(out, force, protect=[store.path, *([mix] if mix else [])]) as stage:
        for name, rows in files.items():
            path = stage / f"{name}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        (stage / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    return stats
