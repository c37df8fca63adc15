#!/usr/bin/env bash
# From a fresh machine to TRL-ready datasets built from the bundled sample archive (no GPU,
# no download beyond the package registry). Usage: bash scripts/demo.sh [demo folder]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
DEMO=${1:-demo}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e .

mkdir -p "$DEMO"
engage sample-archive "$DEMO/sample-archive.zip" --posts 3000 --seed 0 --force
engage build-dataset "$DEMO/sample-archive.zip" --out "$DEMO/data" --force

echo
echo "sample archive:  $DEMO/sample-archive.zip"
echo "datasets:        $DEMO/data/sft/{train,test}.jsonl  $DEMO/data/dpo/{train,test}.jsonl"
echo "every post:      $DEMO/data/posts.parquet"
echo "dataset card:    $DEMO/data/README.md"
