"""Progress on stderr for long steps, and warnings the owner should act on; silent with --quiet."""

from __future__ import annotations

import sys
from contextlib import contextmanager


class Progress:
    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    def warn(self, message: str) -> None:
        """A warning the owner can act on (what it says is also written where it lasts, e.g. the dataset card)."""
        if not self.quiet:
            print(f"engage: warning: {message}", file=sys.stderr, flush=True)

    def say(self, message: str) -> None:
        if not self.quiet:
            print(f"engage: {message}", file=sys.stderr, flush=True)

    @contextmanager
    def bar(self, desc: str, unit: str = "B"):
        """A bar whose total may be set later: yields (set_total, advance)."""
        if self.quiet:
            yield (lambda total: None), (lambda n: None)
            return
        from tqdm import tqdm

        tqdm.monitor_interval = 0  # no monitor thread: archive parsing forks worker processes

        with tqdm(
            desc=desc,
            unit=unit,
            unit_scale=unit == "B",
            unit_divisor=1024,
            file=sys.stderr,
            leave=False,
            mininterval=0.5,
            delay=1.0,
        ) as bar:

            def set_total(total: int) -> None:
                bar.total = total  # shown from the next update; a refresh now would defeat the delay

            yield set_total, bar.update
