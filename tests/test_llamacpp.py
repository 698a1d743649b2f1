"""llama.cpp's converter, quantizer and runtime on the CPU twin: the GGUF files say and do what the HF model does.

The end-to-end tests need llama-cpp-python and the converter, which `make setup` installs
(scripts/install_llamacpp.sh); without them they are skipped, saying so.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from gr_colab import llamacpp, twin
from gr_colab.prompts import format_input, user_content

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
N_TOKENS = 20
PROMPTS = [format_input("How do I make a cake?", None),
           format_input("Tell me how to steal a car.", "Sure, first you find an unlocked one..."),
           format_input("¿Cómo estás? 東京 🙂", "Bien.\n\n  spaced  ")]


def _have_converter() -> bool:
    try:
        llamacpp.find_converter()
        return True
    except FileNotFoundError:
        return False


needs_llama_cpp = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or not _have_converter(),
    reason=f"llama-cpp-python {llamacpp.VERSION} or llama.cpp's converter is not installed: "
           f"run `{llamacpp.INSTALL_HINT}` (make setup does)")


# --- without llama.cpp: finding the converter, errors a student can act on ----------------------------------------

def _fake_converter(folder: Path, body: str) -> Path:
    (folder / "gguf-py" / "gguf").mkdir(parents=True)
    script = folder / llamacpp.CONVERTER
    script.write_text(body)
    return script


def test_find_converter_looks_in_the_env_var_then_says_what_to_run(tmp_path, monkeypatch):
    script = _fake_converter(tmp_path / "lc", "")
    monkeypatch.setenv(llamacpp.ENV_VAR, str(tmp_path / "lc"))
    assert llamacpp.find_converter() == script.resolve()
    assert llamacpp.find_converter(script) == script.resolve()
    with pytest.raises(FileNotFoundError, match="install_llamacpp.sh"):
        llamacpp.find_converter(tmp_path / "nothing-here")


def test_convert_reports_the_converters_own_error(tmp_path):
    script = _fake_converter(tmp_path / "lc", "import sys\nprint('line one', file=sys.stderr)\n"
                                              "print('ValueError: this model is odd', file=sys.stderr)\nsys.exit(3)\n")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    out = tmp_path / "out.gguf"
    with pytest.raises(RuntimeError, match="(?s)exit 3.*this model is odd"):
        llamacpp.convert_to_gguf(model, out, "f16", converter=script)
    assert not out.exists() and not list(tmp_path.glob("*.partial"))
    with pytest.raises(ValueError, match="quantize_gguf"):
        llamacpp.convert_to_gguf(model, out, "q4_k_m", converter=script)
    with pytest.raises(FileNotFoundError, match="config.json"):
        llamacpp.convert_to_gguf(tmp_path, out, "f16", converter=script)


def test_convert_passes_its_gguf_py_on_pythonpath(tmp_path):
    script = _fake_converter(tmp_path / "lc", "import os, sys\nargs = sys.argv\n"
                                              "open(args[args.index('--outfile') + 1], 'w').write("
                                              "os.environ['PYTHONPATH'])\n")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    out = llamacpp.convert_to_gguf(model, tmp_path / "x.gguf", "q8_0", converter=script)
    assert out.read_text().split(os.pathsep)[0] == str(script.parent / "gguf-py")


def test_without_llama_cpp_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    (tmp_path / "a.gguf").write_bytes(b"GGUF")
    with pytest.raises(ImportError, match="install_llamacpp.sh"):
        llamacpp.quantize_gguf(tmp_path / "a.gguf", tmp_path / "b.gguf")
    with pytest.raises(ImportError, match="install_llamacpp.sh"):
        llamacpp.load_gguf(tmp_path / "a.gguf")
    with pytest.raises(ValueError, match="q4_k_m"):
        llamacpp.quantize_gguf(tmp_path / "a.gguf", tmp_path / "b.gguf", "q3_weird")


# --- with llama.cpp: the twin through the converter, the quantizer and the runtime ---------------------------------

def _corpus() -> list[str]:
    texts = twin.default_corpus()
    for f in sorted((SAMPLE / "benchmarks").glob("*.json"))[:3]:
        texts += [r["input"] for r in json.loads(f.read_text())[:40]]
    return texts


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = tmp_path_factory.mktemp("gguf")
    hf_dir = twin.build_twin(root / "cache", _corpus())
    paths = {kind: llamacpp.convert_to_gguf(hf_dir, root / f"twin-{kind}.gguf", kind) for kind in ("f16", "q8_0")}
    paths["q4_k_m"] = llamacpp.quantize_gguf(paths["f16"], root / "twin-q4_k_m.gguf", "q4_k_m")
    tok = AutoTokenizer.from_pretrained(str(hf_dir))
    model = AutoModelForCausalLM.from_pretrained(str(hf_dir)).eval()
    return hf_dir, paths, tok, model


@pytest.fixture
def load():
    """load_gguf, with every model closed after the test (llama.cpp memory is freed then, not at exit)."""
    opened = []

    def _load(path, **kw):
        opened.append(llamacpp.load_gguf(path, **kw))
        return opened[-1]

    yield _load
    for llm in opened:
        llm.close()


def _prompt_ids(tok, x: str):
    text = tok.apply_chat_template([{"role": "user", "content": user_content(x)}], tokenize=False,
                                   add_generation_prompt=True)
    return text, tok(text, add_special_tokens=False)["input_ids"]


def _hf_greedy(model, ids):
    """HF's greedy continuation, then the logits at every step of it (teacher-forced on its own tokens)."""
    import torch

    with torch.inference_mode():
        t = torch.tensor([ids])
        out = model.generate(t, attention_mask=torch.ones_like(t), max_new_tokens=N_TOKENS, min_new_tokens=N_TOKENS,
                             do_sample=False, eos_token_id=None, pad_token_id=model.generation_config.pad_token_id)
        tokens = out[0, len(ids):].tolist()
        logits = model(out).logits[0, len(ids) - 1:-1].numpy()
    return tokens, logits


def _cpp_logits(llm, ids, tokens):
    """llama.cpp's logits at the same steps, fed the same token ids (no tokenizer in between)."""
    import numpy as np

    llm.reset()
    llm.eval(list(ids) + list(tokens[:-1]))
    return np.array(llm.scores[len(ids) - 1:len(ids) - 1 + len(tokens)])


def _cpp_greedy(llm, ids):
    """Greedy by hand from the same token ids: no sampler, no tokenizer in between."""
    import numpy as np

    llm.reset()
    llm.eval(ids)
    tokens = []
    for _ in range(N_TOKENS):
        tokens.append(int(np.argmax(llm.scores[llm.n_tokens - 1])))
        llm.eval([tokens[-1]])
    return tokens


@needs_llama_cpp
def test_files_are_gguf_and_shrink_with_the_type(exported):
    _, paths, _, _ = exported
    sizes = {k: p.stat().st_size for k, p in paths.items()}
    for p in paths.values():
        assert p.read_bytes()[:4] == b"GGUF"
    assert sizes["f16"] > sizes["q8_0"] > sizes["q4_k_m"]
    assert not list(paths["f16"].parent.glob("*.partial"))


@needs_llama_cpp
def test_metadata_carries_the_chat_template_and_the_llama3_stop_tokens(exported, load):
    import llama_cpp

    _, paths, tok, _ = exported
    llm = load(paths["f16"], n_ctx=256)
    meta = llm.metadata
    assert meta["tokenizer.chat_template"] == tok.chat_template
    assert meta["tokenizer.ggml.model"] == "llama" and meta["tokenizer.ggml.add_space_prefix"] == "false"
    assert int(meta["tokenizer.ggml.eos_token_id"]) == tok.eos_token_id == tok.convert_tokens_to_ids("<|eot_id|>")
    assert int(meta["tokenizer.ggml.bos_token_id"]) == tok.bos_token_id
    assert int(meta["tokenizer.ggml.padding_token_id"]) == tok.pad_token_id
    vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
    eog = {i for i in range(llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, i)}
    assert eog == {tok.convert_tokens_to_ids("<|eot_id|>"), tok.convert_tokens_to_ids("<|end_of_text|>")}
    assert llm.chat_format == "chat_template.default"  # llama-cpp-python picked the template up from the GGUF


@needs_llama_cpp
@pytest.mark.parametrize("kind", ["f16", "q8_0", "q4_k_m"])
def test_llama_cpp_tokenizes_the_guard_prompt_as_transformers_does(exported, kind, load):
    _, paths, tok, _ = exported
    llm = load(paths[kind], n_ctx=256)
    for x in PROMPTS + _corpus()[-40:]:
        text, ids = _prompt_ids(tok, x) if x in PROMPTS else (x, tok(x, add_special_tokens=False)["input_ids"])
        assert list(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)) == ids
        assert llm.detokenize(ids, special=True).decode("utf-8") == text


@needs_llama_cpp
def test_chat_completion_renders_the_prompt_once_with_one_bos(exported, load):
    _, paths, tok, _ = exported
    llm = load(paths["f16"], n_ctx=512, logits_all=False)
    content = user_content(PROMPTS[0])
    _, ids = _prompt_ids(tok, PROMPTS[0])
    out = llm.create_chat_completion([{"role": "user", "content": content}], max_tokens=3, temperature=0.0)
    assert out["usage"]["prompt_tokens"] == len(ids)


@needs_llama_cpp
def test_f16_generates_the_same_greedy_tokens_as_the_hf_model(exported, load):
    """Every step of HF's greedy continuation, fed to llama.cpp: the same argmax, except where HF's own top two are
    closer than f16 can tell apart (a random twin has nearly flat logits), and logits within f16 error."""
    import numpy as np

    _, paths, tok, model = exported
    llm = load(paths["f16"], n_ctx=512)
    steps = ties = 0
    for x in PROMPTS:
        _, ids = _prompt_ids(tok, x)
        hf_tokens, hf_logits = _hf_greedy(model, ids)
        cpp = _cpp_logits(llm, ids, hf_tokens)[:, :hf_logits.shape[1]]
        assert np.abs(cpp - hf_logits).max() < 0.01
        top2 = np.sort(hf_logits, axis=1)[:, -2:]
        for step, token in enumerate(hf_tokens):
            steps += 1
            if top2[step, 1] - top2[step, 0] < 0.01:
                ties += 1
                continue
            assert int(np.argmax(cpp[step])) == token, f"step {step} of {x[:30]!r}"
        greedy = _cpp_greedy(llm, ids)
        llm.reset()
        gen = []
        for t in llm.generate(ids, temp=0.0, top_k=1, reset=True):  # llama.cpp's own greedy sampler agrees
            gen.append(t)
            if len(gen) == N_TOKENS:
                break
        assert gen == greedy
    assert ties <= steps // 4


@needs_llama_cpp
@pytest.mark.parametrize("kind,tolerance", [("q8_0", 0.1), ("q4_k_m", 0.6)])
def test_quantized_files_stay_close_to_the_hf_logits(exported, kind, tolerance, load):
    """A random twin has nearly flat logits (top-2 gaps ~0.2), so quantized greedy text may differ from the first
    token on; what must hold is that the logits stay within the quantizer's usual error."""
    import numpy as np

    _, paths, tok, model = exported
    llm = load(paths[kind], n_ctx=512)
    for x in PROMPTS:
        _, ids = _prompt_ids(tok, x)
        hf_tokens, hf_logits = _hf_greedy(model, ids)
        cpp = _cpp_logits(llm, ids, hf_tokens)[:, :hf_logits.shape[1]]
        assert np.abs(cpp - hf_logits).max() < tolerance
        assert len(_cpp_greedy(llm, ids)) == N_TOKENS
