"""Library messages a user can do nothing about, silenced in one place for every entry point.

Each entry is one known message, matched by its start; every other warning and error of every
library still shows. Call ``quiet_libraries()`` before the libraries are imported: some speak
while loading.
"""

from __future__ import annotations

import logging
import warnings

# (logger, start of the message): log records dropped.
NOISE_LOGS = (
    # bitsandbytes on CPUs with AVX512-BF16 tries an optional hub kernel package and falls back to its own.
    ("bitsandbytes.backends.cpu.ops", "Failed to load CPU gemm_4bit_forward"),
)
# (category, regex matching the start of the message): Python warnings ignored.
NOISE_WARNINGS = (
    # transformers 5 renames TrainingArguments fields that TRL's configs still set themselves.
    (FutureWarning, r"`\w+` is deprecated and will be removed in v6"),
)


class _DropKnown(logging.Filter):
    def __init__(self, starts: tuple[str, ...]):
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.starts)


def quiet_libraries() -> None:
    """Drop the messages in NOISE_LOGS and NOISE_WARNINGS; idempotent."""
    by_logger: dict[str, tuple[str, ...]] = {}
    for name, start in NOISE_LOGS:
        by_logger[name] = (*by_logger.get(name, ()), start)
    for name, starts in by_logger.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropKnown) for f in logger.filters):
            logger.addFilter(_DropKnown(starts))
    for category, pattern in NOISE_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern, category=category)
