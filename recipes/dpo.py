"""DPO on the DPO split of an engage dataset folder, continuing from the SFT adapter.

    accelerate launch recipes/dpo.py --config recipes/mistral-7b/dpo.yaml --dataset_dir data/ \\
        --sft_adapter runs/sft --output_dir runs/dpo

The SFT adapter is trained further, and a frozen copy of it is the reference policy (so DPO
measures its preferences against the SFT model, not the bare base). Only the trained adapter and
the tokenizer are saved. Every YAML key is a TRL DPOConfig / ModelConfig field, `dataset_dir` or
`sft_adapter`; an unknown key is an error.
"""

import sys

from engage.quiet import quiet_libraries

if __name__ == "__main__":
    quiet_libraries()  # before the libraries load: some speak while loading
    from engage.training import run_recipe

    sys.exit(run_recipe("dpo"))
