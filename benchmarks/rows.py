"""How the benchmarks keep what they measure: each row is printed and appended to a JSON-lines file the
moment it is measured, so a later failure, a timeout or a killed call loses no finished row; a run
that fails becomes a row with its error, and the next one still runs. And `require_cuda`, checked
before anything is prepared, so a `--gpu` run on a machine without CUDA stops at once."""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path


class RunFailed(Exception):
    """One measurement failed; the benchmark records it and goes on."""


def require_cuda(script: str) -> None:
    import torch

    if not torch.cuda.is_available():
        sys.exit(
            f"{script}: error: --gpu, but torch {torch.__version__} sees no CUDA device "
            f"(CUDA build: {torch.version.cuda or 'none'}); install the CUDA build of torch or drop --gpu"
        )


def gpu_memory() -> dict:
    """Peak GPU memory of this process: allocated by tensors, and reserved by the caching allocator
    (what the card must really hold)."""
    import torch

    if not torch.cuda.is_available():
        return {}
    return {
        "peak_gpu_memory_bytes": torch.cuda.max_memory_allocated(),
        "peak_gpu_reserved_bytes": torch.cuda.max_memory_reserved(),
        "gpu": torch.cuda.get_device_name(),
    }


def append_row(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def measure_all(
    plan: Iterable[dict],
    measure: Callable[[dict], dict],
    results: Path,
    show: Callable[[dict], None] = lambda row: print(json.dumps(row), flush=True),
) -> list[dict]:
    """Run ``measure`` on each item of ``plan``; append and show each row as soon as it exists. A
    ``RunFailed`` becomes a row with ``error``; anything else (a bug, Ctrl-C) stops the benchmark with
    the finished rows already saved."""
    rows = []
    for item in plan:
        stamp = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "host": platform.node()}
        try:
            row = item | measure(item) | stamp
        except RunFailed as exc:
            row = item | {"error": str(exc)} | stamp
        append_row(results, row)
        show(row)
        rows.append(row)
    return rows
