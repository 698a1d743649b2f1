"""StandInUnsloth and a pretend GPU: what Unsloth 2026.10.9's GPU path and torch's CUDA queries really do, for the
tests that need a GPU this machine lacks. (The real Unsloth's CPU backend runs in tests/test_unsloth_real.py.)

Every behaviour cites the line it mirrors (unsloth / unsloth_zoo 2026.10.9, torch 2.13). The signatures are not
retyped: they are read with ``ast`` from the installed unsloth package's own source, and a keyword the real function
does not name is a TypeError here, even where the real one has ``**kwargs`` that would swallow it.
"""
from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import types
from pathlib import Path

import torch

from gr_colab.precision import fp16_unsafe

T4 = dict(name="Tesla T4", capability=(7, 5), memory=15_828_320_256)
A100 = dict(name="NVIDIA A100-SXM4-40GB", capability=(8, 0), memory=42_298_834_944)


def pretend_gpu(monkeypatch, gpu: dict) -> None:
    """torch's CUDA queries as they answer on that GPU. ``is_bf16_supported(including_emulation=True)`` is the real
    signature and its default counts emulation: on a T4 (7.5) it makes a bf16 tensor and returns True
    (torch/cuda/__init__.py ``is_bf16_supported``, ``_check_bf16_tensor_supported``); only
    ``including_emulation=False`` says False there. ``set_device`` returns None as on a real device (transformers'
    TrainingArguments calls it)."""
    cap = gpu["capability"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: cap)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: gpu["name"])
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda device=None: types.SimpleNamespace(total_memory=gpu["memory"], major=cap[0],
                                                                  minor=cap[1], name=gpu["name"]))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                        lambda including_emulation=True: True if including_emulation else cap[0] >= 8)


# --- the real signatures, read from the installed source ---------------------------------------------------------
def _source(relative: str) -> ast.Module:
    spec = importlib.util.find_spec("unsloth" if relative.startswith("unsloth/") else "unsloth_zoo")
    assert spec is not None, "unsloth is not installed: scripts/setup.sh installs it (--no-deps, as on Colab)"
    root = Path(spec.submodule_search_locations[0]).parent
    return ast.parse((root / relative).read_text())


def real_parameters(relative: str, qualname: str) -> list[str]:
    """The named parameters (positional order, then keyword-only) of ``Class.method`` or ``function`` in that file."""
    tree = _source(relative)
    owner, _, name = qualname.rpartition(".")
    scope = tree.body
    if owner:
        scope = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == owner).body
    fn = next(n for n in scope if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name)
    a = fn.args
    return [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]


def strict(names: list[str], fn, record: list, label: str):
    """``fn`` callable only with the real function's named parameters."""
    def call(*args, **kwargs):
        if len(args) > len(names):
            raise TypeError(f"{label}() takes {len(names)} positional arguments, {len(args)} given")
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            raise TypeError(f"{label}() got unexpected keyword arguments {unknown}: not in the real signature")
        bound = dict(zip(names, args), **kwargs)
        record.append((label, bound))
        return fn(**bound)
    return call


def model_type_of(model_name: str) -> str:
    """What the model's config.json would say; the stand-in cannot download it (named by the presets' models)."""
    key = model_name.lower().replace("-", "").replace("_", "")
    return "gemma3_text" if "gemma3" in key else "llama"


def make_stand_in(llama_path: str, gemma_path: str, record: list):
    """The ``unsloth`` and ``unsloth.chat_templates`` modules, and the TRL classes ``import unsloth`` puts in TRL."""
    from peft import LoraConfig
    from peft import get_peft_model as peft_get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    bf16_native = torch.cuda.get_device_capability()[0] >= 8  # unsloth/models/_utils.py 5273 (capability, not
    # torch's emulation-counting default)

    def load(model_name, max_seq_length=2048, dtype=None, load_in_4bit=True, **_):
        model_type = model_type_of(model_name)
        handed_to = "FastModel" if model_type not in ("llama", "mistral", "gemma", "gemma2", "qwen2") else \
            "FastLlamaModel"  # loader.py 1859-1893: other model types go to FastModel.from_pretrained
        forced_float32 = False
        if fp16_unsafe(model_type) and (dtype == torch.float16 or (not bf16_native and dtype != torch.bfloat16)):
            forced_float32, dtype = True, torch.bfloat16  # loader.py 2994-3008: bf16 storage, float32 compute
            print(f"Unsloth: Using float16 precision for {model_type} won't work! Using float32.")  # vision.py 3647
        elif dtype is None:
            dtype = torch.bfloat16 if bf16_native else torch.float16  # vision.py 3615
        elif dtype == torch.bfloat16 and not bf16_native:
            dtype = torch.float16  # vision.py 3620: "Device does not support bfloat16. Will change to float16."
        path = gemma_path if model_type.startswith("gemma3") else llama_path
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        model._unsloth_forced_float32 = forced_float32  # utils.py 5303: stamped on the model, read by the trainer
        model._unsloth_handed_to = handed_to
        return model, AutoTokenizer.from_pretrained(path)

    def peft_model(model, r=16, target_modules=None, lora_alpha=16, lora_dropout=0.0, bias="none", **_):
        # llama.py 4603-4616: a model FastModel loaded (Gemma 3) goes on to FastBaseModel.get_peft_model, same keywords
        return peft_get_peft_model(model, LoraConfig(r=r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                                                     target_modules=list(target_modules), bias=bias,
                                                     task_type="CAUSAL_LM"))

    loader, llama = "unsloth/models/loader.py", "unsloth/models/llama.py"

    class FastLanguageModel:
        from_pretrained = staticmethod(strict(real_parameters(loader, "FastLanguageModel.from_pretrained"),
                                              load, record, "from_pretrained"))
        get_peft_model = staticmethod(strict(real_parameters(llama, "FastLlamaModel.get_peft_model"),
                                             peft_model, record, "get_peft_model"))
        for_inference = staticmethod(strict(real_parameters(loader, "FastLanguageModel.for_inference"),
                                            lambda model: model, record, "for_inference"))

    zoo_responses_only = real_parameters("unsloth_zoo/dataset_utils.py", "train_on_responses_only")

    def responses_only(trainer, instruction_part=None, response_part=None, **_):
        return trainer

    mod = types.ModuleType("unsloth")
    mod.__doc__ = "StandInUnsloth: a test double for the unsloth package's GPU path"
    mod.__spec__ = importlib.machinery.ModuleSpec("unsloth", None)
    mod.FastLanguageModel = mod.FastModel = FastLanguageModel
    chat = types.ModuleType("unsloth.chat_templates")
    chat.__spec__ = importlib.machinery.ModuleSpec("unsloth.chat_templates", None)
    chat.train_on_responses_only = strict(zoo_responses_only, responses_only, record, "train_on_responses_only")
    mod.chat_templates = chat
    return mod, chat


def unsloth_trainers():
    """The classes ``import unsloth`` writes over ``trl.SFTTrainer``/``trl.DPOTrainer``/their configs (rl.py 3945-
    3972), with the precision rules their generated ``__init__`` runs (rl.py 2628-2664). The one departure, named: after
    the check, the arguments are rebuilt for the CPU (no GPU here to run fp16 AMP on)."""
    import dataclasses

    import trl

    def unsloth_precision_check(model, args):
        forced = bool(getattr(model, "_unsloth_forced_float32", False))  # rl.py 2633
        if forced:
            print("Unsloth: Switching to float32 training since model cannot work with float16")  # rl.py 2635
        dtype = getattr(model.config, "dtype", None) or model.get_input_embeddings().weight.dtype
        if not forced and dtype == torch.float16 and args.bf16:  # rl.py 2657
            raise TypeError("Unsloth: Model is in float16 precision but you want to use bfloat16 precision. Set fp16 "
                            "to `True` and bf16 to `False`")
        if not forced and dtype == torch.bfloat16 and args.fp16:  # rl.py 2658
            raise TypeError("Unsloth: Model is in bfloat16 precision but you want to use float16 precision. Set fp16 "
                            "to `False` and bf16 to `True`")
        checked = {"fp16": False if forced else args.fp16, "bf16": False if forced else args.bf16}  # rl.py 2659-2663
        return checked, dataclasses.replace(args, use_cpu=True, fp16=False, bf16=False, optim="adamw_torch")

    class UnslothSFTTrainer(trl.SFTTrainer):
        def __init__(self, model=None, args=None, *a, **k):
            self.unsloth_precision, args = unsloth_precision_check(model, args)
            super().__init__(model, args, *a, **k)

    class UnslothDPOTrainer(trl.DPOTrainer):
        def __init__(self, model=None, ref_model=None, args=None, *a, **k):
            self.unsloth_precision, args = unsloth_precision_check(model, args)
            super().__init__(model, ref_model, args, *a, **k)

    return {"SFTTrainer": UnslothSFTTrainer, "DPOTrainer": UnslothDPOTrainer}
