"""Writing the dataset files: JSON Lines for TRL, Parquet for every post.

DPO files can hold hundreds of thousands of rows in which each post's text appears up to
``max_pairs_per_post`` times, so each post's JSON string is encoded once and rows are joined
from those pieces.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring as encode_string
from pathlib import Path

import numpy as np
import orjson

from engage.dataset.formats import dpo_row, sft_row


def write_sft(
    path: Path,
    rows: np.ndarray,
    prompt: str,
    texts: list[str],
    ids: list[str],
    scores: list,
    created: dict[int, str],
    fmt: str,
) -> int:
    with open(path, "wb") as fh:
        for i in rows.tolist():
            row = sft_row(prompt, texts[i], fmt)
            row.update(id=ids[i], score=scores[i], created_at=created[i])
            fh.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
    return len(rows)


DPO_BATCH = 1 << 16  # rows assembled at a time: bounds the memory the assembly takes


def _float_strings(values: np.ndarray):
    """JSON numbers that always read back as floats (``41.0``, not ``41``), so a column's type never depends on its first rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.cast(pa.array(values, pa.float64()), pa.string())
    return pc.if_else(pc.match_substring_regex(text, r"[.eE]"), text, pc.binary_join_element_wise(text, ".0", ""))


def write_dpo(
    path: Path, pairs, prompt: str, texts: list[str], ids: list[str], scores: list, fmt: str, adjusted: bool
) -> int:
    """One row per pair: prompt, chosen, rejected, then ids, scores, seconds apart and ratios.

    Each post's JSON pieces are encoded once; rows are assembled column-wise by pyarrow, and
    the joined lines' buffer is the file.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    prompt_json = json.dumps(dpo_row(prompt, "", "", fmt)["prompt"], ensure_ascii=False, separators=(",", ":"))
    n = len(texts)
    in_pairs = np.zeros(n, dtype=bool)
    in_pairs[pairs.chosen] = True
    in_pairs[pairs.rejected] = True
    text_json, id_json = [""] * n, [""] * n
    for i in np.flatnonzero(in_pairs).tolist():
        m = encode_string(texts[i])
        text_json[i] = '[{"role":"assistant","content":' + m + "}]" if fmt == "chat" else m
        id_json[i] = encode_string(ids[i])
    score_json = list(map(str, scores))  # ints, or floats rounded to 6 places
    big = pa.large_string()  # 64-bit offsets throughout: no 2 GiB limit
    text_arr, id_arr, score_arr = pa.array(text_json, big), pa.array(id_json, big), pa.array(score_json, big)
    del text_json, id_json, score_json
    numeric = np.asarray([float(s) for s in scores])
    raw_ratio = np.round((numeric[pairs.chosen] + 1) / (numeric[pairs.rejected] + 1), 6)
    adjusted_ratio = np.round(pairs.ratio, 6)
    seconds = pairs.seconds_apart
    gaps = seconds.astype(np.int64) if np.all(seconds == np.round(seconds)) else seconds

    def literal(text: str):
        return pa.scalar(text, big)

    with open(path, "wb") as fh:
        for start in range(0, len(pairs), DPO_BATCH):
            part = slice(start, start + DPO_BATCH)
            chosen, rejected = pa.array(pairs.chosen[part]), pa.array(pairs.rejected[part])
            columns = [
                literal('{"prompt":' + prompt_json + ',"chosen":'), text_arr.take(chosen),
                literal(',"rejected":'), text_arr.take(rejected),
                literal(',"chosen_id":'), id_arr.take(chosen), literal(',"rejected_id":'), id_arr.take(rejected),
                literal(',"chosen_score":'), score_arr.take(chosen), literal(',"rejected_score":'), score_arr.take(rejected),
                literal(',"seconds_apart":'), pc.cast(pa.array(gaps[part]), big),
                literal(',"score_ratio":'), _float_strings(raw_ratio[part]).cast(big),
            ]  # fmt: skip
            if adjusted:
                columns += [literal(',"adjusted_ratio":'), _float_strings(adjusted_ratio[part]).cast(big)]
            columns.append(literal("}\n"))
            lines = pc.binary_join_element_wise(*columns, literal(""))
            offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
            fh.write(memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]])
    return len(pairs)


def write_posts_table(path: Path, columns: dict[str, tuple[object, list | np.ndarray]]) -> None:
    """``columns``: name -> (pyarrow type, values)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({name: pa.array(values, type) for name, (type, values) in columns.items()})
    pq.write_table(table, path, compression="zstd")
