"""How often the DPO pairs' chosen post is the better-worded one, on a sample archive.

The sample archive's engagement follows hidden word quality *and* audience growth, hour of
day, weekday, pictures and links. The generator returns the hidden quality of every post, so
this prints, for several settings, the share of pairs whose chosen post has the higher word
quality (ties, where both posts have the same quality, are left out of the share).

    python benchmarks/pair_quality.py [--posts 20000] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from engage.build import BuildSettings, build_dataset
from engage.pairing import PairRule
from engage.sample_archive import write_sample_archive

SETTINGS = {
    "bare rule: 3h, raw scores, no matching": PairRule(timedelta(hours=3), 2.0, 5, (), "none"),
    "3h + match media,link,quote": PairRule(timedelta(hours=3), 2.0, 5, ("media", "link", "quote"), "none"),
    "3h + adjust hour": PairRule(timedelta(hours=3), 2.0, 5, (), "hour"),
    "default: 3h + match + adjust hour": PairRule(),
    "1h + match + adjust hour": PairRule(timedelta(hours=1), 2.0, 5, ("media", "link", "quote"), "hour"),
    "6h + match + adjust hour": PairRule(timedelta(hours=6), 2.0, 5, ("media", "link", "quote"), "hour"),
    "24h + match + adjust hour": PairRule(timedelta(hours=24), 2.0, 5, ("media", "link", "quote"), "hour"),
    "7d, raw, no matching": PairRule(timedelta(days=7), 2.0, 5, (), "none"),
}


def accuracy(out: Path, quality: dict[str, float]) -> tuple[int, float]:
    right = wrong = 0
    for split in ("train", "test"):
        for line in (out / "dpo" / f"{split}.jsonl").read_text().splitlines():
            row = json.loads(line)
            qc, qr = quality[row["chosen_id"]], quality[row["rejected_id"]]
            if abs(qc - qr) < 1e-9:
                continue
            right += qc > qr
            wrong += qc < qr
    n = right + wrong
    return n, (right / n if n else float("nan"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=20000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    results: dict[str, list[tuple[int, float]]] = {name: [] for name in SETTINGS}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            archive = Path(tmp, f"a{seed}.zip")
            truth = write_sample_archive(archive, posts=args.posts, seed=seed)
            for name, rule in SETTINGS.items():
                out = Path(tmp, f"out-{seed}")
                build_dataset(archive, out, BuildSettings(pairs=rule), force=True)
                results[name].append(accuracy(out, truth.quality))
    print(f"pairs whose chosen post has the better hidden word quality ({args.posts} posts, seeds {args.seeds})")
    print(f"{'setting':40s} {'pairs/seed':>10s} {'accuracy':>9s}")
    for name, rows in results.items():
        n = sum(r[0] for r in rows)
        acc = sum(r[0] * r[1] for r in rows) / n if n else float("nan")
        print(f"{name:40s} {n / len(rows):10.0f} {acc:9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
