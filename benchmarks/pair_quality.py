"""How often the DPO pairs' chosen post is the better-worded one, on sample archives.

The sample archive's engagement follows hidden word quality *and* audience growth, hour of
day, weekday, pictures, links and the place in a thread. The generator returns the hidden
quality of every post, so this prints, for several settings, the pairs per archive and the share
of pairs whose chosen post has the higher word quality (ties, where both posts have the same
quality, are left out), with a 95% Wilson interval over the pooled pairs and the range over seeds.
The interval treats pairs as independent; a post can be in several pairs, so it is a little narrow.

    python benchmarks/pair_quality.py [--posts 20000] [--seeds 0 1 2] [--followers N]

``--posts 300`` makes a small, low-engagement account (most posts 0-5 likes), as the sample
archive scales its audience with the number of posts; ``--followers`` sets it directly.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from engage.dataset.build import BuildSettings, build_dataset
from engage.dataset.evidence import OFF
from engage.dataset.pairing import PairRule
from engage.simulation.sample_archive import write_sample_archive
from engage.stats import wilson

D = PairRule()
NO_EVIDENCE = replace(D, evidence=OFF)
H3 = timedelta(hours=3)
MATCH = ("media", "link", "quote")
SETTINGS = {
    # How far each rule goes without the evidence test (what the match and adjust defaults were chosen on).
    "bare rule: 3h, raw scores, no matching": BuildSettings(pairs=PairRule(H3, 2.0, 5, (), "none", OFF)),
    "3h + match media,link,quote": BuildSettings(pairs=PairRule(H3, 2.0, 5, MATCH, "none", OFF)),
    "3h + adjust hour": BuildSettings(pairs=PairRule(H3, 2.0, 5, (), "hour", OFF)),
    "7d, raw, no matching": BuildSettings(pairs=PairRule(timedelta(days=7), 2.0, 5, (), "none", OFF)),
    # The evidence test on top of the default rules, and with each rule loosened.
    "default rules, evidence off (before)": BuildSettings(pairs=NO_EVIDENCE),
    "default rules, evidence 0.2": BuildSettings(pairs=replace(D, evidence=0.2)),
    "default rules, evidence 0.05 (default)": BuildSettings(),
    "default rules, evidence 0.01": BuildSettings(pairs=replace(D, evidence=0.01)),
    "adjust none, evidence off": BuildSettings(pairs=replace(NO_EVIDENCE, adjust="none")),
    "adjust none, evidence 0.05": BuildSettings(pairs=replace(D, adjust="none")),
    "match none, evidence off": BuildSettings(pairs=replace(NO_EVIDENCE, match=())),
    "match none, evidence 0.05": BuildSettings(pairs=replace(D, match=())),
    "6h window, evidence 0.05": BuildSettings(pairs=replace(D, window=timedelta(hours=6))),
    "threads kept, evidence off": BuildSettings(include_threads=True, pairs=NO_EVIDENCE),
    "threads kept, evidence 0.05": BuildSettings(include_threads=True),
}


def accuracy(out: Path, quality: dict[str, float], kind: dict[str, str]) -> tuple[int, int, int, int, int]:
    """(pairs, right, decided, thread right, thread decided): decided leaves out pairs of equal hidden quality."""
    right = wrong = pairs = t_right = t_decided = 0
    for split in ("train", "test"):
        for line in (out / "dpo" / f"{split}.jsonl").read_text().splitlines():
            row = json.loads(line)
            pairs += 1
            qc, qr = quality[row["chosen_id"]], quality[row["rejected_id"]]
            if abs(qc - qr) < 1e-9:
                continue
            right += qc > qr
            wrong += qc < qr
            if kind.get(row["chosen_id"]) == "thread":
                t_right += qc > qr
                t_decided += 1
    return pairs, right, right + wrong, t_right, t_decided


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=20000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--followers", type=float, default=None, help="audience at the archive's end (default: scaled)")
    ap.add_argument("--only", nargs="*", default=None, help="run only settings whose name contains one of these")
    args = ap.parse_args()
    chosen = {k: v for k, v in SETTINGS.items() if not args.only or any(o in k for o in args.only)}
    results: dict[str, list[tuple[int, int, int, int, int]]] = {name: [] for name in chosen}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            archive = Path(tmp, f"a{seed}.zip")
            truth = write_sample_archive(archive, posts=args.posts, seed=seed, followers=args.followers)
            for name, settings in chosen.items():
                out = Path(tmp, f"out-{seed}")
                build_dataset(archive, out, settings, force=True)
                results[name].append(accuracy(out, truth.quality, truth.kind))
    print(f"pairs whose chosen post has the better hidden word quality ({args.posts} posts, seeds {args.seeds})")
    print(
        f"{'setting':40s} {'pairs/archive':>13s} {'accuracy':>9s} {'95% interval':>15s} {'seed range':>13s}"
        f" {'thread pairs: accuracy (n)':>27s}"
    )
    for name, rows in results.items():
        pairs = sum(r[0] for r in rows)
        right, decided = sum(r[1] for r in rows), sum(r[2] for r in rows)
        acc = right / decided if decided else float("nan")
        lo, hi = wilson(right, decided)
        per_seed = [r[1] / r[2] for r in rows if r[2]]
        spread = f"{min(per_seed):.3f}-{max(per_seed):.3f}" if per_seed else "-"
        t_right, t_n = sum(r[3] for r in rows), sum(r[4] for r in rows)
        threads = f"{t_right / t_n:.3f} ({t_n})" if t_n else "-"
        print(
            f"{name:40s} {pairs / len(rows):13.1f} {acc:9.3f} {f'{lo:.3f}-{hi:.3f}':>15s} {spread:>13s} {threads:>27s}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
