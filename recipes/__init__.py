"""Training entry points run with ``accelerate launch`` (sft.py, dpo.py) and their configs."""
