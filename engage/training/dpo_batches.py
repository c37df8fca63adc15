"""How DPO batches are formed from pairs of posts, and what padding costs.

TRL's preference collator puts a batch's chosen and rejected sequences (prompt + post) side by side
and pads all of them to the longest one. Posts run from a few words to a thread-length note, so a
batch drawn at random pads most sequences to its one long post; batching pairs of similar length
(``train_sampling_strategy: group_by_length``) removes most of that padding. TRL's DPOTrainer cannot
group by length itself (its tokenized rows have no ``input_ids`` column for the sampler to measure),
so :class:`LengthGroupedDPOTrainer` measures pairs the way the collator pads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from transformers.trainer_pt_utils import LengthGroupedSampler
from trl import DPOTrainer


def pair_lengths(
    prompt_ids: Sequence[Sequence[int]],
    chosen_ids: Sequence[Sequence[int]],
    rejected_ids: Sequence[Sequence[int]],
    max_length: int | None,
) -> list[int]:
    """Each pair's padded length in TRL's collator: prompt plus the longer post, cut at ``max_length``."""
    lengths = [len(p) + max(len(c), len(r)) for p, c, r in zip(prompt_ids, chosen_ids, rejected_ids, strict=True)]
    return lengths if max_length is None else [min(n, max_length) for n in lengths]


def padding_cost(lengths: Sequence[int], order: Iterable[int], batch_size: int) -> int:
    """Token slots the forward passes compute over one pass of pairs in ``order``, ``batch_size`` pairs
    at a time: each batch is 2 x its pairs x its longest pair's padded length."""
    order = list(order)
    return sum(
        2 * len(batch) * max(batch)
        for batch in (
            [lengths[i] for i in order[start : start + batch_size]] for start in range(0, len(order), batch_size)
        )
    )


class LengthGroupedDPOTrainer(DPOTrainer):
    """TRL's DPOTrainer, with ``train_sampling_strategy: group_by_length`` batching pairs of similar
    padded length for training and evaluation (random and sequential otherwise, as in TRL)."""

    def _grouped(self, dataset, batch_size: int, generator=None) -> LengthGroupedSampler:
        lengths = pair_lengths(
            dataset["prompt_ids"], dataset["chosen_ids"], dataset["rejected_ids"], self.args.max_length
        )
        # The Trainer's grouping for SFT: shuffled mega-batches of 50 batches, each sorted by length.
        return LengthGroupedSampler(batch_size, lengths=lengths, generator=generator)

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy != "group_by_length" or dataset is None:
            return super()._get_train_sampler(train_dataset)
        return self._grouped(dataset, self.args.train_batch_size * self.args.gradient_accumulation_steps)

    def _get_eval_sampler(self, eval_dataset):
        if self.args.train_sampling_strategy != "group_by_length" or eval_dataset is None:
            return super()._get_eval_sampler(eval_dataset)
        import torch

        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        return self._grouped(eval_dataset, self.args.eval_batch_size, torch.Generator().manual_seed(seed))
