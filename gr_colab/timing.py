"""How long a stage takes: the time model behind ``gr-colab plan`` (pure arithmetic, no torch), and the model
shapes (:class:`Arch`) it and the memory planner (:mod:`gr_colab.planner`) read.

Training layer helper. Three facts make a plan hold (issue 22), each a named constant below:

* **A decode step has a floor.** Greedy generation with transformers launches every layer's kernels once a step and
  runs the logits processors and stopping checks in Python, so a small model's step costs about as much as a 1B's:
  the time is ``layers x per-layer overhead + weight bytes / bandwidth``, not ``1 / parameters``.
* **A batch runs to its longest output.** Every row of a batch decodes until the last one stops; the longest of
  ``b`` guard traces is about ``1 + 0.1 log2(b)`` times the mean (measured on the 963 released GuardReasoner-1B
  traces in ``sample_data/real_traces``: 1.12, 1.22, 1.31, 1.41 at b = 2, 4, 8, 16), and an untrained model runs to
  ``max_new_tokens``.
* **A free Colab session pays setup per notebook**: each notebook is its own runtime (connect, clone, install,
  Drive prompt, secret grant, model download), and notebook 07 compiles llama.cpp once.

The GPU constants are assumptions (no GPU is available to the kit's authors: ``benchmarks/gpu_smoke.py`` measures
them on one). The CPU constants are ONE core's, calibrated by ``benchmarks/plan_accuracy.py --calibrate`` from
primitive costs (decode steps and LoRA training steps of the twin and the 270M, one thread's CPU time on a shared
machine) and checked there, stage by stage, against whole runs of the CPU lanes (docs/00_setup.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Arch:
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool
    head_dim: Optional[int] = None

    @property
    def hd(self) -> int:
        return self.head_dim or self.hidden // self.heads

    def params(self) -> dict:
        """Parameter counts: embeddings (kept in 16-bit by 4-bit loaders) and the linear layers (quantised)."""
        attn = self.hidden * self.heads * self.hd * 2 + self.hidden * self.kv_heads * self.hd * 2
        mlp = 3 * self.hidden * self.intermediate
        linear = self.layers * (attn + mlp)
        embed = self.vocab * self.hidden * (1 if self.tied else 2)
        norms = (2 * self.layers + 1) * self.hidden  # RMSNorm weights: tiny, kept in 16-bit
        return {"linear": linear, "embed": embed + norms, "total": linear + embed + norms}

    def lora_params(self, r: int) -> int:
        q_o = 2 * r * (self.hidden + self.heads * self.hd)
        k_v = 2 * r * (self.hidden + self.kv_heads * self.hd)
        mlp = 3 * r * (self.hidden + self.intermediate)
        return self.layers * (q_o + k_v + mlp)


# The presets' models, from their published config.json (no download needed to plan).
ARCHS = {
    "unsloth/gemma-3-270m-it": Arch(18, 640, 2048, 4, 1, 262144, True, 256),
    "unsloth/Llama-3.2-1B-Instruct": Arch(16, 2048, 8192, 32, 8, 128256, True),
    "unsloth/Llama-3.2-3B-Instruct": Arch(28, 3072, 8192, 24, 8, 128256, True),
    "unsloth/Meta-Llama-3.1-8B-Instruct": Arch(32, 4096, 14336, 32, 8, 128256, False),
}


def arch_from_hf_config(cfg) -> Arch:
    """An :class:`Arch` from a transformers config (a multimodal config plans its text model)."""
    cfg = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
    return Arch(cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads,
                getattr(cfg, "num_key_value_heads", cfg.num_attention_heads), cfg.vocab_size,
                bool(getattr(cfg, "tie_word_embeddings", False)), getattr(cfg, "head_dim", None))


@dataclass(frozen=True)
class Device:
    name: str
    tflops16: float  # effective training TFLOPS in fp16/bf16 mixed precision (LoRA, small batches)
    tflops32: float  # effective TFLOPS when the model computes in float32 (Gemma 3 on a T4; every CPU run)
    bandwidth_gbs: float  # effective memory bandwidth for a decode step's weight reads
    layer_ms: float  # per decode step, per layer: kernel launches and Python (transformers' generate)
    step_ms: float  # per decode step outside the layers: logits processors, stopping criteria, cache update
    train_step_s: float  # per training micro-step outside the FLOPs: launches, optimizer, logging
    decode_tflops: Optional[float] = None  # a decode step's per-row FLOP rate where it counts (a CPU); None: a GPU,
    # whose decode step is never FLOP-bound at these sizes


DEVICES = {
    # T4: 65 fp16 TFLOPS x ~15 % (small batches, 4-bit dequantisation); 8.1 fp32 TFLOPS x ~30 %; 320 GB/s x 0.6.
    # layer_ms/step_ms make the 1B's step (16 layers, 4-bit) ≈ 18 ms, the figure this planner used before.
    # Assumptions, not measured here (no GPU): benchmarks/gpu_smoke.py prints the real figures beside them.
    "T4": Device("T4", 10.0, 2.5, 190.0, 0.7, 2.0, 0.10),
    # A100: 312 bf16 TFLOPS x ~30 %; 19.5 fp32 (TF32 off) x ~50 %; 1,555 GB/s x 0.6. Assumptions.
    "A100": Device("A100", 95.0, 10.0, 930.0, 0.5, 1.5, 0.06),
    # One CPU core, float32 (the CPU lanes), from `benchmarks/plan_accuracy.py --calibrate` on 2026-12-02 (one
    # thread's CPU time, the 2-core build machine under load ~18): LoRA training 50 GFLOPS (270M, b=2, T 64 -> 256:
    # 3.75 -> 12.0 s) and 0.017 s a step beyond it (the twin); a decode step 3.6 ms of floor (the twin: 3.99 ms at
    # b=1), 17 GFLOPS per row (the 270M: 121 ms at b=1, 342 ms at b=8) and the rest of the 270M's b=1 step (85 ms)
    # as weight reads, 1.07 GB at 12.5 GB/s (a per-layer share cannot be told apart from it with two models: 0).
    "CPU": Device("CPU", 0.050, 0.050, 12.5, 0.0, 3.6, 0.017, decode_tflops=0.017),
}

LONGEST_PER_DOUBLING = 0.1  # longest of b traces ≈ mean x (1 + 0.1 log2 b): sample_data/real_traces, see above
OUTPUT_TOKENS = 400.0  # a trained guard's mean trace (the 270M after R-SFT: 480 at 512 new tokens, docs/real_lane)
PROMPT_TOKENS = 300.0  # instruction + interaction

# Per notebook on Colab (each is a new runtime). Assumptions from Unsloth's own notebooks and the kit's install
# cell; gpu_smoke.py and a student's first session are where they get measured.
SETUP_MIN = {"connect": 1.0,  # a T4 runtime assigned, the notebook opened
             "install": 3.0,  # clone + the pinned Unsloth stack (pip, quiet)
             "drive": 0.5,  # the Drive mount prompt, answered
             "secret": 0.2}  # the HF_TOKEN secret's grant
DOWNLOAD_GBS = 0.1  # model download from the Hub on Colab, GB/s
LLAMACPP_BUILD_MIN = 8.0  # compiling llama-cpp-python on Colab's 2 cores (measured here: ~7.5 min on 2 cores)
LLAMACPP_CACHED_MIN = 0.5  # reinstalling the wheel kept on Drive
OLLAMA_INSTALL_MIN = 1.0  # Ollama's install script on Colab


def longest(mean: float, batch: int, cap: float) -> float:
    """The steps a batch of ``batch`` outputs of mean length ``mean`` decodes for (its longest output)."""
    return min(cap, mean * (1 + LONGEST_PER_DOUBLING * math.log2(max(batch, 1))))


def decode_step_s(arch, device: Device, batch: int, weight_bytes: float) -> float:
    """One decode step of a batch: the per-step floor plus reading the weights (and the batch's FLOPs on a CPU)."""
    flops = 2 * arch.params()["total"] * batch
    compute = flops / (device.decode_tflops * 1e12) if device.decode_tflops else 0.0
    return (arch.layers * device.layer_ms + device.step_ms) / 1e3 + weight_bytes / (device.bandwidth_gbs * 1e9) \
        + compute


def generation_s(arch, device: Device, items: int, batch: int, steps: float, weight_bytes: float,
                 fp32: bool, prompt_tokens: float = PROMPT_TOKENS) -> float:
    """``items`` prompts in batches of ``batch``, each batch decoding ``steps`` steps, plus the prompts' prefill."""
    if items <= 0:
        return 0.0
    batches = math.ceil(items / batch)
    prefill = items * prompt_tokens * 2 * arch.params()["total"] / ((device.tflops32 if fp32 else device.tflops16)
                                                                    * 1e12)
    per_batch = [min(batch, items - i * batch) for i in range(batches)]
    return prefill + sum(steps * decode_step_s(arch, device, b, weight_bytes) for b in per_batch)


def train_s(arch, device: Device, sequences: float, mean_tokens: float, batch: int, flops_factor: float,
            fp32: bool) -> float:
    """Micro-steps of ``batch`` sequences: their FLOPs at the device's effective rate plus a per-step overhead."""
    flops = sequences * mean_tokens * flops_factor * arch.params()["total"]
    return flops / ((device.tflops32 if fp32 else device.tflops16) * 1e12) \
        + math.ceil(sequences / max(batch, 1)) * device.train_step_s


def setup_min(model_gb: float) -> float:
    """One notebook's runtime setup on Colab: connect, install, Drive prompt, secret grant and the model download."""
    return sum(SETUP_MIN.values()) + model_gb / DOWNLOAD_GBS / 60
