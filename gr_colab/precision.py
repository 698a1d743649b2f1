"""Which float type a model loads, trains, generates and is checked in, decided once from the GPU and the model.

Config layer, beside the config it reads (no torch at import). Everything that trains (``training.device_args``),
loads (``models``), reports (``colab.setup``, ``LoadedModel.describe``), plans memory (``plan``) or runs a reference
forward pass (``export``, ``guards.ready``) asks :func:`decide`, so the kit cannot ask for bf16 in one place and
load fp16 in another.

Two facts from the pinned libraries' source decide it:

* **bf16 only at compute capability 8 and above.** ``torch.cuda.is_bf16_supported()`` counts emulation by default
  and returns True on a T4 (7.5) (torch 2.13 ``torch/cuda/__init__.py``, ``is_bf16_supported(including_emulation=
  True)``); Unsloth's own ``is_bfloat16_supported()`` checks the capability (unsloth 2026.10.9
  ``unsloth/models/_utils.py`` 5273). Asking for bf16 on a T4 makes Unsloth's trainer raise "Model is in float16
  precision but you want to use bfloat16 precision" (``unsloth/models/rl.py`` 2657).
* **Some families overflow in fp16.** Unsloth forces float32 compute for them on fp16-only GPUs and sets the
  trainer's fp16 = bf16 = False (``unsloth_zoo/model_lists.py`` 45-58 ``FORCE_FLOAT32``; ``unsloth/models/
  loader.py`` 2994-3008; ``unsloth/models/vision.py`` 3645-3648 "Using float16 precision for gemma3 won't work!
  Using float32."; ``rl.py`` 2628-2664). Gemma 3's activations reach ~8e5, past fp16's 65,504.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# unsloth_zoo 2026.10.9 model_lists.py 45-58, normalised as Unsloth compares them (lower case, no "-"/"_").
FP16_UNSAFE_FAMILIES = ("gemma3", "gemma3n", "gemma4", "embeddinggemma", "glm4moe", "gptoss", "qwen35", "qwen3moe")
T4 = (7, 5)  # compute capability of the free Colab GPU
A100 = (8, 0)


@dataclass(frozen=True)
class Precision:
    """``dtype``: the weights' float type as loaded (the torch attribute name); ``fp16``/``bf16``: the Trainer's
    mixed-precision flags; ``reason``: one line for the student."""

    dtype: str
    fp16: bool
    bf16: bool
    reason: str

    @property
    def bytes_per_param(self) -> int:
        return 4 if self.dtype == "float32" else 2

    def torch_dtype(self):
        import torch

        return getattr(torch, self.dtype)


def native_bf16(capability: Optional[tuple]) -> bool:
    """bf16 in hardware: Ampere (8.0) and newer. Never ``torch.cuda.is_bf16_supported()``'s default (emulation)."""
    return capability is not None and tuple(capability)[0] >= 8


def gpu_capability() -> Optional[tuple]:
    """The first CUDA device's compute capability, or None without CUDA."""
    import torch

    return tuple(torch.cuda.get_device_capability(0)) if torch.cuda.is_available() else None


def fp16_unsafe(model: str) -> bool:
    """Whether a model name or ``model_type`` belongs to a family Unsloth will not run in fp16."""
    key = model.lower().replace("-", "").replace("_", "")
    return any(f in key for f in FP16_UNSAFE_FAMILIES)


def decide(model: str, device: str, capability: Optional[tuple] = None, requested: str = "auto") -> Precision:
    """The precision for ``model`` (a name or a ``model_type``) on ``device`` with this compute ``capability``.
    ``requested`` is the config's ``dtype``: ``auto`` follows the hardware; an explicit type is honoured unless the
    hardware or the model family cannot run it (bf16 without native support: an error; fp16 for an fp16-unsafe
    family: float32, as Unsloth does, and said)."""
    if device != "cuda":
        if requested not in ("auto", "float32"):
            return Precision(requested, False, False, f"{requested} as asked, on the CPU (no mixed precision)")
        return Precision("float32", False, False, "float32 on the CPU")
    bf16_ok = native_bf16(capability)
    gpu = f"compute capability {capability[0]}.{capability[1]}" if capability else "this GPU"
    if requested == "bfloat16" and not bf16_ok:
        from .config import ConfigError

        raise ConfigError(f"dtype: bfloat16 needs compute capability 8.0 or newer and this GPU is {gpu} (a T4 is "
                          "7.5): use dtype: auto or float16")
    if requested == "float32":
        return Precision("float32", False, False, "float32 as asked (no mixed precision)")
    if bf16_ok and requested in ("auto", "bfloat16"):
        return Precision("bfloat16", False, True, f"bf16 ({gpu} has it natively)")
    if fp16_unsafe(model):
        return Precision("float32", False, False,
                         f"float32: {model} overflows in float16 and {gpu} has no native bf16 "
                         "(Unsloth forces float32 for this family too)")
    return Precision("float16", True, False, f"fp16 ({gpu} has no native bf16)")
