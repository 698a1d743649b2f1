"""llama.cpp's own tools for the export stage: its converter (HF folder → GGUF f16/q8_0), its quantizer (→ q4_k_m),
and its runtime (to load a GGUF back and check it).

Export layer. Nothing here writes GGUF by hand: the converter is ``convert_hf_to_gguf.py`` run with the ``gguf-py``
shipped beside it, both unpacked from the llama-cpp-python sdist by ``scripts/install_llamacpp.sh`` (the PyPI
wheel of llama-cpp-python has no converter); quantizing and loading go through the ``llama_cpp`` package built from
that same sdist, so converter, quantizer and runtime are one llama.cpp version.
"""
from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Optional, Union

from . import runtime  # read at call time: the Drive paths are the runtime's (tests move them)
from .progress import run_with_progress
from .runtime import REPO_ROOT, atomic_path

VERSION = "0.3.36"  # llama-cpp-python; its sdist vendors the llama.cpp whose converter is used
ENV_VAR = "GR_COLAB_LLAMA_CPP"
INSTALL_HINT = "bash scripts/install_llamacpp.sh"
CONVERTER = "convert_hf_to_gguf.py"
CONVERTER_TYPES = ("f32", "f16", "bf16", "q8_0")  # written by the converter itself
# llama_ftype values (llama.h) for what llama_model_quantize makes from an f16/f32 GGUF
QUANT_TYPES = {"q4_0": 2, "q8_0": 7, "q4_k_s": 14, "q4_k_m": 15, "q5_k_s": 16, "q5_k_m": 17, "q6_k": 18}

log = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]


def _candidates(search) -> list[Path]:
    if search is not None:
        return [Path(p) for p in ([search] if isinstance(search, (str, os.PathLike)) else search)]
    found = [Path(os.environ[ENV_VAR])] if os.environ.get(ENV_VAR) else []
    local = Path(".cache") / f"llama.cpp-{VERSION}"
    return found + [Path.cwd() / local, REPO_ROOT / local]


def find_converter(search: Optional[Union[PathLike, Iterable[PathLike]]] = None) -> Path:
    """The path of ``convert_hf_to_gguf.py`` (with ``gguf-py/`` beside it).

    Looks in ``search`` when given (a folder, the script itself, or several), else in ``$GR_COLAB_LLAMA_CPP``, then
    ``.cache/llama.cpp-0.3.36`` under the working folder and under the repository.
    """
    tried = []
    for place in _candidates(search):
        script = place if place.name == CONVERTER else place / CONVERTER
        tried.append(str(script))
        if script.is_file() and (script.parent / "gguf-py" / "gguf").is_dir():
            return script.resolve()
    raise FileNotFoundError(f"llama.cpp's converter ({CONVERTER} with gguf-py/ beside it) was not found; looked "
                            f"for {', '.join(tried)}. Install it with `{INSTALL_HINT}` (or point ${ENV_VAR} at a "
                            "folder that has it).")


def ensure_tools(run=None) -> Path:
    """llama.cpp's converter and quantizer, installed when they are missing on Colab; elsewhere a clear error.

    On Colab the kit's own ``scripts/install_llamacpp.sh`` runs (one route for every machine: the sdist's converter,
    no compile, for f16 and q8_0; the quantizer for q4_k_m compiles llama.cpp once, about 8 minutes on Colab's 2
    cores) into a folder on Drive when Drive is mounted, so after a reconnect the built wheel is reinstalled in
    seconds instead of compiled again. The wheel is portable (``-DGGML_NATIVE=OFF``) and carries a record of what
    it was built for; the next VM rebuilds it when the record does not match (:mod:`gr_colab.llamacpp_build`).
    Its output is streamed as progress (a line every 30 s during the download and the compile).
    """
    missing = None
    try:
        script = find_converter()
        _llama_cpp()
        return script
    except (FileNotFoundError, ImportError) as exc:
        missing = exc
    if not runtime.in_colab():
        raise missing
    drive = runtime.DRIVE_ROOT
    dest = os.environ.get(ENV_VAR) or (f"{runtime.DRIVE_RUNS}/llama.cpp-{VERSION}" if os.path.ismount(drive) or
                                       Path(drive, "MyDrive").is_dir() else f"/content/llama.cpp-{VERSION}")
    print(f"llama.cpp is not installed ({missing}). Installing it into {dest}: the converter takes a minute; the "
          "quantizer compiles once (about 8 minutes on Colab, a progress line every 30 s), for any x86-64 CPU with "
          "AVX2 (not only this VM's), and the build is kept there, with what it was built for, for the next session.",
          flush=True)
    env = {**os.environ, ENV_VAR: dest, "PY": sys.executable}
    cmd = ["bash", str(REPO_ROOT / "scripts" / "install_llamacpp.sh")]
    if run is not None:
        run(cmd, env)
    else:
        with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
            for line in proc.stdout:  # progress, as the script prints it
                print(line.rstrip(), flush=True)
        if proc.returncode:
            raise RuntimeError(f"installing llama.cpp failed (exit {proc.returncode}); see the lines above. "
                               "docs/troubleshooting.md has the common causes (disk, cmake).")
    os.environ[ENV_VAR] = dest
    importlib.invalidate_caches()
    return find_converter()


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def convert_to_gguf(hf_dir: PathLike, out_path: PathLike, outtype: str = "f16", *,
                    converter: Optional[PathLike] = None, timeout: Optional[float] = None) -> Path:
    """Convert a saved HF model folder to one GGUF file with llama.cpp's converter (a subprocess).

    ``outtype``: f16, q8_0 (or f32, bf16). The file appears at ``out_path`` only when the converter succeeded.
    """
    if outtype not in CONVERTER_TYPES:
        raise ValueError(f"outtype {outtype!r}: the converter writes {', '.join(CONVERTER_TYPES)}; "
                         f"use quantize_gguf for {', '.join(QUANT_TYPES)}")
    hf_dir, out_path = Path(hf_dir), Path(out_path)
    if not (hf_dir / "config.json").is_file():
        raise FileNotFoundError(f"{hf_dir} is not a saved Hugging Face model folder (no config.json)")
    _warn_if_tokenizer_model_missing(hf_dir)
    script = find_converter(converter)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(script.parent / "gguf-py")] + ([env["PYTHONPATH"]]
                                                                           if env.get("PYTHONPATH") else []))
    env.pop("NO_LOCAL_GGUF", None)
    with atomic_path(out_path) as partial:
        cmd = [sys.executable, str(script), str(hf_dir), "--outfile", str(partial), "--outtype", outtype]
        try:  # a minute or more for a 1B model: a progress line every 30 s, its last output line in it
            code, output = run_with_progress(cmd, f"converting to GGUF ({outtype})", env=env, timeout=timeout)
        except TimeoutError as exc:
            raise RuntimeError(f"llama.cpp's converter did not finish in {timeout} s") from exc
        if code != 0 or not partial.is_file():
            raise RuntimeError(f"llama.cpp's converter failed (exit {code}) on {hf_dir} → {outtype}:\n"
                               f"{_tail(output)}")
    return out_path


def _warn_if_tokenizer_model_missing(hf_dir: Path) -> None:
    """A SentencePiece-layout tokenizer.json (byte fallback) converts without tokenizer.model, but then every
    score in the GGUF is -1000 and llama.cpp merges tokens in another order than transformers does."""
    tj = hf_dir / "tokenizer.json"
    if (hf_dir / "tokenizer.model").is_file() or not tj.is_file():
        return
    try:
        model = json.loads(tj.read_text(encoding="utf-8")).get("model", {})
    except (OSError, ValueError):
        return
    if model.get("type") == "BPE" and model.get("byte_fallback"):
        log.warning("%s has a SentencePiece-style tokenizer.json but no tokenizer.model: the GGUF will tokenize "
                    "text differently from transformers; copy tokenizer.model from the base model folder first",
                    hf_dir)


def _llama_cpp():
    try:
        import llama_cpp
    except ImportError as exc:
        raise ImportError(f"llama_cpp (llama-cpp-python {VERSION}) is not installed; run `{INSTALL_HINT}`") from exc
    return llama_cpp


@contextlib.contextmanager
def _quiet(enabled: bool):
    """Silence llama.cpp's C-level logging to stdout/stderr (llama-cpp-python's own helper, when it has one)."""
    try:
        from llama_cpp._utils import suppress_stdout_stderr
    except ImportError:
        suppress_stdout_stderr = None
    if enabled and suppress_stdout_stderr is not None:
        with suppress_stdout_stderr(disable=False):
            yield
    else:
        yield


def quantize_gguf(src: PathLike, dst: PathLike, kind: str = "q4_k_m", *, nthread: int = 0,
                  verbose: bool = False) -> Path:
    """Quantize an f16/f32 GGUF with llama.cpp's quantizer (``llama_model_quantize``); q4_k_m by default."""
    key = kind.lower()
    if key not in QUANT_TYPES:
        raise ValueError(f"kind {kind!r}: choose from {', '.join(QUANT_TYPES)}")
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise FileNotFoundError(src)
    llama_cpp = _llama_cpp()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANT_TYPES[key]
    params.nthread = nthread
    with atomic_path(dst) as partial:
        with _quiet(not verbose):
            rc = llama_cpp.llama_model_quantize(str(src).encode(), str(partial).encode(), ctypes.byref(params))
        if rc != 0 or not partial.is_file():
            raise RuntimeError(f"llama.cpp could not quantize {src} to {kind} (llama_model_quantize returned {rc}); "
                               "rerun with verbose=True to see its log")
    return dst


def load_gguf(path: PathLike, n_ctx: int = 512, *, logits_all: bool = True, verbose: bool = False,
              n_threads: Optional[int] = None, **kwargs):
    """A ``llama_cpp.Llama`` on this GGUF file.

    ``logits_all=True`` (the default) keeps every position's logits in ``llm.scores`` after ``llm.eval(ids)``,
    which the checks read; llama-cpp-python 0.3.x leaves ``scores`` empty otherwise. It costs n_ctx × n_vocab
    floats, so keep ``n_ctx`` small or pass ``logits_all=False`` for plain generation.
    """
    llama_cpp = _llama_cpp()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(path)
    return llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, logits_all=logits_all, verbose=verbose,
                           n_threads=n_threads or max(1, os.cpu_count() or 1), seed=0, **kwargs)


def render_chat(template: str, messages: list, bos_token: str, eos_token: str) -> str:
    """The prompt text llama-cpp-python's chat handler builds from a GGUF's own ``tokenizer.chat_template`` (its
    Jinja2ChatFormatter: the transformers-compatible environment, with ``strftime_now`` giving today's date)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(template, eos_token=eos_token, bos_token=bos_token,
                               add_generation_prompt=True)(messages=messages).prompt


def gguf_chat_template(path: PathLike) -> Optional[str]:
    """The ``tokenizer.chat_template`` a GGUF carries (None when it has none), read without loading the weights."""
    llama_cpp = _llama_cpp()
    with _quiet(True):
        llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    try:
        return (llm.metadata or {}).get("tokenizer.chat_template")
    finally:
        llm.close()
