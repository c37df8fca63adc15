"""A decision's round trip on the server with 100k candidates in the review store.

What one key press in the review app costs on the server: the approve (edit, labels, note,
decision event and new state in one committed transaction, synchronous=FULL) plus loading the
next pending candidate and the queue counts. Goal (issue 4): <= 100 ms.

    python benchmarks/review_store.py --candidates 100000 --decisions 300
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engage.review.post_flags import flag_post  # noqa: E402
from engage.review.store import NewCandidate, ReviewStore  # noqa: E402
from review_app import handlers  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=100_000)
    ap.add_argument("--decisions", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "engage.db"
        store = ReviewStore(path, create=True)
        started = time.perf_counter()
        flags = flag_post("a post").as_dict() | {"near_copy": False}
        for label in ("sft-v1", "dpo-v1"):
            batch = store.add_batch(label, "base", f"runs/{label}", "Write a post:\n", {})
            half = args.candidates // 2
            store.add_candidates(
                batch, (NewCandidate(f"{label} candidate number {i}, with some words", flags) for i in range(half))
            )
        print(
            f"filled {store.count()} candidates in {time.perf_counter() - started:.1f} s ({path.stat().st_size / 2**20:.0f} MiB)"
        )
        times = []
        view = handlers.show_next(store)
        for i in range(args.decisions):
            action = ("approve", "reject", "skip")[i % 3]
            t0 = time.perf_counter()
            view = handlers.act(
                store, action, view.id, view.version, view.text + " edited" * (i % 2), ["funny"], "n", "me"
            )
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(
            f"decision round trip over {args.decisions} decisions: median {statistics.median(times):.2f} ms, "
            f"p95 {p95:.2f} ms, max {times[-1]:.2f} ms (goal <= 100 ms)"
        )


if __name__ == "__main__":
    main()
