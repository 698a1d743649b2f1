"""Will it fit? A budget planner for R-SFT and HS-DPO on a T4 or an A100, before a run starts.

Stage helper, pure arithmetic (no torch). Estimates from parameter counts, token counts and FLOPs; every assumption
is a named constant below so a student can see, and change, what the estimate rests on. Estimates are rough
(±30 %): good enough to know that a 3B model at 2048 tokens and batch 4 will not fit in 15 GB, or that 100k rows
will not train in a free session.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

GPUS = {
    # name: (usable memory GB, effective training TFLOPS for LoRA on a 4-bit/16-bit base, has bf16)
    # Effective = peak x utilisation: T4 65 fp16 TFLOPS x ~15 % (4-bit dequantisation, small batches);
    # A100 312 bf16 TFLOPS x ~30 %.
    "T4": (15.0, 10.0, False),
    "A100": (40.0, 95.0, True),
}
FREE_SESSION_HOURS = 3.0  # Colab free sessions can last longer, but plan for a disconnect after about 3 hours
CUDA_OVERHEAD_GB = 0.8  # the CUDA context, the allocator's slack
CHARS_PER_TOKEN = 4.0  # English text in Llama 3 / Gemma 3 tokenizers
FLOPS_PER_TOKEN_FACTOR = {True: 6.0, False: 4.0}  # x params: LoRA fwd 2N + bwd 2N (+ 2N recompute when checkpointing)
GENERATION_TOKENS_PER_SEC = {"T4": 900.0, "A100": 6000.0}  # batched greedy decode of a 1B model; scaled by size


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


@dataclass
class Plan:
    stage: str
    gpu: str
    model: str
    peak_gb: float
    hours: float
    tokens: float
    breakdown: dict
    fits_memory: bool
    fits_session: bool
    max_samples_in_session: int
    warnings: list = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.stage} of {self.model} on a {self.gpu}: peak ≈ {self.peak_gb:.1f} GB of "
                 f"{GPUS[self.gpu][0]:.0f} GB, ≈ {self.hours:.1f} h for {self.tokens / 1e6:.1f}M tokens",
                 "  memory: " + ", ".join(f"{k} {v:.2f} GB" for k, v in self.breakdown.items())]
        lines += [f"  ⚠ {w}" for w in self.warnings]
        return "\n".join(lines)


def plan(model: str, *, gpu: str = "T4", stage: str = "rsft", samples: int = 2000, epochs: float = 1.0,
         mean_tokens: float = 700.0, max_seq_length: int = 2048, batch_size: int = 2, lora_r: int = 16,
         load_in_4bit: bool = True, gradient_checkpointing: bool = True, arch: Optional[Arch] = None,
         optim_8bit: bool = True, session_hours: float = FREE_SESSION_HOURS) -> Plan:
    """Peak memory and wall time of one training stage (``rsft`` or ``hsdpo``: a pair is two sequences plus a
    reference forward with the adapter disabled)."""
    if gpu not in GPUS:
        raise ValueError(f"gpu must be one of {', '.join(GPUS)}")
    if stage not in ("rsft", "hsdpo"):
        raise ValueError("stage must be 'rsft' or 'hsdpo'")
    arch = arch or ARCHS.get(model)
    if arch is None:
        raise ValueError(f"no architecture known for {model!r}: pass arch=arch_from_hf_config(AutoConfig...)")
    mem_gb, tflops, _ = GPUS[gpu]
    p = arch.params()
    lora = arch.lora_params(lora_r)
    bytes_linear = 0.56 if load_in_4bit else 2.0  # nf4 with double-quantised scales ≈ 4.5 bits
    weights = (p["linear"] * bytes_linear + p["embed"] * 2) / 1e9
    optimizer = lora * (4 + 4 + (2 if optim_8bit else 8)) / 1e9  # fp32 master + grad + Adam moments
    seqs = batch_size * (2 if stage == "hsdpo" else 1)
    seq = min(max_seq_length, mean_tokens * 1.6 if stage == "rsft" else mean_tokens * 1.3)  # longest in a batch
    per_layer = seqs * seq * arch.hidden * 2  # one fp16 hidden state
    if gradient_checkpointing:
        acts = per_layer * arch.layers + per_layer * 16  # checkpoints + one layer recomputed in full
    else:
        acts = per_layer * arch.layers * 16
    logits = seqs * seq * arch.vocab * (2 + 4)  # fp16 logits + the fp32 upcast of the loss
    breakdown = {"weights": weights, "LoRA+optimizer": optimizer, "activations": acts / 1e9,
                 "logits": logits / 1e9, "overhead": CUDA_OVERHEAD_GB}
    peak = sum(breakdown.values())
    tokens = samples * epochs * mean_tokens * (2 if stage == "hsdpo" else 1)
    flops_per_token = FLOPS_PER_TOKEN_FACTOR[gradient_checkpointing] * p["total"]
    if stage == "hsdpo":
        flops_per_token += 2 * p["total"] / 2  # the reference forward, per sequence
    hours = tokens * flops_per_token / (tflops * 1e12) / 3600
    per_sample_h = hours / max(samples * epochs, 1)
    max_samples = int(session_hours / per_sample_h / epochs) if per_sample_h > 0 else samples
    warnings = []
    if peak > mem_gb:
        warnings.append(f"needs ≈ {peak:.1f} GB but a {gpu} has {mem_gb:.0f} GB: lower batch_size "
                        f"(now {batch_size}) or max_seq_length (now {max_seq_length}), or use a smaller model")
    if mean_tokens > max_seq_length:
        warnings.append(f"mean row length {mean_tokens:.0f} tokens exceeds max_seq_length {max_seq_length}: "
                        "traces will be cut and the answers lost")
    if hours > session_hours:
        warnings.append(f"≈ {hours:.1f} h exceeds a {session_hours:.0f} h session: about {max_samples} samples "
                        f"would fit (set train_limit), or rely on checkpoints and resume")
    return Plan(stage, gpu, model, peak, hours, tokens, breakdown, peak <= mem_gb, hours <= session_hours,
                max_samples, warnings)


def arch_of(config) -> Arch:
    """The architecture of a config's model: the table above for the presets' models, else read from the model's
    own ``config.json`` (a local folder, the kit's own lanes, or a Hub id: only the small config file is fetched)."""
    if config.model_name in ARCHS:
        return ARCHS[config.model_name]
    from transformers import AutoConfig

    from .models import resolve_model_path

    try:
        return arch_from_hf_config(AutoConfig.from_pretrained(resolve_model_path(config)))
    except (OSError, ValueError) as exc:
        raise ValueError(f"model_name {config.model_name!r}: cannot read its architecture for the budget planner "
                         f"({exc})") from None


def plan_config(config, gpu: str = "T4", stage: str = "rsft", samples: Optional[int] = None,
                mean_tokens: Optional[float] = None) -> Plan:
    """The plan for a :class:`GRConfig`; the sample count defaults to its ``train_limit`` x 4 splits."""
    if samples is None and stage == "hsdpo" and config.mine_limit:
        samples = config.mine_limit  # HS-DPO trains on the mined pairs: at most one per sampled item
    if samples is None:
        files = 4 if any(str(f).rstrip("/").endswith("GuardReasonerTrain") for f in config.train_files) \
            else len(config.train_files)
        samples = config.train_limit * files if config.train_limit else 127544
    return plan(config.model_name, gpu=gpu, stage=stage, samples=samples,
                epochs=config.rsft_epochs if stage == "rsft" else config.hsdpo_epochs,
                mean_tokens=mean_tokens or 700.0, max_seq_length=config.max_seq_length,
                batch_size=config.rsft_batch_size if stage == "rsft" else config.hsdpo_batch_size,
                lora_r=config.lora_r, load_in_4bit=config.load_in_4bit, arch=arch_of(config),
                gradient_checkpointing=config.gradient_checkpointing, optim_8bit="8bit" in config.optim)


OUTPUT_TOKENS = 400.0  # a trained guard's trace; an untrained base model writes up to max_new_tokens
PROMPT_TOKENS = 300.0  # instruction + interaction
COLAB_RAM_GB = 12.7  # a free Colab runtime's RAM (the export's verification loads models there, not on the GPU)


@dataclass
class StagePlan:
    """Time and memory of a stage that is not a training run (generation, export), or of the whole course."""
    stage: str
    gpu: str
    hours: float
    peak_gb: float  # GPU memory (generation) or RAM (export)
    notes: list = field(default_factory=list)

    def summary(self) -> str:
        where = "RAM" if self.stage == "export" else "GPU"
        lines = [f"{self.stage} on a {self.gpu}: ≈ {self.hours * 60:.0f} min, peak ≈ {self.peak_gb:.1f} GB {where}"]
        return "\n".join(lines + [f"  {n}" for n in self.notes])


def _tokens_per_second(config, gpu: str) -> float:
    total = arch_of(config).params()["total"]
    return GENERATION_TOKENS_PER_SEC[gpu] * 1.236e9 / max(total, 1.0)  # decode is memory-bound: ~1/size


def plan_generation(config, stage: str = "eval", gpu: str = "T4") -> StagePlan:
    """Evaluation (three variants: base, R-SFT, HS-DPO, on every benchmark) or mining (k samples per item)."""
    arch = arch_of(config)
    if stage == "eval":
        items = len(config.eval_benchmarks) * (config.eval_limit or 1000)
        tokens = items * (config.max_new_tokens + 2 * min(OUTPUT_TOKENS, config.max_new_tokens))  # base runs long
    elif stage == "mine":
        items = config.mine_limit or (config.train_limit or 2000) * 4
        tokens = items * config.mine_k * min(OUTPUT_TOKENS, config.max_new_tokens)
    else:
        raise ValueError("stage must be 'eval' or 'mine'")
    batch = config.gen_batch_size * (config.mine_k if stage == "mine" else 1)
    seq = PROMPT_TOKENS + config.max_new_tokens
    kv = batch * seq * arch.layers * 2 * arch.kv_heads * arch.hd * 2
    logits = batch * arch.vocab * 4
    weights = (arch.params()["linear"] * (0.56 if config.load_in_4bit else 2.0) + arch.params()["embed"] * 2)
    peak = (weights + kv + logits) / 1e9 + CUDA_OVERHEAD_GB
    return StagePlan(stage, gpu, tokens / _tokens_per_second(config, gpu) / 3600, peak,
                     [f"{tokens / 1e6:.1f}M generated tokens at ≈ {_tokens_per_second(config, gpu):.0f} tokens/s"])


def plan_export(config) -> StagePlan:
    """RAM and disk of the export: the merged 16-bit model, the GGUF files, and their verification (the merged
    model's greedy reference is computed once, then each GGUF is loaded alone)."""
    total = arch_of(config).params()["total"]
    merged = total * 2 / 1e9
    sizes = {"f16": 2.0, "q8_0": 1.07, "q4_k_m": 0.6}
    gguf = sum(total * sizes[k] for k in set(config.gguf_types) | ({"f16"} if "q4_k_m" in config.gguf_types
                                                                    else set())) / 1e9
    ram = max(merged, total * 2 / 1e9) + 1.0  # the merge / the reference in 16-bit, or the largest GGUF, + Python
    notes = [f"disk: merged ≈ {merged:.1f} GB (scratch), GGUF ≈ {gguf:.1f} GB (kept: "
             f"{', '.join(config.gguf_types)})"]
    if ram > COLAB_RAM_GB:
        notes.append(f"⚠ needs ≈ {ram:.1f} GB of RAM, a free Colab runtime has {COLAB_RAM_GB} GB")
    return StagePlan("export", "T4", total / 1e9 * 0.05, ram, notes)


def plan_parts(config, gpu: str = "T4") -> list:
    """(notebook, plan) for each notebook that trains, generates or exports."""
    return [("03 R-SFT", plan_config(config, gpu=gpu, stage="rsft")), ("04 evaluation", plan_generation(config)),
            ("05 mining", plan_generation(config, "mine")), ("06 HS-DPO", plan_config(config, gpu=gpu,
                                                                                       stage="hsdpo")),
            ("07 export", plan_export(config))]


def plan_session(config, gpu: str = "T4", session_hours: float = FREE_SESSION_HOURS) -> list[str]:
    """One line per stage and the whole course, and how it spans sessions when it does not fit in one."""
    parts = plan_parts(config, gpu)
    lines = [f"{name}: ≈ {p.hours * 60:.0f} min, peak ≈ {p.peak_gb:.1f} GB" for name, p in parts]
    total = sum(p.hours for _, p in parts)
    lines.append(f"the whole course with {config.preset}: ≈ {total:.1f} h")
    if total > session_hours:
        sessions, spent = [[]], 0.0
        for name, p in parts:  # greedily, in notebook order
            if sessions[-1] and spent + p.hours > session_hours * 0.9:
                sessions.append([])
                spent = 0.0
            sessions[-1].append(name.split()[0])
            spent += p.hours
        plan_text = "; ".join(f"session {i}: notebooks {', '.join(s)}" for i, s in enumerate(sessions, 1))
        lines.append(f"more than one free session ({session_hours:.0f} h): {plan_text}. Every stage saves to the "
                     "run folder on Drive: a finished stage is skipped, an interrupted one resumes from its last "
                     "checkpoint when you run its notebook again")
    return lines


def mean_tokens_of(rows: list, chars_per_token: float = CHARS_PER_TOKEN) -> float:
    """Mean tokens per training row (instruction + input + output), from characters when no tokenizer is at hand."""
    if not rows:
        return 0.0
    chars = [len(r.get("instruction", "")) + len(r.get("input", r.get("content", ""))) + len(r["output"]) + 1
             for r in rows]
    return sum(chars) / len(chars) / chars_per_token
