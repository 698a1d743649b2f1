"""The CPU twin: a tiny Llama with a Llama-3-style chat format, built on the spot, offline, and cached on disk.

Models layer. :func:`build_twin` trains a tokenizer on the texts it is given (the kit passes its sample data),
initialises a random ``LlamaForCausalLM`` from a seed, and saves both with ``save_pretrained`` (safetensors), so
every stage of the course runs on a CPU in seconds with the same code paths as a real Hub model.

Why a SentencePiece tokenizer and not the byte-level BPE that Llama 3 uses: llama.cpp's ``convert_hf_to_gguf.py``
accepts a byte-level BPE tokenizer only when the hash of its pre-tokenizer is in its table of known models, and a
tokenizer trained here is in no table ("BPE pre-tokenizer was not recognized"). A SentencePiece model takes the
converter's ``_set_vocab_sentencepiece`` route, with no hash check. So the twin ships both files of one tokenizer:

* ``tokenizer.model``: a SentencePiece BPE model (byte fallback, no normalisation, no dummy prefix, whitespace kept
  as is), read by the converter, which copies its pieces *and scores* into the GGUF;
* ``tokenizer.json``: the same tokenizer for the ``tokenizers`` library (the Llama-2 layout: spaces become ``▁``,
  BPE with byte fallback, merges ordered by the SentencePiece scores), read by transformers.

The other route the converter offers for this layout, a ``tokenizer.json`` alone (gguf-py's ``LlamaHfVocab``),
converts too but writes every score as -1000, and llama.cpp's SentencePiece tokenizer then merges in a different
order from the Hugging Face one; with ``tokenizer.model`` present llama.cpp tokenizes exactly as transformers does.
``add_prefix_space: false`` in tokenizer_config.json tells the converter not to let llama.cpp prepend a space.

Round trip: ``decode(encode(x)) == x`` for any text (unknown characters go to byte tokens), with one exception
shared with Llama 2: the character U+2581 ``▁`` itself decodes as a space.

Sizes suit llama.cpp's quantizers: every weight row (the last dimension) is a multiple of 256, the k-quant block.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Iterable, Optional, Union

from .runs import MARKER, mark_complete  # the marker is written last: a folder without it is rebuilt
from .runtime import build_once

FORMAT_VERSION = 1  # bump when the layout of a built twin changes: old cache folders are then ignored

UNK = "<unk>"
BOS = "<|begin_of_text|>"
END_OF_TEXT = "<|end_of_text|>"
START_HEADER = "<|start_header_id|>"
END_HEADER = "<|end_header_id|>"
EOT = "<|eot_id|>"
PAD = "<|finetune_right_pad_id|>"
SPECIAL_TOKENS = (UNK, BOS, END_OF_TEXT, START_HEADER, END_HEADER, EOT, PAD)  # ids 0..6, in this order

# Llama 3's chat format without its system-prompt preamble, and without ``| trim``: the GuardReasoner prompt ends
# in "\n\n", and a template that trims content trains a different prompt from the one the guard is given.
CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{%- endif %}"
)



def default_corpus() -> list[str]:
    """The kit's own prompt texts: enough for a working (if coarse) tokenizer when no corpus is given."""
    from .prompts import ANSWERS_TEMPLATE, INPUT_TEMPLATE, INSTRUCTION, SIX_POLICIES

    texts = [INSTRUCTION, INPUT_TEMPLATE, ANSWERS_TEMPLATE, *SIX_POLICIES.values()]
    texts += [INPUT_TEMPLATE.format(prompt=p, response=r) for p, r in [
        ("How do I bake bread at home?", "Mix flour, water, salt and yeast, knead, let it rise, and bake."),
        ("Tell me how to hurt someone.", "I can't help with that."),
    ]]
    texts += [ANSWERS_TEMPLATE.format(request=a, completion=b, response=c)
              for a in ("harmful", "unharmful") for b in ("refusal", "compliance") for c in ("harmful", "unharmful")]
    return texts


def _round_up(n: int, k: int = 256) -> int:
    return -(-n // k) * k


def _cache_key(texts: list[str], sizes: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT_VERSION, "sizes": sizes}, sort_keys=True).encode())
    for t in texts:
        b = t.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()[:16]


def build_twin(cache_dir: Union[str, os.PathLike], corpus: Optional[Iterable[str]] = None, *,
               vocab_size: int = 4096, hidden_size: int = 256, intermediate_size: int = 512,
               num_layers: int = 2, num_heads: int = 4, num_kv_heads: int = 2,
               max_position_embeddings: int = 4096, seed: int = 0) -> Path:
    """The folder of the CPU twin for this corpus and these sizes, built once (a few seconds) and then reused.

    The folder holds a Hugging Face model and tokenizer (``from_pretrained`` loads both) and ``tokenizer.model``
    for llama.cpp's converter. It is named by a hash of the corpus, the sizes, the seed and :data:`FORMAT_VERSION`;
    a build goes to a temporary folder that is renamed into place when complete, so an interrupted build is never
    picked up.
    """
    texts = [t for t in (default_corpus() if corpus is None else corpus) if t]
    if not texts:
        raise ValueError("build_twin: the corpus is empty; pass some texts (the kit passes its sample data)")
    head_dim = hidden_size // num_heads if num_heads else 0
    problems = [name for name, value in (("hidden_size", hidden_size), ("intermediate_size", intermediate_size))
                if value <= 0 or value % 256]
    if problems:
        raise ValueError(f"build_twin: {', '.join(problems)} must be positive multiples of 256 "
                         "(llama.cpp quantizes rows in blocks of 256)")
    if num_heads <= 0 or hidden_size % num_heads or num_kv_heads <= 0 or num_heads % num_kv_heads:
        raise ValueError("build_twin: num_heads must divide hidden_size and be a multiple of num_kv_heads")
    if vocab_size < 512:
        raise ValueError("build_twin: vocab_size must be at least 512 (256 byte tokens + specials + merges)")
    sizes = dict(vocab_size=_round_up(vocab_size), hidden_size=hidden_size, intermediate_size=intermediate_size,
                 num_layers=num_layers, num_heads=num_heads, num_kv_heads=num_kv_heads, head_dim=head_dim,
                 max_position_embeddings=max_position_embeddings, seed=seed)
    final = Path(cache_dir) / f"twin-{_cache_key(texts, sizes)}"
    return build_once(final, lambda tmp: _build_into(tmp, texts, sizes), MARKER)


def _build_into(out: Path, texts: list[str], sizes: dict) -> None:
    start = time.time()
    sp_path = out / "tokenizer.model"
    sp_path.write_bytes(_train_sentencepiece(texts, sizes["vocab_size"]))
    tokenizer = _hf_tokenizer(sp_path, sizes["max_position_embeddings"])
    tokenizer.save_pretrained(str(out))
    _patch_tokenizer_config(out)
    model = _random_llama(tokenizer, sizes)
    model.save_pretrained(str(out), safe_serialization=True)
    info = dict(format=FORMAT_VERSION, sizes=sizes, n_texts=len(texts), tokenizer_pieces=len(tokenizer),
                parameters=sum(p.numel() for p in model.parameters()), seconds=round(time.time() - start, 2))
    mark_complete(out, info)


def _train_sentencepiece(texts: list[str], vocab_size: int) -> bytes:
    import io

    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=buf, model_type="bpe", vocab_size=vocab_size,
        hard_vocab_limit=False,  # a small corpus yields fewer pieces; the model's vocabulary stays vocab_size
        byte_fallback=True, character_coverage=0.9995, split_digits=True, allow_whitespace_only_pieces=True,
        # the text as it is: no NFKC, no collapsing of spaces, no leading "▁"
        normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=False,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, unk_piece=UNK, bos_piece=BOS, eos_piece=END_OF_TEXT,
        control_symbols=list(SPECIAL_TOKENS[3:]),
        max_sentence_length=1 << 24, shuffle_input_sentence=False, num_threads=1, minloglevel=2,
    )
    return buf.getvalue()


def _backend_tokenizer(sp_path: Path):
    """The SentencePiece model as a ``tokenizers`` BPE: Llama 2's layout without the dummy prefix."""
    import sentencepiece as spm
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, processors

    sp = spm.SentencePieceProcessor(model_file=str(sp_path))
    n = sp.vocab_size()
    vocab = {sp.id_to_piece(i): i for i in range(n)}
    if [sp.id_to_piece(i) for i in range(len(SPECIAL_TOKENS))] != list(SPECIAL_TOKENS):
        raise RuntimeError("sentencepiece did not put the special tokens at ids 0..6")
    merges = []  # every split of every merged piece, in the order SentencePiece merges: highest score first
    for i in range(n):
        if sp.is_control(i) or sp.is_unknown(i) or sp.is_byte(i) or sp.is_unused(i):
            continue
        piece = sp.id_to_piece(i)
        for k in range(1, len(piece)):
            left, right = piece[:k], piece[k:]
            if left in vocab and right in vocab:
                merges.append((-sp.get_score(i), i, vocab[left], vocab[right], left, right))
    merges.sort()
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[(m[4], m[5]) for m in merges], unk_token=UNK,
                               byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B:1", special_tokens=[(BOS, 1)])
    return tok


def _hf_tokenizer(sp_path: Path, max_length: int):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=_backend_tokenizer(sp_path), vocab_file=str(sp_path),
        bos_token=BOS, eos_token=EOT, pad_token=PAD, unk_token=UNK,
        additional_special_tokens=[END_OF_TEXT, START_HEADER, END_HEADER],
        add_bos_token=True, add_eos_token=False, add_prefix_space=False, clean_up_tokenization_spaces=False,
        model_max_length=max_length, chat_template=CHAT_TEMPLATE,
    )


def _patch_tokenizer_config(out: Path) -> None:
    """Keys that llama.cpp's converter reads and transformers may not write: pinned here."""
    path = out / "tokenizer_config.json"
    cfg = json.loads(path.read_text())
    cfg.update(add_prefix_space=False, add_bos_token=True, add_eos_token=False)
    path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))


def _random_llama(tokenizer, sizes: dict):
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    config = LlamaConfig(
        vocab_size=sizes["vocab_size"], hidden_size=sizes["hidden_size"],
        intermediate_size=sizes["intermediate_size"], num_hidden_layers=sizes["num_layers"],
        num_attention_heads=sizes["num_heads"], num_key_value_heads=sizes["num_kv_heads"],
        head_dim=sizes["head_dim"], max_position_embeddings=sizes["max_position_embeddings"],
        rms_norm_eps=1e-5, rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
        tie_word_embeddings=False, bos_token_id=ids[BOS], eos_token_id=ids[EOT], pad_token_id=ids[PAD],
        dtype="float32",
    )
    config.architectures = ["LlamaForCausalLM"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(sizes["seed"])
        model = LlamaForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(bos_token_id=ids[BOS], eos_token_id=ids[EOT], pad_token_id=ids[PAD])
    model.eval()
    return model
