"""The GPU path on a pretend T4 and a pretend A100, against StandInUnsloth (tests/stand_in_unsloth.py): torch's CUDA
queries as they really answer there, and Unsloth 2026.10.9's GPU-path checks (the precision TypeError, Gemma 3 forced
to float32, Gemma 3 handed to FastModel, TRL's trainers replaced at import, the real signatures). The models behind
it are real and on the CPU: the twin for the Llama presets, Gemma 3 270M (the real-model lane) for t4-270m.
"""
import sys

import bitsandbytes  # noqa: F401  (imported before any pretend GPU, as on a real machine: it picks its backend
import peft  # noqa: F401      at import, and on a pretend GPU it would reach for CUDA kernels that are not here)
import pytest
import torch
import trl  # noqa: F401
from stand_in_unsloth import A100, T4, make_stand_in, pretend_gpu, unsloth_trainers

from gr_colab.config import ConfigError, GRConfig

T4_PRESETS = ["t4-270m", "t4-1b", "t4-3b"]


@pytest.fixture(scope="module")
def gemma_path():
    from gr_colab.models import resolve_model_path

    return resolve_model_path(GRConfig.load("cpu-270m"))


@pytest.fixture(scope="module")
def twin_path():
    from gr_colab.models import resolve_model_path

    return resolve_model_path(GRConfig.load("cpu-tiny"))


def colab_with(monkeypatch, gpu, twin_path, gemma_path):
    """A pretend GPU, then ``import unsloth`` as the Colab setup cell does it: the stand-in module, TRL's trainer
    classes replaced, and the kit's trainer modules imported afresh after it (so they subclass Unsloth's)."""

    pretend_gpu(monkeypatch, gpu)
    calls = []
    mod, chat = make_stand_in(twin_path, gemma_path, calls)
    monkeypatch.setitem(sys.modules, "unsloth", mod)
    monkeypatch.setitem(sys.modules, "unsloth.chat_templates", chat)
    for name, cls in unsloth_trainers().items():
        monkeypatch.setattr(trl, name, cls)
    for name in ("gr_colab.hsdpo", "gr_colab.modpo.trainer"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return calls


def rows():
    from conftest import SAMPLE

    from gr_colab.data import load_train

    return load_train(SAMPLE / "train" / "AegisTrainR.json").rows[:2]


def build_both(cfg, loaded, tmp_path):
    """The R-SFT and HS-DPO trainers exactly as the kit builds them for CUDA."""
    from datasets import Dataset

    import gr_colab.hsdpo as hsdpo
    from gr_colab.rsft import build_trainer
    from gr_colab.training import preference_rows

    sft = build_trainer(cfg, loaded, rows(), tmp_path / "rsft")
    pairs = [{"input": r["input"], "chosen": r["output"], "rejected": "no", "sample_weight": 1.1} for r in rows()]
    dpo = hsdpo.WeightedDPOTrainer(model=loaded.model, ref_model=None,
                                   args=hsdpo.dpo_config(cfg, tmp_path / "hsdpo", loaded.device),
                                   train_dataset=Dataset.from_list(preference_rows(pairs, cfg.prompt_format)),
                                   processing_class=loaded.tokenizer)
    return sft, dpo


@pytest.mark.slow
@pytest.mark.parametrize("preset", T4_PRESETS)
def test_every_t4_preset_builds_its_trainers_without_the_precision_error(preset, monkeypatch, tmp_path, twin_path,
                                                                          gemma_path, capsys):
    from gr_colab.models import load_model

    calls = colab_with(monkeypatch, T4, twin_path, gemma_path)
    cfg = GRConfig.load(preset, optim="adamw_torch", max_seq_length=256)
    loaded = load_model(cfg)
    assert loaded.backend == "unsloth" and loaded.device == "cuda"
    load = dict(calls)["from_pretrained"]
    assert load["model_name"] == cfg.model_name and load["max_seq_length"] == 256
    gemma = preset == "t4-270m"
    assert loaded.dtype == (torch.float32 if gemma else torch.float16)
    assert ("float32" if gemma else "float16") in loaded.describe()
    assert loaded.model._unsloth_handed_to == ("FastModel" if gemma else "FastLlamaModel")
    sft, dpo = build_both(cfg, loaded, tmp_path)
    for trainer in (sft, dpo):  # the generated Unsloth classes ran their precision check and let it through
        assert {c.__name__ for c in type(trainer).__mro__} & {"UnslothSFTTrainer", "UnslothDPOTrainer"}
        assert trainer.unsloth_precision == ({"fp16": False, "bf16": False} if gemma else
                                             {"fp16": True, "bf16": False})
    if gemma:
        assert "Using float16 precision for gemma3_text won't work! Using float32." in capsys.readouterr().out


@pytest.mark.slow
def test_the_stand_in_raises_what_unsloth_raises_for_bf16_on_an_fp16_model(monkeypatch, tmp_path, twin_path,
                                                                            gemma_path):
    """The check is live: the kit's old rule (``fp16 = not torch.cuda.is_bf16_supported()``, True on a T4 by
    emulation) asks for bf16, and Unsloth's trainer refuses it for a model loaded in fp16."""
    import gr_colab.rsft as rsft
    from gr_colab.models import load_model

    colab_with(monkeypatch, T4, twin_path, gemma_path)
    assert torch.cuda.is_bf16_supported() and not torch.cuda.is_bf16_supported(including_emulation=False)
    cfg = GRConfig.load("t4-1b", optim="adamw_torch", max_seq_length=256)
    loaded = load_model(cfg)
    old_rule = dict(fp16=not torch.cuda.is_bf16_supported(), bf16=torch.cuda.is_bf16_supported())
    real_device_args = rsft.device_args
    monkeypatch.setattr(rsft, "device_args", lambda c, d: {**real_device_args(c, d), **old_rule})
    with pytest.raises(TypeError, match="Model is in float16 precision but you want to use bfloat16"):
        rsft.build_trainer(cfg, loaded, rows(), tmp_path)


@pytest.mark.slow
def test_an_a100_gets_bf16(monkeypatch, tmp_path, twin_path, gemma_path):
    from gr_colab.models import load_model
    from gr_colab.training import device_args

    colab_with(monkeypatch, A100, twin_path, gemma_path)
    cfg = GRConfig.load("t4-1b", optim="adamw_torch", max_seq_length=256)
    assert (device_args(cfg, "cuda")["bf16"], device_args(cfg, "cuda")["fp16"]) == (True, False)
    loaded = load_model(cfg)
    assert loaded.dtype == torch.bfloat16
    sft, dpo = build_both(cfg, loaded, tmp_path)
    assert sft.unsloth_precision == dpo.unsloth_precision == {"fp16": False, "bf16": True}


def test_setup_reports_a_t4_without_bf16_and_gemma_in_float32(monkeypatch, tmp_path, capsys):
    from gr_colab import colab

    pretend_gpu(monkeypatch, T4)
    env = colab.setup(GRConfig.load("t4-270m", run_dir=str(tmp_path)), mount_drive=False)
    out = capsys.readouterr().out
    assert env.bf16 is False and "bf16 no: fp16" in out and "Tesla T4" in out
    assert "float32" in out and "overflows in float16" in out
    pretend_gpu(monkeypatch, A100)
    assert colab.setup(GRConfig.load("t4-1b", run_dir=str(tmp_path)), mount_drive=False).bf16 is True


def test_precision_rules():
    from gr_colab.precision import decide

    assert decide("unsloth/Llama-3.2-1B-Instruct", "cuda", (7, 5)).dtype == "float16"
    assert decide("unsloth/gemma-3-270m-it", "cuda", (7, 5)) .dtype == "float32"
    assert decide("gemma3_text", "cuda", (7, 5), "float16").dtype == "float32"  # an explicit fp16 too
    assert decide("unsloth/gemma-3-270m-it", "cuda", (8, 0)).bf16
    assert decide("unsloth/Meta-Llama-3.1-8B-Instruct", "cuda", (8, 6)).dtype == "bfloat16"
    assert decide("twin", "cpu").dtype == "float32"
    with pytest.raises(ConfigError, match="bfloat16 needs compute capability 8.0"):
        decide("unsloth/Llama-3.2-1B-Instruct", "cuda", (7, 5), "bfloat16")


def test_the_kits_calls_fit_the_real_signatures(monkeypatch, twin_path, gemma_path, tmp_path):
    """A keyword the real function does not name fails, even where the real one would swallow it in **kwargs."""
    from gr_colab import unsloth_backend

    calls = colab_with(monkeypatch, T4, twin_path, gemma_path)
    cfg = GRConfig.load("t4-1b", max_seq_length=128)
    model, tok = unsloth_backend.load(cfg, cfg.model_name, torch.float16)
    args = dict(calls)["get_peft_model"]
    assert (args["r"], args["lora_alpha"], args["lora_dropout"]) == (cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout)
    assert args["target_modules"] == cfg.target_modules and args["use_gradient_checkpointing"] == "unsloth"
    from unsloth import FastLanguageModel

    with pytest.raises(TypeError, match="not in the real signature"):
        FastLanguageModel.from_pretrained(model_name=cfg.model_name, load_in_4bits=True)  # a misspelt keyword


def test_inference_load_switches_unsloth_to_inference_mode(monkeypatch, twin_path, gemma_path, tmp_path):
    from gr_colab.models import load_model

    calls = colab_with(monkeypatch, T4, twin_path, gemma_path)
    load_model(GRConfig.load("t4-1b"), adapter=tmp_path, trainable=False)
    assert [c[0] for c in calls] == ["from_pretrained", "for_inference"]
    assert calls[0][1]["model_name"] == str(tmp_path)  # an adapter folder loads like a model name


@pytest.mark.slow
def test_rsft_on_unsloth_masks_responses_with_the_tokenizers_own_markers(monkeypatch, tmp_path, twin_path,
                                                                         gemma_path):
    from gr_colab.models import load_model
    from gr_colab.rsft import build_trainer

    calls = colab_with(monkeypatch, T4, twin_path, gemma_path)
    for preset, user, model in (("t4-1b", "<|start_header_id|>user<|end_header_id|>\n\n",
                                 "<|start_header_id|>assistant<|end_header_id|>\n\n"),
                                ("t4-270m", "<start_of_turn>user\n", "<start_of_turn>model\n")):
        cfg = GRConfig.load(preset, optim="adamw_torch", max_seq_length=256)
        build_trainer(cfg, load_model(cfg), rows(), tmp_path / preset)
        name, args = calls[-1]
        assert name == "train_on_responses_only"
        assert (args["instruction_part"], args["response_part"]) == (user, model)


# --- the fallback --------------------------------------------------------------------------------------------------
BROKEN_UNSLOTH = "raise ImportError('cannot import name fused_linear from unsloth_zoo (version drift)\\nsecond line')\n"


@pytest.fixture
def broken_unsloth(tmp_path, monkeypatch):
    """An installed unsloth package whose import raises (a drifted version): a real package on sys.path."""
    pkg = tmp_path / "site" / "unsloth"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(BROKEN_UNSLOTH)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "unsloth", raising=False)
    pretend_gpu(monkeypatch, T4)


def test_auto_falls_back_to_transformers_when_unsloth_does_not_import(broken_unsloth):
    from gr_colab.models import choose_backend

    backend, device, reason = choose_backend(GRConfig.load("t4-1b"))
    assert (backend, device) == ("transformers", "cuda")
    assert "Unsloth did not import (ImportError: cannot import name fused_linear" in reason
    assert "second line" not in reason and "slower" in reason  # the first line, and what it costs


def test_backend_unsloth_keeps_the_error_with_the_fix(broken_unsloth):
    from gr_colab.models import choose_backend

    with pytest.raises(ConfigError, match=r"does not import \(ImportError: cannot import name fused_linear.*"
                                          r"Restart session"):
        choose_backend(GRConfig.load("t4-1b", backend="unsloth"))


def test_a_gpu_preset_without_a_gpu_is_one_clear_error(monkeypatch):
    from gr_colab.models import choose_backend

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        choose_backend(GRConfig.load("t4-1b"))
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        choose_backend(GRConfig.load("t4-1b", backend="unsloth"))


def test_importing_the_kit_does_not_import_unsloth():
    """The transformers lane keeps stock TRL: with the real Unsloth installed, ``import gr_colab`` (off Colab, and on
    Colab without a GPU) must not load it, since it would patch TRL for the whole process."""
    import subprocess

    code = ("import sys, gr_colab, gr_colab.models, gr_colab.rsft, gr_colab.hsdpo; "
            "print('unsloth' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_trainable_tokens_are_refused_on_unsloth():
    """Unsloth's get_peft_model would take trainable_token_indices, but its merged save (what the export converts)
    writes LoRA and modules_to_save only: the trained rows would be lost, so the field is refused up front."""
    from gr_colab import unsloth_backend

    cfg = GRConfig.load("t4-270m", trainable_tokens=["<end_of_turn>"])
    with pytest.raises(ValueError, match="trainable_tokens: the Unsloth backend"):
        unsloth_backend.load(cfg, "unused", None)
