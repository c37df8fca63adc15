#!/usr/bin/env bash
# The whole kit on the bundled sample, on a CPU, from a fresh machine: set up, write the sample
# archive, build the datasets, build a tiny local model, QLoRA SFT then DPO through
# `accelerate launch`, generate candidates from both into a review store, and open the review app
# (with --headless: print the review summary instead of serving). No GPU, no download beyond the
# package registries.
# Usage: bash scripts/demo.sh [--headless] [demo folder]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# The CPU build of PyTorch first, so nothing later pulls a multi-GB CUDA build.
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
HEADLESS=0
if [ "${1:-}" = "--headless" ]; then HEADLESS=1; shift; fi
DEMO=${1:-demo}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q "$TORCH_SPEC"
python -m pip install -q -e ".[train,review]"
export TOKENIZERS_PARALLELISM=false

mkdir -p "$DEMO"
engage sample-archive "$DEMO/sample-archive.zip" --posts 3000 --seed 0 --force
engage build-dataset "$DEMO/sample-archive.zip" --out "$DEMO/data" --force
engage tiny-model --dataset_dir "$DEMO/data" --out "$DEMO/models/tiny" --force
rm -rf "$DEMO/runs"
accelerate launch -q --config_file recipes/accelerate/cpu.yaml recipes/sft.py --config recipes/tiny/sft.yaml \
  --model_name_or_path "$DEMO/models/tiny" --dataset_dir "$DEMO/data" --output_dir "$DEMO/runs/sft" \
  --eval_strategy epoch --disable_tqdm true
accelerate launch -q --config_file recipes/accelerate/cpu.yaml recipes/dpo.py --config recipes/tiny/dpo.yaml \
  --model_name_or_path "$DEMO/models/tiny" --dataset_dir "$DEMO/data" --sft_adapter "$DEMO/runs/sft" \
  --output_dir "$DEMO/runs/dpo" --eval_strategy epoch --disable_tqdm true
rm -f "$DEMO/engage.db" "$DEMO/engage.db-wal" "$DEMO/engage.db-shm"
engage generate --adapter "$DEMO/runs/sft" --label sft-v1 --n 20 --store "$DEMO/engage.db"
engage generate --adapter "$DEMO/runs/dpo" --label dpo-v1 --n 20 --store "$DEMO/engage.db"

echo
echo "sample archive:  $DEMO/sample-archive.zip"
echo "datasets:        $DEMO/data/sft/{train,test}.jsonl  $DEMO/data/dpo/{train,test}.jsonl"
echo "every post:      $DEMO/data/posts.parquet"
echo "dataset card:    $DEMO/data/README.md"
echo "tiny model:      $DEMO/models/tiny"
echo "SFT adapter:     $DEMO/runs/sft  (eval: $DEMO/runs/sft/eval_results.json, card: README.md)"
echo "DPO adapter:     $DEMO/runs/dpo  (eval: $DEMO/runs/dpo/eval_results.json, card: README.md)"
echo "review store:    $DEMO/engage.db  (40 candidates from sft-v1 and dpo-v1, waiting for you)"
echo
if [ "$HEADLESS" = 1 ]; then
  engage review --store "$DEMO/engage.db" --headless
else
  echo "Opening the review app at http://127.0.0.1:7860 (Ctrl-C to stop). Then:"
  echo "  engage export --store $DEMO/engage.db --out $DEMO/approved.csv"
  echo "  engage report --store $DEMO/engage.db --out $DEMO/report"
  engage review --store "$DEMO/engage.db"
fi
