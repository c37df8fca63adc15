"""engage.quiet drops the known non-actionable library messages and nothing else."""

from __future__ import annotations

import logging
import warnings

from engage.quiet import NOISE_LOGS, quiet_libraries


def test_known_library_noise_is_dropped_and_real_warnings_stay():
    quiet_libraries()
    quiet_libraries()  # idempotent: one filter per logger
    name, start = NOISE_LOGS[0]
    logger = logging.getLogger(name)
    assert len(logger.filters) == 1
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    handler = Keep()
    logger.addHandler(handler)
    try:
        logger.warning(start + " from kernels-community: No module named 'kernels'. Please make sure ...")
        logger.warning("Input type into Linear4bit is torch.float16, but bnb_4bit_compute_dtype=torch.float32")
    finally:
        logger.removeHandler(handler)
    assert seen == ["Input type into Linear4bit is torch.float16, but bnb_4bit_compute_dtype=torch.float32"]

    with warnings.catch_warnings(record=True) as caught:
        quiet_libraries()
        warnings.simplefilter("default")
        quiet_libraries()  # its filters go in front of the catch-all
        warnings.warn(
            "`gradient_checkpointing` is deprecated and will be removed in v6. Use ...", FutureWarning, stacklevel=1
        )
        warnings.warn("`max_length` is too small for this dataset", UserWarning, stacklevel=1)
        warnings.warn("this argument no longer does anything", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == [
        "`max_length` is too small for this dataset",
        "this argument no longer does anything",
    ]
