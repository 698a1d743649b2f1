#!/usr/bin/env bash
# A second environment, .venv-trl115, that differs from the kit's .venv by one package: trl 1.15.0 instead of
# 1.14.2 (the top of the range the pinned Unsloth accepts, trl<=1.15.0). tests/test_trl115.py runs the HS-DPO and
# MODPO loss tests in it.
#
# How: a fresh venv from .venv's own interpreter gets trl==1.15.0 (--no-deps: its requirements, accelerate>=1.4,
# datasets>=4.7, transformers>=4.56.2, jinja2 and packaging, are met by the pins) in its own site-packages, then a
# .pth file adds .venv's site-packages behind it. So torch 2.13.0 (the CPU build from disk), every other pin of
# requirements-cpu.txt and the kit's editable install are the very files .venv has, with nothing to download or
# build but one wheel, and trl 1.15.0 comes first on sys.path. Why not a full install of requirements-cpu.txt: it
# would copy ~2 GB and minutes of CI time to get the same files, and two copies of a pin can drift apart.
# Needs .venv (make setup). Safe to run again. Usage: bash scripts/make_trl115_env.sh [folder, default .venv-trl115]
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${BASE_VENV:-.venv}
VENV=${1:-${TRL115_VENV:-.venv-trl115}}
TRL_VERSION=1.15.0
if [ -f "$VENV/.trl115_installed" ] && [ "$(cat "$VENV/.trl115_installed")" = "$TRL_VERSION" ]; then
  echo "== $VENV is ready (trl $TRL_VERSION over $BASE)"
  exit 0
fi
if [ ! -x "$BASE/bin/python" ]; then
  echo "make_trl115_env: $BASE/bin/python not found: run 'make setup' first (this environment reuses $BASE)" >&2
  exit 2
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV (the interpreter of $BASE)"
  "$BASE/bin/python" -m venv --without-pip "$VENV"
fi
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
BASE_SITE=$("$BASE/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
rm -f "$SITE/_base_venv.pth"  # installed first, while the venv sees only itself: pip then never touches $BASE
echo "== installing trl==$TRL_VERSION into $VENV (no dependencies: the rest is $BASE's)"
"$BASE/bin/python" -m pip install --quiet --no-deps --upgrade --target "$SITE" "trl==$TRL_VERSION"
# `site.addsitedir` (not a bare path line) also runs .venv's own .pth files: the kit's editable install among them
echo "import site; site.addsitedir('$(cd "$BASE_SITE" && pwd)')" > "$SITE/_base_venv.pth"
"$VENV/bin/python" - "$TRL_VERSION" <<'EOF'
import sys

import torch
import transformers
import trl

import gr_colab

assert trl.__version__ == sys.argv[1], f"trl {trl.__version__} is first on sys.path, not {sys.argv[1]}"
print(f"== trl {trl.__version__} ({trl.__file__}), transformers {transformers.__version__}, torch {torch.__version__}, "
      f"gr_colab from {gr_colab.__file__}")
EOF
echo "$TRL_VERSION" > "$VENV/.trl115_installed"
echo "== environment ready: $VENV (python: $VENV/bin/python)"
