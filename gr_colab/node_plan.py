"""Several GPUs of one node (the paper's scale, docs/scale.md): memory per GPU and time for N GPUs (``gr-colab plan
--gpus N``).

Tool layer, pure arithmetic (no torch), built on the single-GPU :func:`gr_colab.planner.plan_config`: LoRA under DDP
or a full fine-tune under ZeRO-3, with the assumed scaling efficiencies named below.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .planner import arch_of, plan_config

NODE_GPU_GB = 80.0  # an A100 80 GB: the GPU of a node like GuardReasoner's 4-GPU one
SCALING_EFFICIENCY = {"ddp": 0.9, "zero3": 0.75}  # assumed share of a linear speed-up: DDP's gradient all-reduce
# overlaps the backward pass; ZeRO-3 also all-gathers every layer's weights in the forward and the backward
ZERO3_LIVE_LAYERS = 2  # ZeRO-3 holds one layer's gathered weights, and prefetches the next
FULL_OVER_LORA_FLOPS = 8.0 / 6.0  # with checkpointing: full 2N fwd + 4N bwd + 2N recompute; LoRA 2N + 2N + 2N


@dataclass
class NodePlan:
    """Memory per GPU and wall time of one training stage on ``gpus`` GPUs of one node."""
    stage: str
    model: str
    mode: str
    gpus: int
    per_gpu_gb: float
    gpu_gb: float
    hours: float
    breakdown: dict
    notes: list = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return self.per_gpu_gb <= self.gpu_gb

    def summary(self) -> str:
        lines = [f"{self.stage} of {self.model}, {self.mode} on {self.gpus} x {self.gpu_gb:.0f} GB: ≈ "
                 f"{self.per_gpu_gb:.1f} GB per GPU, ≈ {self.hours:.1f} h",
                 "  per GPU: " + ", ".join(f"{k} {v:.2f} GB" for k, v in self.breakdown.items())]
        return "\n".join(lines + [f"  {n}" for n in self.notes])


def plan_node(config, gpus: int = 4, stage: str = "rsft", gpu_gb: float = NODE_GPU_GB, samples: Optional[int] = None,
              mean_tokens: Optional[float] = None) -> NodePlan:
    """LoRA under DDP (every GPU holds the 16-bit base: one GPU's memory, 1/N of the time) or a full fine-tune under
    ZeRO-3 (bf16 weights and gradients and fp32 Adam states, 16 bytes a parameter, sharded N ways; one layer
    gathered at a time). Activations, logits and the single-GPU time come from :func:`plan_config` on an A100, with
    the config's per-device batch; time divides by N x the assumed scaling efficiency."""
    if gpus < 1:
        raise ValueError("gpus must be at least 1")
    one = plan_config(config, gpu="A100", stage=stage, samples=samples, mean_tokens=mean_tokens)
    p = arch_of(config).params()
    notes = []
    if config.finetune == "full":
        states = p["total"] * 16 / gpus
        gathered = p["linear"] / arch_of(config).layers * 2 * ZERO3_LIVE_LAYERS
        breakdown = {"weights+grads+Adam (sharded)": states / 1e9, "gathered layers": gathered / 1e9}
        if stage == "hsdpo":  # TRL's reference model: a second copy of the weights, sharded too
            breakdown["reference (sharded)"] = p["total"] * 2 / gpus / 1e9
        breakdown.update({k: one.breakdown[k] for k in ("activations", "logits", "overhead")})
        mode, hours = "full fine-tune, ZeRO-3", one.hours * FULL_OVER_LORA_FLOPS / (gpus * SCALING_EFFICIENCY["zero3"])
        notes.append(f"assumed ZeRO-3 scaling efficiency {SCALING_EFFICIENCY['zero3']:.0%}; host RAM: the kit loads "
                     "the model in each process before DeepSpeed shards it (≈ 2 bytes a parameter per process)")
    else:
        breakdown = dict(one.breakdown)
        mode, hours = "LoRA, DDP", one.hours / (gpus * SCALING_EFFICIENCY["ddp"])
        notes.append(f"assumed DDP scaling efficiency {SCALING_EFFICIENCY['ddp']:.0%}")
    per_gpu = sum(breakdown.values())
    if per_gpu > gpu_gb:
        notes.append(f"⚠ needs ≈ {per_gpu:.0f} GB per GPU: more GPUs, a smaller per-device batch (the effective "
                     "batch target keeps the recipe) or max_seq_length")
    return NodePlan(stage, config.model_name, mode, gpus, per_gpu, gpu_gb, hours, breakdown, notes)
