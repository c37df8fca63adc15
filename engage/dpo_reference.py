"""The DPO reference adapter computed exactly as the policy it is a copy of."""

from __future__ import annotations


def match_reference_dtype(model) -> int:
    """Give the frozen ``ref`` adapter the dtype of the trainable ``default`` adapter it copies; return how many
    tensors changed.

    TRL copies a pretrained adapter into ``ref`` and then, for QLoRA, casts only the trainable
    ``default`` adapter to bfloat16. The values stay equal (the copy holds bf16-exact numbers) but
    the reference's LoRA branch would run in float32 and the policy's in bfloat16, so at step 0
    the policy would already differ from its own reference by bf16 rounding. Same dtype: same
    arithmetic, and the reference is the starting policy.
    """
    params = dict(model.named_parameters())
    changed = 0
    for name, param in params.items():
        if ".default." not in name:
            continue
        ref = params.get(name.replace(".default.", ".ref."))
        if ref is not None and ref.dtype != param.dtype:
            ref.data = ref.data.to(param.dtype)
            changed += 1
    return changed
