"""The CPU twin: built offline in seconds, cached, a Llama-3-style chat format, llama.cpp-friendly sizes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gr_colab import twin
from gr_colab.prompts import INSTRUCTION, format_input, user_content

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
GUARD_INPUT = format_input("How do I pick a lock?  (asking for a friend)\tthanks", "I can't help with that.\n")


def corpus() -> list[str]:
    texts = twin.default_corpus()
    for f in sorted((SAMPLE / "benchmarks").glob("*.json"))[:3]:
        texts += [r["input"] for r in json.loads(f.read_text())[:40]]
    return texts


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = tmp_path_factory.mktemp("twin-cache")
    return cache, twin.build_twin(cache, corpus())


@pytest.fixture(scope="module")
def tok(built):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(built[1]))


def test_folder_holds_a_safetensors_model_and_both_tokenizer_files(built):
    path = built[1]
    names = {p.name for p in path.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer.model",
            "tokenizer_config.json", twin.MARKER} <= names
    assert not any(n.endswith((".bin", ".pt", ".pth")) for n in names)
    assert json.loads((path / "tokenizer_config.json").read_text())["add_prefix_space"] is False


def test_second_call_reuses_the_cache(built, monkeypatch):
    cache, path = built
    mtime = (path / twin.MARKER).stat().st_mtime_ns

    def no_rebuild(*a, **k):
        raise AssertionError("rebuilt a cached twin")

    monkeypatch.setattr(twin, "_build_into", no_rebuild)
    assert twin.build_twin(cache, corpus()) == path
    assert (path / twin.MARKER).stat().st_mtime_ns == mtime


def test_another_corpus_or_size_is_another_twin(built, tmp_path, monkeypatch):
    cache, path = built
    calls = []
    monkeypatch.setattr(twin, "_build_into", lambda out, texts, sizes: calls.append(sizes))
    other = twin.build_twin(tmp_path, corpus() + ["one more line"])
    bigger = twin.build_twin(tmp_path, corpus(), intermediate_size=768)
    assert len(calls) == 2 and len({other.name, bigger.name, path.name}) == 3


def test_an_interrupted_build_is_never_picked_up(tmp_path, monkeypatch):
    def crash(out, texts, sizes):
        (out / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(twin, "_build_into", crash)
    with pytest.raises(KeyboardInterrupt):
        twin.build_twin(tmp_path, ["some text"])
    assert list(tmp_path.iterdir()) == []  # neither a finished-looking folder nor a temp one left behind


def test_sizes_are_checked():
    with pytest.raises(ValueError, match="multiples of 256"):
        twin.build_twin("/nonexistent", ["x"], hidden_size=200)
    with pytest.raises(ValueError, match="empty"):
        twin.build_twin("/nonexistent", [])


def test_guard_prompt_round_trips_exactly(tok):
    for text in (INSTRUCTION, user_content(GUARD_INPUT), "  two leading spaces, trailing\n\n", "é中🙂\x00\r\n"):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text
    assert tok("hi")["input_ids"][0] == tok.bos_token_id  # Llama-3-style: the tokenizer adds BOS


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\u2581"), max_size=80))
def test_any_text_round_trips(tok, text):
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text


def test_chat_template_is_llama3_style_and_keeps_content(tok):
    content = user_content(GUARD_INPUT)
    assert GUARD_INPUT.endswith("\n\n") and not content.endswith("\n")  # stripped as a trimming template would
    prompt = tok.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                     add_generation_prompt=True)
    assert prompt == ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n" + content
                      + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    full = tok.apply_chat_template([{"role": "user", "content": content}, {"role": "assistant", "content": "A\n"}],
                                   tokenize=False)
    assert full.endswith("<|start_header_id|>assistant<|end_header_id|>\n\nA\n<|eot_id|>")
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    assert ids[:2] == [tok.bos_token_id, tok.convert_tokens_to_ids("<|start_header_id|>")]
    assert tok.decode(ids) == prompt


def test_special_tokens_are_single_tokens(tok):
    for t in twin.SPECIAL_TOKENS[1:]:
        assert tok(t, add_special_tokens=False)["input_ids"] == [tok.convert_tokens_to_ids(t)], t
    assert tok.bos_token == "<|begin_of_text|>" and tok.eos_token == "<|eot_id|>"
    assert tok.pad_token == "<|finetune_right_pad_id|>" and tok.pad_token_id != tok.eos_token_id


def test_tokenizer_json_agrees_with_the_sentencepiece_model(built, tok):
    """llama.cpp tokenizes with tokenizer.model's pieces and scores; transformers with tokenizer.json."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(built[1] / "tokenizer.model"))
    for text in corpus()[:200] + [user_content(GUARD_INPUT), "naïve café — 東京 🙂 x²"]:
        assert sp.encode(text) == tok(text, add_special_tokens=False)["input_ids"]


def test_every_weight_row_suits_the_k_quants(built):
    from safetensors import safe_open

    with safe_open(str(built[1] / "model.safetensors"), "pt") as f:
        shapes = {k: f.get_slice(k).get_shape() for k in f.keys()}
        dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}
    assert dtypes == {"F32"}
    assert "lm_head.weight" in shapes and len(shapes) == 2 + 9 * 2 + 1
    bad = {k: s for k, s in shapes.items() if s[-1] % 256}
    assert not bad


def test_model_runs_forward_and_generate(built, tok):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(built[1]))
    assert model.dtype == torch.float32 and model.config.vocab_size % 256 == 0
    assert model.generation_config.eos_token_id == tok.eos_token_id
    assert model.generation_config.pad_token_id == tok.pad_token_id
    prompt = tok.apply_chat_template([{"role": "user", "content": user_content(GUARD_INPUT)}], tokenize=False,
                                     add_generation_prompt=True)
    ids = torch.tensor([tok(prompt, add_special_tokens=False)["input_ids"]])
    with torch.inference_mode():
        logits = model(ids).logits
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=8, do_sample=False)
    assert logits.shape == (1, ids.shape[1], model.config.vocab_size)
    assert out.shape[1] > ids.shape[1]


def test_same_seed_same_weights(tmp_path):
    from safetensors.torch import load_file

    a = load_file(str(twin.build_twin(tmp_path / "a", ["hello world"] * 3) / "model.safetensors"))
    b = load_file(str(twin.build_twin(tmp_path / "b", ["hello world"] * 3) / "model.safetensors"))
    c = load_file(str(twin.build_twin(tmp_path / "c", ["hello world"] * 3, seed=1) / "model.safetensors"))
    assert all((a[k] == b[k]).all() for k in a)
    assert not (a["model.embed_tokens.weight"] == c["model.embed_tokens.weight"]).all()
