"""QLoRA supervised fine-tuning on the SFT split of an engage dataset folder.

    accelerate launch recipes/sft.py --config recipes/mistral-7b/sft.yaml --dataset_dir data/ --output_dir runs/sft
    accelerate launch --config_file recipes/accelerate/cpu.yaml recipes/sft.py --config recipes/tiny/sft.yaml \\
        --model_name_or_path models/tiny --dataset_dir data/ --output_dir runs/sft

Every key of the YAML config is a TRL SFTConfig / ModelConfig field or `dataset_dir`; an
unknown key is an error. Command-line flags override the config. A killed run resumes from its
last checkpoint when launched again with the same output_dir.
"""

import sys

from engage.quiet import quiet_libraries

if __name__ == "__main__":
    quiet_libraries()  # before the libraries load: some speak while loading
    from engage.training import run_recipe

    sys.exit(run_recipe("sft"))
