"""build-dataset against the floor of only inflating and parsing the post files.

The floor is what any reader of the archive must do at least: inflate every post file
(tweets.js and its parts, note-tweet.js, community-tweet.js, deleted-tweets.js) and parse it
with the standard library's json, one file at a time. build-dataset does that and everything
else (text, scoring, selection, pairing, writing every output). Each is run in a fresh
process, several times; the best wall time and the peak resident memory are printed, with
the ratio to the floor. Goal: at most 1.2x the floor's time, no more than its peak memory.

    python benchmarks/build_dataset.py [--posts 300000] [--repeat 3] [--archive PATH]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

FLOOR = r"""
import json, re, resource, sys, zipfile
pat = re.compile(r"(?:data/)?(?:tweets?|note-tweet|community-tweet|deleted-tweets?)(?:-part\d+)?\.js")
items = 0
with zipfile.ZipFile(sys.argv[1]) as zf:
    for info in zf.infolist():
        if pat.fullmatch(info.filename):
            text = zf.read(info).decode("utf-8")
            data = json.loads(text[text.index("=") + 1:])
            items += len(data)
            del text, data
print(items, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

BUILD = r"""
import resource, sys
from engage.cli import main
rc = main(["build-dataset", sys.argv[1], "--out", sys.argv[2], "--force", "--quiet"])
print(rc, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run(code: str, *args: str) -> tuple[float, int, str]:
    """Wall time, peak RSS of the process tree (the larger of sampled and the main process's own peak), output."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    watched = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, _tree_rss(watched))
        except psutil.Error:
            pass
        time.sleep(0.1)
    wall = time.perf_counter() - start
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"benchmark run failed:\n{err}")
    first, rss_kb = out.split()[-2:]
    return wall, max(peak, int(rss_kb) * 1024), first


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--archive", type=Path, help="use this archive instead of a new sample archive")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = args.archive
        if archive is None:
            archive = Path(tmp, "sample.zip")
            t = time.perf_counter()
            # In its own process: Linux carries a parent's peak resident memory into the ru_maxrss of the
            # children it starts, so writing the archive in this process would inflate every reading below.
            subprocess.run(
                [sys.executable, "-m", "engage", "sample-archive", str(archive), "--posts", str(args.posts)],
                check=True,
            )
            print(
                f"sample archive: {args.posts} posts, {archive.stat().st_size / 1e6:.1f} MB zipped ({time.perf_counter() - t:.1f}s to write)"
            )
        out = Path(tmp, "out")
        # Alternate the two so that drift in the machine's speed hits both alike.
        floor, build = [], []
        for _ in range(args.repeat):
            floor.append(run(FLOOR, str(archive)))
            build.append(run(BUILD, str(archive), str(out)))
        ft, fm = min(f[0] for f in floor), max(f[1] for f in floor)
        bt, bm = min(b[0] for b in build), max(b[1] for b in build)
        ratios = sorted(b[0] / f[0] for f, b in zip(floor, build))
        print(f"items in post files: {floor[0][2]}")
        print(f"{'':14s} {'best wall s':>12s} {'peak RSS MiB':>13s}")
        print(f"{'floor (json)':14s} {ft:12.2f} {fm / 2**20:13.0f}")
        print(f"{'build-dataset':14s} {bt:12.2f} {bm / 2**20:13.0f}")
        print(
            f"time ratio, best to best: {bt / ft:.2f}x; per back-to-back pair: {', '.join(f'{r:.2f}' for r in ratios)} (goal <= 1.2x)"
        )
        print(f"memory ratio: {bm / fm:.2f}x (goal <= 1.0x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
