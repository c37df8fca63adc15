"""DPO batching: the padded length we group by is the one TRL's collator pads to, sorted full batches never pad
more than any other order, and the recipe's trainer really batches pairs of similar length."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage.training.dpo_batches import padding_cost, pair_lengths

ids = st.lists(st.integers(min_value=3, max_value=90), min_size=0, max_size=40)
pairs = st.lists(st.tuples(ids, ids, ids), min_size=1, max_size=60)


@given(pairs, st.one_of(st.none(), st.integers(min_value=1, max_value=64)))
def test_pair_length_is_what_trls_collator_pads_to(rows, max_length):
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    rows = [(p, c or [5], r or [6]) for p, c, r in rows]  # the trainer drops pairs with an empty post
    collator = DataCollatorForPreference(pad_token_id=0, max_length=max_length)
    batch = collator([{"prompt_ids": p, "chosen_ids": c, "rejected_ids": r} for p, c, r in rows])
    lengths = pair_lengths(*zip(*rows, strict=True), max_length)
    assert batch["input_ids"].shape == (2 * len(rows), max(lengths))
    cut = max_length or 10**9
    real = sum(min(len(p) + len(c), cut) + min(len(p) + len(r), cut) for p, c, r in rows)
    assert int(batch["attention_mask"].sum()) == real


@given(
    st.integers(min_value=1, max_value=16).flatmap(
        lambda b: st.tuples(st.just(b), st.lists(st.integers(1, 500), min_size=b, max_size=12 * b))
    ),
    st.randoms(use_true_random=False),
)
def test_sorted_full_batches_pad_no_more_than_any_other_order(batch_and_lengths, rnd):
    batch_size, lengths = batch_and_lengths
    lengths = lengths[: len(lengths) // batch_size * batch_size]  # full batches (a short last batch breaks the rule)
    order = list(range(len(lengths)))
    rnd.shuffle(order)
    slots = padding_cost(lengths, order, batch_size)
    sorted_slots = padding_cost(lengths, sorted(order, key=lengths.__getitem__), batch_size)
    assert 2 * sum(lengths) <= sorted_slots <= slots
    if len(set(lengths)) == 1 or batch_size == 1:
        assert slots == 2 * sum(lengths)


def test_the_dpo_recipe_batches_pairs_of_similar_length(tiny_base, tmp_path):
    """The trainer the recipe builds, on the sample's pairs: grouped batches pad far less than random ones."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig

    from engage.training.dpo_batches import LengthGroupedDPOTrainer
    from engage.training.inputs import load_splits

    data, model_dir = tiny_base
    dataset = load_splits(str(data), "dpo")["train"]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    waste = {}
    for strategy in ("random", "group_by_length"):
        torch.manual_seed(0)
        args = DPOConfig(output_dir=str(tmp_path / strategy), per_device_train_batch_size=8, use_cpu=True,
                         bf16=False, report_to="none", train_sampling_strategy=strategy, max_length=160)  # fmt: skip
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        trainer = LengthGroupedDPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
        slots = real = seen = 0
        for batch in trainer.get_train_dataloader():
            slots += batch["attention_mask"].numel()
            real += int(batch["attention_mask"].sum())
            seen += batch["input_ids"].shape[0] // 2
        assert seen == len(trainer.train_dataset)  # every pair once per epoch, grouped or not
        waste[strategy] = 1 - real / slots
    # What is left when grouped is mostly the gap between a pair's two posts, which TRL pads within the pair.
    assert waste["random"] > 0.3
    assert waste["group_by_length"] < waste["random"] / 2


@pytest.mark.parametrize("batch_size", [1, 4, 16])
def test_padding_cost_counts_both_sequences_of_a_pair(batch_size):
    lengths = [random.Random(batch_size).randint(5, 80) for _ in range(33)]
    expected = sum(
        2 * len(lengths[i : i + batch_size]) * max(lengths[i : i + batch_size])
        for i in range(0, len(lengths), batch_size)
    )
    assert padding_cost(lengths, range(len(lengths)), batch_size) == expected
