"""How SFT and DPO load the base model and hold the LoRA weights they train: one way for both.

The base model is loaded the way TRL's trainers load a model by name (4-bit when asked), except
that every multi-process run (DDP, DeepSpeed and FSDP) loads it with ``device_map=None``: each
process places its own copy, and FSDP shards it (with ``fsdp_cpu_ram_efficient_loading`` only rank 0
reads the weights). Nothing upcasts the base: norms and embeddings stay in the config's ``dtype``
(PEFT's ``prepare_model_for_kbit_training`` would make them float32 and mix dtypes in FSDP's
and ZeRO-3's flat parameters).

For a quantized model TRL's trainers cast the trainable LoRA weights to bf16. AdamW's step is about
the learning rate per weight, and bf16 keeps 8 significant bits, so at DPO's learning rates most
steps are smaller than half a bf16 unit of the weight they change and round away: the adapter does
not move (``benchmarks/RESULTS.md``). :func:`keep_trainable_weights_fp32` puts the trainable weights
back in float32, exactly as they were before the trainer was built (the forward still runs in the
compute dtype under ``bf16: true``). DeepSpeed is the exception: with bf16 on it keeps float32
master weights of its own and needs one dtype across its persistent parameters, so TRL's cast
stands there.
"""

from __future__ import annotations

import os
from pathlib import Path

from engage.errors import UserError

MULTI_PROCESS = ("MULTI_GPU", "MULTI_CPU", "DEEPSPEED", "FSDP")


def distributed_type(training_args) -> str:
    return str(getattr(training_args.distributed_state.distributed_type, "value", "NO"))


def model_init_kwargs(model_args, training_args) -> dict:
    kwargs = dict(
        revision=model_args.model_revision,
        attn_implementation=model_args.attn_implementation,
        dtype=model_args.dtype,
    )
    kwargs.update(training_args.model_init_kwargs or {})
    return kwargs


def resolve_local_model(model_args) -> None:
    """A base model in a local folder is recorded by its absolute path (in ``adapter_config.json`` and
    the card), so the adapter loads from any working directory; a hub id is left as it is."""
    path = Path(model_args.model_name_or_path).expanduser()
    if path.is_dir():
        model_args.model_name_or_path = str(path.resolve())


def load_base_model(model_args, training_args):
    """The base model, 4-bit when the config asks, placed for this run's kind of parallelism."""
    from trl import get_quantization_config
    from trl.trainer.utils import create_model_from_path

    kwargs = {k: v for k, v in model_init_kwargs(model_args, training_args).items() if v is not None}
    quant = get_quantization_config(model_args)
    if quant is not None:
        kwargs["quantization_config"] = quant
    if distributed_type(training_args) in MULTI_PROCESS:
        kwargs["device_map"] = None  # "auto" would spread one copy over all GPUs; FSDP shards it itself
    return create_model_from_path(model_args.model_name_or_path, **kwargs)


def adapter_snapshot(model) -> dict:
    """The trainable weights as they are now (before a trainer casts them), to restore after."""
    return {name: param.data for name, param in model.named_parameters() if param.requires_grad}


def keep_trainable_weights_fp32(trainer, snapshot: dict) -> None:
    """Undo TRL's bf16 cast of the trainable LoRA weights: float32 again, with the values they had
    before the trainer was built. Under FSDP 1 every flat parameter holds one dtype, so the frozen
    adapters (DPO's reference copy), which share a unit with the base weights, take the base's
    dtype; the trainable ones are wrapped on their own (PEFT's FSDP wrap policy)."""
    import torch

    if trainer.is_deepspeed_enabled:
        return
    model = trainer.model
    for name, param in model.named_parameters():
        if name in snapshot:
            param.data = snapshot[name].to(torch.float32)
    if trainer.is_fsdp_enabled:
        base_dtype = next(
            (p.dtype for n, p in model.named_parameters() if "lora_" not in n and p.is_floating_point()), None
        )
        for name, param in model.named_parameters():
            if "lora_" in name and not param.requires_grad and base_dtype is not None:
                param.data = param.data.to(base_dtype)


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


def check_chat_template(dataset, tokenizer, model: str) -> None:
    """Rows built with ``--format chat`` need a tokenizer with a chat template (a base model such as
    Mistral-7B-v0.1 has none): say so in one line instead of failing deep inside TRL."""
    sample = dataset["train"][0]
    conversational = isinstance(sample.get("prompt"), list)
    if conversational and not getattr(tokenizer, "chat_template", None):
        raise UserError(
            f"the dataset was built with --format chat, but {model} has no chat template: rebuild it with "
            "`engage build-dataset --format text` for a base model, or train a chat (instruct) model"
        )


def check_fsdp_qlora(model_args) -> None:
    """A 4-bit base under FSDP follows the documented FSDP-QLoRA path (PEFT's and bitsandbytes' guides):
    FSDP 1 with ``fsdp_use_orig_params: false``, and 4-bit weights stored in the compute dtype so FSDP
    can shard them. Read from what ``accelerate launch`` exports, before any model is loaded."""
    env = os.environ
    if not getattr(model_args, "load_in_4bit", False) or env.get("ACCELERATE_USE_FSDP", "").lower() != "true":
        return
    if env.get("FSDP_VERSION", "1") != "1":
        raise UserError(
            "FSDP 2 cannot shard a 4-bit base model: launch with recipes/accelerate/fsdp.yaml "
            "(fsdp_version: 1, fsdp_use_orig_params: false), or set load_in_4bit: false"
        )
    if env.get("FSDP_USE_ORIG_PARAMS", "false").lower() == "true":
        raise UserError("FSDP with a 4-bit base needs fsdp_use_orig_params: false in the accelerate config")
    storage, dtype = model_args.bnb_4bit_quant_storage, model_args.dtype
    if storage in (None, "uint8") or storage != dtype:
        raise UserError(
            f"FSDP with a 4-bit base needs bnb_4bit_quant_storage equal to dtype ({dtype}), not {storage}: "
            f"set bnb_4bit_quant_storage: {dtype} in the recipe config"
        )


def load_policy_from_sft(adapter: Path, model_args, training_args):
    """The base model (4-bit when asked) with the SFT adapter loaded as the trainable ``default`` adapter.

    Given a PeftModel with a pretrained adapter, TRL's DPOTrainer copies it into a frozen ``ref``
    adapter and uses that as the reference policy: the reference is the SFT policy, not the bare
    base model.
    """
    from peft import PeftModel

    return PeftModel.from_pretrained(load_base_model(model_args, training_args), str(adapter), is_trainable=True)
