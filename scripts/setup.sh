#!/usr/bin/env bash
# Sets up the CPU twin's environment in .venv from the repo's own files: the pinned libraries, the kit itself
# (editable), and llama.cpp's converter and quantizer for the export stage. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip
echo "== installing requirements-cpu.txt (torch 2.13.0 CPU, transformers, TRL, PEFT, ...)"
"$PY" -m pip install --quiet -r requirements-cpu.txt
# Unsloth and unsloth_zoo at the Colab pins (read from requirements.txt), --no-deps as on Colab: their declared
# dependencies would pull torchvision, xformers and triton (CUDA builds). Without a GPU, `import unsloth` loads its CPU
# backend; the tests run it in processes of their own (tests/test_unsloth_real.py), never in the kit's own process.
echo "== installing Unsloth (--no-deps, the pins of requirements.txt)"
"$PY" -m pip install --quiet --no-deps $(grep -E '^unsloth(_zoo)?==' requirements.txt | sed 's/ *#.*//')
echo "== installing gr_colab (editable)"
"$PY" -m pip install --quiet --no-deps -e .
if [ -f scripts/install_llamacpp.sh ]; then
  echo "== installing llama.cpp's converter and llama-cpp-python"
  PY="$PY" bash scripts/install_llamacpp.sh
fi
sha256sum requirements-cpu.txt requirements.txt pyproject.toml scripts/setup.sh scripts/install_llamacpp.sh > "$VENV/.gr_colab_installed"
echo "== environment ready: $VENV"
