#!/usr/bin/env bash
# The whole kit on the bundled sample, on a CPU, from a fresh machine: set up, write the sample
# archive, build the datasets, build a tiny local model, QLoRA SFT then DPO through
# `accelerate launch`. No GPU, no download beyond the package registry.
# Usage: bash scripts/demo.sh [demo folder]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# The CPU build of PyTorch first, so nothing later pulls a multi-GB CUDA build.
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
DEMO=${1:-demo}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q "$TORCH_SPEC"
python -m pip install -q -e ".[train]"
export TOKENIZERS_PARALLELISM=false

mkdir -p "$DEMO"
engage sample-archive "$DEMO/sample-archive.zip" --posts 3000 --seed 0 --force
engage build-dataset "$DEMO/sample-archive.zip" --out "$DEMO/data" --force
engage tiny-model --dataset_dir "$DEMO/data" --out "$DEMO/models/tiny" --force
rm -rf "$DEMO/runs"
accelerate launch --config_file recipes/accelerate/cpu.yaml recipes/sft.py --config recipes/tiny/sft.yaml \
  --model_name_or_path "$DEMO/models/tiny" --dataset_dir "$DEMO/data" --output_dir "$DEMO/runs/sft" \
  --eval_strategy epoch --disable_tqdm true
accelerate launch --config_file recipes/accelerate/cpu.yaml recipes/dpo.py --config recipes/tiny/dpo.yaml \
  --model_name_or_path "$DEMO/models/tiny" --dataset_dir "$DEMO/data" --sft_adapter "$DEMO/runs/sft" \
  --output_dir "$DEMO/runs/dpo" --eval_strategy epoch --disable_tqdm true

echo
echo "sample archive:  $DEMO/sample-archive.zip"
echo "datasets:        $DEMO/data/sft/{train,test}.jsonl  $DEMO/data/dpo/{train,test}.jsonl"
echo "every post:      $DEMO/data/posts.parquet"
echo "dataset card:    $DEMO/data/README.md"
echo "tiny model:      $DEMO/models/tiny"
echo "SFT adapter:     $DEMO/runs/sft  (eval: $DEMO/runs/sft/eval_results.json, card: README.md)"
echo "DPO adapter:     $DEMO/runs/dpo  (eval: $DEMO/runs/dpo/eval_results.json, card: README.md)"
