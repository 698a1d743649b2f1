"""The Unsloth module against a stand-in (`import unsloth` needs a GPU, which this machine lacks).

StandInUnsloth mirrors the signatures of Unsloth's documented API (FastLanguageModel.from_pretrained /
get_peft_model / for_inference, unsloth.chat_templates.train_on_responses_only, PatchDPOTrainer,
model.save_pretrained_merged); every call the kit makes is bound against them, so a renamed or missing argument fails
here. What it returns is the CPU twin, so the kit's code after the call runs for real.
"""
import importlib.machinery
import inspect
import sys
import types
from pathlib import Path

import pytest
import torch

from gr_colab.config import GRConfig

CALLS = []


def _record(fn):
    sig = inspect.signature(fn)

    def wrapper(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)  # raises TypeError when the kit's call does not fit the documented API
        CALLS.append((fn.__name__, dict(bound.arguments)))
        return fn(*args, **kwargs)
    return wrapper


def make_stand_in(twin_path: str):
    """A module named unsloth with the documented signatures; named StandInUnsloth so no one mistakes it."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gr_colab.training import lora_config

    class FastLanguageModel:
        @staticmethod
        @_record
        def from_pretrained(model_name="unsloth/Llama-3.2-1B-Instruct", max_seq_length=2048, dtype=None,
                            load_in_4bit=True, load_in_8bit=False, full_finetuning=False, token=None,
                            device_map="sequential", **kwargs):
            return AutoModelForCausalLM.from_pretrained(twin_path), AutoTokenizer.from_pretrained(twin_path)

        @staticmethod
        @_record
        def get_peft_model(model, r=16, target_modules=None, lora_alpha=16, lora_dropout=0, bias="none",
                           layers_to_transform=None, layers_pattern=None, use_gradient_checkpointing="unsloth",
                           random_state=3407, max_seq_length=2048, use_rslora=False, modules_to_save=None,
                           init_lora_weights=True, loftq_config={}, **kwargs):
            return get_peft_model(model, lora_config(GRConfig.load("cpu-tiny")))

        @staticmethod
        @_record
        def for_inference(model):
            return model

    @_record
    def PatchDPOTrainer():
        return None

    @_record
    def train_on_responses_only(trainer, instruction_part=None, response_part=None, force_match=True,
                                tokenizer=None, return_function=False, num_proc=None):
        return trainer

    mod = types.ModuleType("unsloth")
    mod.__doc__ = "StandInUnsloth: a test double for the unsloth package"
    mod.__spec__ = importlib.machinery.ModuleSpec("unsloth", None)
    mod.FastLanguageModel, mod.PatchDPOTrainer = FastLanguageModel, PatchDPOTrainer
    chat = types.ModuleType("unsloth.chat_templates")
    chat.__spec__ = importlib.machinery.ModuleSpec("unsloth.chat_templates", None)
    chat.train_on_responses_only = train_on_responses_only
    mod.chat_templates = chat
    return mod, chat


@pytest.fixture
def stand_in(monkeypatch, twin):
    mod, chat = make_stand_in(twin.model_path)
    monkeypatch.setitem(sys.modules, "unsloth", mod)
    monkeypatch.setitem(sys.modules, "unsloth.chat_templates", chat)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a pretend T4: CUDA, no bf16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    CALLS.clear()
    return CALLS


def test_t4_load_is_unsloth_4bit_fp16_with_lora(stand_in):
    from gr_colab.models import load_model

    cfg = GRConfig.load("t4-1b")
    loaded = load_model(cfg)
    assert loaded.backend == "unsloth" and "Unsloth" in loaded.reason
    name, args = stand_in[0]
    assert name == "from_pretrained"
    assert args["model_name"] == "unsloth/Llama-3.2-1B-Instruct" and args["load_in_4bit"] is True
    assert args["dtype"] == torch.float16 and args["max_seq_length"] == cfg.max_seq_length  # never bf16 on a T4
    name, args = stand_in[1]
    assert name == "get_peft_model"
    assert (args["r"], args["lora_alpha"], args["lora_dropout"]) == (cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout)
    assert args["target_modules"] == cfg.target_modules and args["use_gradient_checkpointing"] == "unsloth"


def test_inference_load_switches_unsloth_to_inference_mode(stand_in, tmp_path):
    from gr_colab.models import load_model

    load_model(GRConfig.load("t4-1b"), adapter=tmp_path, trainable=False)
    assert [c[0] for c in stand_in] == ["from_pretrained", "for_inference"]
    assert stand_in[0][1]["model_name"] == str(tmp_path)  # an adapter folder loads like a model name


def test_rsft_on_unsloth_masks_responses_with_the_tokenizers_own_markers(stand_in, tmp_path):
    from gr_colab.data import load_train
    from gr_colab.models import load_model
    from gr_colab.rsft import build_trainer
    from conftest import SAMPLE

    cfg = GRConfig.load("t4-1b", optim="adamw_torch")
    loaded = load_model(cfg)
    loaded.device = "cpu"  # the stand-in's model really is on the CPU
    rows = load_train(SAMPLE / "train" / "AegisTrainR.json").rows[:2]
    build_trainer(cfg, loaded, rows, tmp_path)
    name, args = stand_in[-1]
    assert name == "train_on_responses_only"
    assert args["instruction_part"] == "<|start_header_id|>user<|end_header_id|>\n\n"
    assert args["response_part"] == "<|start_header_id|>assistant<|end_header_id|>\n\n"


def test_merged_save_and_dpo_patch(stand_in, tmp_path):
    from gr_colab import unsloth_backend

    class ModelWithMergedSave:
        @_record
        def save_pretrained_merged(self, save_directory, tokenizer=None, save_method="merged_16bit",
                                   push_to_hub=False, token=None, **kwargs):
            Path(save_directory).mkdir(parents=True)

    unsloth_backend.save_merged(ModelWithMergedSave(), "tok", str(tmp_path / "m"))
    unsloth_backend.patch_dpo()
    assert stand_in[0][1]["save_method"] == "merged_16bit" and stand_in[0][1]["tokenizer"] == "tok"
    assert stand_in[1][0] == "PatchDPOTrainer"


def test_a_gpu_preset_without_a_gpu_is_one_clear_error(monkeypatch):
    from gr_colab.config import ConfigError
    from gr_colab.models import choose_backend

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        choose_backend(GRConfig.load("t4-1b"))
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        choose_backend(GRConfig.load("t4-1b", backend="unsloth"))
