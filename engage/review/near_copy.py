"""Finding the owner's post a generated candidate is closest to (memorisation check).

Candidates are short, the owner's posts may number in the hundreds of thousands: an inverted
index of character 4-grams picks a few posts sharing the most 4-grams, then difflib's ratio
(the share of characters in matching blocks) is computed exactly for those few.
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from dataclasses import dataclass

GRAM = 4
SHORTLIST = 8
DEFAULT_THRESHOLD = 0.8


def normalise(text: str) -> str:
    """Lower-cased, with runs of white space made one space: how posts are compared as text."""
    return " ".join(text.lower().split())


def _grams(text: str) -> set[str]:
    if len(text) <= GRAM:
        return {text} if text else set()
    return {text[i : i + GRAM] for i in range(len(text) - GRAM + 1)}


@dataclass(frozen=True)
class Nearest:
    post_id: str
    text: str
    similarity: float  # 0..1, difflib ratio on lower-cased, space-normalised text


class NearCopyIndex:
    def __init__(self, posts: list[tuple[str, str]]):
        """``posts``: (id, text) of the owner's posts the model may have learnt from."""
        self._ids = [pid for pid, _ in posts]
        self._texts = [text for _, text in posts]
        self._norm = [normalise(t) for t in self._texts]
        index: dict[str, list[int]] = defaultdict(list)
        for i, norm in enumerate(self._norm):
            for g in _grams(norm):
                index[g].append(i)
        self._index = index

    def __len__(self) -> int:
        return len(self._ids)

    def nearest(self, text: str) -> Nearest | None:
        norm = normalise(text)
        grams = _grams(norm)
        if not grams or not self._ids:
            return None
        hits: Counter[int] = Counter()
        for g in grams:
            posting = self._index.get(g)
            if posting and len(posting) < len(self._ids) // 2 + 50:  # very common grams say little
                hits.update(posting)
        if not hits:
            return None
        best, best_ratio = -1, -1.0
        for i, _ in hits.most_common(SHORTLIST):
            ratio = difflib.SequenceMatcher(None, norm, self._norm[i], autojunk=False).ratio()
            if ratio > best_ratio:
                best, best_ratio = i, ratio
        return Nearest(self._ids[best], self._texts[best], round(best_ratio, 3))
