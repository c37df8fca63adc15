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

from engage.formats import dpo_row, sft_row


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


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def write_dpo(
    path: Path, pairs, prompt: str, texts: list[str], ids: list[str], scores: list, fmt: str, adjusted: bool
) -> int:
    """One row per pair: prompt, chosen, rejected, then ids, scores, seconds apart and ratios."""
    prompt_json = json.dumps(dpo_row(prompt, "", "", fmt)["prompt"], ensure_ascii=False, separators=(",", ":"))
    # Every post's pieces encoded once (as UTF-8 bytes), however many pairs it is in.
    text_json: list[bytes] = [b""] * len(texts)
    id_json: list[bytes] = [b""] * len(texts)
    score_json: list[bytes] = [b""] * len(texts)
    for i in np.unique(np.concatenate([pairs.chosen, pairs.rejected])).tolist():
        m = encode_string(texts[i])
        text_json[i] = ('[{"role":"assistant","content":' + m + "}]" if fmt == "chat" else m).encode()
        id_json[i] = encode_string(ids[i]).encode()
        score_json[i] = _number(scores[i]).encode()
    score_arr = np.asarray([float(s) for s in scores])
    raw_ratio = [
        repr(x).encode() for x in np.round((score_arr[pairs.chosen] + 1) / (score_arr[pairs.rejected] + 1), 6).tolist()
    ]
    extra = (
        [b',"adjusted_ratio":' + repr(x).encode() for x in np.round(pairs.ratio, 6).tolist()]
        if adjusted
        else [b""] * len(pairs)
    )
    gaps = [_number(g).encode() for g in pairs.seconds_apart.tolist()]
    template = (
        b'{"prompt":' + prompt_json.encode() + b',"chosen":%s,"rejected":%s,"chosen_id":%s,"rejected_id":%s,'
        b'"chosen_score":%s,"rejected_score":%s,"seconds_apart":%s,"score_ratio":%s%s}\n'
    )
    lines = (
        template % (text_json[c], text_json[r], id_json[c], id_json[r], score_json[c], score_json[r], gap, ratio, more)
        for c, r, gap, ratio, more in zip(pairs.chosen.tolist(), pairs.rejected.tolist(), gaps, raw_ratio, extra)
    )
    with open(path, "wb") as fh:
        fh.writelines(lines)
    return len(pairs)


def write_posts_table(path: Path, columns: dict[str, tuple[object, list | np.ndarray]]) -> None:
    """``columns``: name -> (pyarrow type, values)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({name: pa.array(values, type) for name, (type, values) in columns.items()})
    pq.write_table(table, path, compression="zstd")
