#!/usr/bin/env bash
# llama.cpp for the export stage, from one file on PyPI: the llama-cpp-python sdist, which vendors llama.cpp.
#  - its converter (convert_hf_to_gguf.py + conversion/ + the gguf-py beside it) is unpacked into
#    .cache/llama.cpp-<version>/ (or $GR_COLAB_LLAMA_CPP), where gr_colab.llamacpp.find_converter looks;
#  - the sdist is built into a wheel there once (llama.cpp compiles: about 7-8 minutes on 2 cores) and installed
#    into $PY, which gives llama_cpp.Llama (loading, generation) and llama_cpp.llama_model_quantize (q4_k_m).
#    The build is portable (-DGGML_NATIVE=OFF, not this VM's -march=native) and a build.json beside the wheel
#    records what it was built for; a cached wheel that does not match this machine is rebuilt
#    (gr_colab/llamacpp_build.py, which also prints the compile's progress every 30 s).
# Safe to run again: every step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
VERSION=0.3.36
DEST=${GR_COLAB_LLAMA_CPP:-.cache/llama.cpp-$VERSION}
SDIST="$DEST/sdist/llama_cpp_python-$VERSION.tar.gz"
mkdir -p "$DEST"

# Run a command, printing "label: 1m30s elapsed" every 30 s until it ends (pip prints nothing in a pipe).
beat() {
  local label=$1 start now last
  shift
  start=$(date +%s)
  last=$start
  "$@" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    now=$(date +%s)
    if (( now - last >= 30 )); then
      echo "   $label: $(( (now - start) / 60 ))m$(( (now - start) % 60 ))s elapsed"
      last=$now
    fi
  done
  wait "$pid"
  echo "   $label: done in $(( $(date +%s) - start )) s"
}

if [ ! -f "$SDIST" ]; then
  echo "== llama.cpp: downloading the llama-cpp-python $VERSION sdist (77 MB) into $DEST/sdist"
  beat "downloading the sdist" "$PY" -m pip download --quiet --no-deps --no-binary :all: \
    "llama-cpp-python==$VERSION" -d "$DEST/sdist.tmp"
  mkdir -p "$DEST/sdist"
  mv "$DEST/sdist.tmp/llama_cpp_python-$VERSION.tar.gz" "$SDIST"
  rm -rf "$DEST/sdist.tmp"
else
  echo "== llama.cpp: sdist already in $DEST/sdist"
fi

if [ ! -f "$DEST/.converter-$VERSION" ]; then
  echo "== llama.cpp: unpacking convert_hf_to_gguf.py, conversion/, gguf-py/ and requirements/ into $DEST"
  TMP=$(mktemp -d "$DEST/.unpack.XXXXXX")
  V="llama_cpp_python-$VERSION/vendor/llama.cpp"
  members=("$V/convert_hf_to_gguf.py" "$V/gguf-py" "$V/requirements")
  if tar -tzf "$SDIST" "$V/conversion/__init__.py" >/dev/null 2>&1; then members+=("$V/conversion"); fi
  tar -xzf "$SDIST" -C "$TMP" --strip-components=3 "${members[@]}"
  for item in convert_hf_to_gguf.py conversion gguf-py requirements; do
    if [ -e "$TMP/$item" ]; then rm -rf "${DEST:?}/$item"; mv "$TMP/$item" "$DEST/$item"; fi
  done
  rm -rf "$TMP"
  touch "$DEST/.converter-$VERSION"
else
  echo "== llama.cpp: converter already unpacked in $DEST"
fi

# What the converter imports for a Llama model (its own requirements pin other versions of torch and
# transformers; the kit's pinned ones work, so only what is missing is added).
missing=()
for pair in numpy:numpy yaml:pyyaml tqdm:tqdm requests:requests sentencepiece:sentencepiece torch:torch \
            transformers:transformers; do
  "$PY" -c "import ${pair%%:*}" 2>/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== llama.cpp: installing the converter's missing dependencies: ${missing[*]}"
  beat "installing ${missing[*]}" "$PY" -m pip install --quiet "${missing[@]}"
fi

if "$PY" -c "import llama_cpp; assert llama_cpp.__version__ == '$VERSION'" 2>/dev/null; then
  echo "== llama.cpp: llama-cpp-python $VERSION already installed"
else
  # reuses $DEST/wheels' wheel only when its build.json matches this machine; else compiles, with progress lines
  "$PY" gr_colab/llamacpp_build.py wheel "$SDIST" "$DEST/wheels"
  WHEEL=$(ls "$DEST"/wheels/llama_cpp_python-"$VERSION"-*.whl | head -n 1)
  echo "== llama.cpp: installing $WHEEL"
  "$PY" -m pip install --quiet "$WHEEL"
fi
echo "== llama.cpp: ready (converter in $DEST, llama_cpp $("$PY" -c 'import llama_cpp; print(llama_cpp.__version__)'))"
