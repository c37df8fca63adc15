"""Small-archive advice: when the SFT or DPO sets are small, what each looser setting would give.

The table is computed, not estimated: each row runs the same data rules (engage.dataset.rules) on the
same posts with one setting loosened. It runs only when a set is small, so a big archive's build
pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from engage.dataset.evidence import OFF
from engage.durations import format_duration

if TYPE_CHECKING:
    from engage.dataset.build import BuildSettings
    from engage.dataset.rules import ScoredPosts

# Below these many training rows a set is small: a LoRA fine-tune on fewer than ~100 SFT examples
# learns little of a voice, and fewer than ~100 preference pairs barely move a DPO policy.
SMALL_SFT_TRAIN = 100
SMALL_DPO_TRAIN = 100


def small_sets(sft_train: int, dpo_train: int) -> list[str]:
    """One line per small set (empty when neither is small)."""
    out = []
    if sft_train < SMALL_SFT_TRAIN:
        out.append(f"only {sft_train} SFT training rows (fewer than {SMALL_SFT_TRAIN})")
    if dpo_train < SMALL_DPO_TRAIN:
        out.append(f"only {dpo_train} DPO training pairs (fewer than {SMALL_DPO_TRAIN})")
    return out


def _looser(s: BuildSettings, has_threads: bool, has_replies: bool) -> list[tuple[str, BuildSettings]]:
    """Each looser setting that differs from ``s``, as the command-line flag and the settings it gives."""
    rule = s.pairs
    options: list[tuple[str, Callable[[], BuildSettings], bool]] = [
        ("--match none", lambda: replace(s, pairs=replace(rule, match=())), bool(rule.match)),
        *(
            (f"--window {format_duration(w)}", lambda w=w: replace(s, pairs=replace(rule, window=w)), rule.window < w)
            for w in (timedelta(hours=6), timedelta(hours=24))
        ),
        ("--min-ratio 1.5", lambda: replace(s, pairs=replace(rule, min_ratio=1.5)), rule.min_ratio > 1.5),
        ("--include-threads", lambda: replace(s, include_threads=True), has_threads and not s.include_threads),
        ("--include-replies", lambda: replace(s, include_replies=True), has_replies and not s.include_replies),
        ("--top-fraction 0.2", lambda: replace(s, top_fraction=0.2), s.top_fraction < 0.2),
        ("--evidence 1 (off: pairs that may be noise)", lambda: replace(s, pairs=replace(rule, evidence=OFF)),
         rule.evidence < OFF),
    ]  # fmt: skip
    return [(label, make()) for label, make, applies in options if applies]


def what_if_table(settings: BuildSettings, data: ScoredPosts, as_of: datetime) -> list[dict]:
    """The current settings' counts, then each looser setting's, on the same posts."""
    kinds = {p.kind for p in data.posts}
    rows = []
    for label, s in [("these settings", settings)] + _looser(settings, "thread" in kinds, "reply" in kinds):
        sel = s.select(data, as_of)
        sft_test = int(np.count_nonzero(sel.in_sft & sel.is_test))
        rows.append(
            {
                "setting": label,
                "sft_train": int(np.count_nonzero(sel.in_sft)) - sft_test,
                "sft_test": sft_test,
                "dpo_train": len(sel.pairs["train"]),
                "dpo_test": len(sel.pairs["test"]),
            }
        )
    return rows


def advice_line(rows: list[dict]) -> str:
    """The looser settings that would give the most SFT rows and DPO pairs, for the stderr warning."""
    if len(rows) < 2:
        return ""
    loose = [r for r in rows[1:] if not r["setting"].startswith("--evidence")]  # never advise keeping noise
    if not loose:
        return ""
    best_dpo = max(loose, key=lambda r: r["dpo_train"])
    best_sft = max(loose, key=lambda r: r["sft_train"])
    parts = [f"{best_dpo['setting'].split(' (')[0]} gives {best_dpo['dpo_train']} training pairs"]
    if best_sft["sft_train"] > rows[0]["sft_train"]:
        parts.append(f"{best_sft['setting']} gives {best_sft['sft_train']} SFT rows")
    return "; ".join(parts)
