"""Will it fit? The planner (``gr-colab plan``) for R-SFT and HS-DPO on a T4 or an A100, before a run starts.

Tool layer, pure arithmetic (no torch). Memory from parameter and token counts here; time from
:mod:`gr_colab.timing` (per-step overheads, batches that run to their longest output, each notebook's setup);
precision from :mod:`gr_colab.precision` (Gemma 3 computes in float32 on a T4). Every assumption is a named
constant so a student can see, and change, what the estimate rests on. Estimates are rough (the CPU lanes' figures
are checked by ``benchmarks/plan_accuracy.py``; the GPU's by ``benchmarks/gpu_smoke.py`` on a GPU): good enough to
know that a 3B model at 2048 tokens and batch 4 will not fit in 15 GB, or that 100k rows will not train in a free
session. Several GPUs of one node (the paper's scale) are planned by :mod:`gr_colab.node_plan`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from . import timing
from .precision import A100, T4, decide
from .stages import STAGES
from .timing import ARCHS, Arch, arch_from_hf_config  # noqa: F401  (the model shapes; re-exported)

GPUS = {
    # name: (usable memory GB, compute capability (None: the CPU)); speeds: gr_colab.timing.DEVICES
    "T4": (15.0, T4),
    "A100": (40.0, A100),
    "CPU": (16.0, None),  # the CPU lanes (cpu-tiny, cpu-270m): time only, RAM is not what limits them
}
FREE_SESSION_HOURS = 3.0  # Colab free sessions can last longer, but plan for a disconnect after about 3 hours
CUDA_OVERHEAD_GB = 0.8  # the CUDA context, the allocator's slack
CHARS_PER_TOKEN = 4.0  # English text in Llama 3 / Gemma 3 tokenizers
FLOPS_PER_TOKEN_FACTOR = {True: 6.0, False: 4.0}  # x params: LoRA fwd 2N + bwd 2N (+ 2N recompute when checkpointing)


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
         optim_8bit: bool = True, session_hours: float = FREE_SESSION_HOURS, dtype: str = "auto") -> Plan:
    """Peak memory and wall time of one training stage (``rsft`` or ``hsdpo``: a pair is two sequences plus a
    reference forward with the adapter disabled)."""
    if gpu not in GPUS:
        raise ValueError(f"gpu must be one of {', '.join(GPUS)}")
    if stage not in ("rsft", "hsdpo"):
        raise ValueError("stage must be 'rsft' or 'hsdpo'")
    arch = arch or ARCHS.get(model)
    if arch is None:
        raise ValueError(f"no architecture known for {model!r}: pass arch=arch_from_hf_config(AutoConfig...)")
    mem_gb, capability = GPUS[gpu]
    prec = precision_of(model, gpu, dtype)
    act_bytes = prec.bytes_per_param  # 2 (fp16/bf16) or 4 (float32: Gemma 3 on a T4, every CPU run)
    p = arch.params()
    lora = arch.lora_params(lora_r)
    bytes_linear = 0.56 if load_in_4bit else act_bytes  # nf4 with double-quantised scales ≈ 4.5 bits
    weights = (p["linear"] * bytes_linear + p["embed"] * act_bytes) / 1e9
    optimizer = lora * (4 + 4 + (2 if optim_8bit else 8)) / 1e9  # fp32 master + grad + Adam moments
    seqs = batch_size * (2 if stage == "hsdpo" else 1)
    seq = min(max_seq_length, mean_tokens * 1.6 if stage == "rsft" else mean_tokens * 1.3)  # longest in a batch
    per_layer = seqs * seq * arch.hidden * act_bytes  # one hidden state
    if gradient_checkpointing:
        acts = per_layer * arch.layers + per_layer * 16  # checkpoints + one layer recomputed in full
    else:
        acts = per_layer * arch.layers * 16
    logits = seqs * seq * arch.vocab * (act_bytes + 4)  # the logits + the fp32 upcast of the loss
    breakdown = {"weights": weights, "LoRA+optimizer": optimizer, "activations": acts / 1e9,
                 "logits": logits / 1e9, "overhead": CUDA_OVERHEAD_GB if capability else 0.0}
    peak = sum(breakdown.values())
    sequences = samples * epochs * (2 if stage == "hsdpo" else 1)
    kept = min(mean_tokens, max_seq_length)  # longer rows are truncated to max_seq_length
    tokens = sequences * kept
    factor = FLOPS_PER_TOKEN_FACTOR[gradient_checkpointing] + (1.0 if stage == "hsdpo" else 0.0)  # + the reference
    hours = timing.train_s(arch, timing.DEVICES[gpu], sequences, kept, seqs, factor,
                           fp32=prec.dtype == "float32") / 3600
    per_sample_h = hours / max(samples * epochs, 1)
    max_samples = int(session_hours / per_sample_h / epochs) if per_sample_h > 0 else samples
    warnings = []
    if capability and peak > mem_gb:
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
        raise ValueError(f"model_name {config.model_name!r}: cannot read its architecture for the planner "
                         f"({exc})") from None


def precision_of(model: str, gpu: str, dtype: str = "auto"):
    """The precision the kit would pick for ``model`` on ``gpu`` (:func:`gr_colab.precision.decide`)."""
    capability = GPUS[gpu][1]
    return decide(model, "cuda" if capability else "cpu", capability, dtype)


FULL_DATASET_ROWS = 127544  # GuardReasonerTrain, its four splits


def train_rows(config) -> int:
    """Rows R-SFT trains on: ``train_limit`` per file (each Hub split is one), else each local file's size (read)
    or the whole Hub dataset, less the held-out share."""
    if config.task_format != "guardreasoner":
        rows = config.train_limit or 1000
    elif any(str(f).startswith("hf://") for f in config.train_files):
        splits = 4 if any(str(f).rstrip("/").endswith("GuardReasonerTrain") for f in config.train_files) \
            else len(config.train_files)
        rows = config.train_limit * splits if config.train_limit else FULL_DATASET_ROWS
    else:
        from .data import read_records
        from .runtime import REPO_ROOT

        sizes = []
        for f in config.train_files:
            path = f if Path(f).exists() else REPO_ROOT / f
            sizes.append(len(read_records(path)) if Path(path).exists() else (config.train_limit or 1000))
        rows = sum(min(n, config.train_limit or n) for n in sizes)
    return max(1, round(rows * (1 - config.holdout_fraction)))


def plan_config(config, gpu: str = "T4", stage: str = "rsft", samples: Optional[int] = None,
                mean_tokens: Optional[float] = None) -> Plan:
    """The plan for a :class:`GRConfig`: its rows (or ``max_steps`` when set), batch, precision and length."""
    if stage == "rsft":
        batch, steps, epochs = config.rsft_batch_size, config.rsft_max_steps, config.rsft_epochs
        accum = config.rsft_grad_accum
    else:
        batch, steps, epochs = config.hsdpo_batch_size, config.hsdpo_max_steps, config.hsdpo_epochs
        accum = config.hsdpo_grad_accum
    if samples is None and steps > 0:  # a quick run: exactly max_steps optimizer steps
        samples, epochs = steps * batch * accum, 1.0
    if samples is None and stage == "hsdpo" and config.mine_limit:
        samples = config.mine_limit  # HS-DPO trains on the mined pairs: at most one per sampled item
    if samples is None:
        samples = train_rows(config)
    return plan(config.model_name, gpu=gpu, stage=stage, samples=samples, epochs=epochs,
                mean_tokens=mean_tokens or 700.0, max_seq_length=config.max_seq_length, batch_size=batch,
                lora_r=config.lora_r, load_in_4bit=config.load_in_4bit, arch=arch_of(config),
                gradient_checkpointing=config.gradient_checkpointing and gpu != "CPU",
                optim_8bit="8bit" in config.optim and gpu != "CPU", dtype=config.dtype)


COLAB_RAM_GB = 12.7  # a free Colab runtime's RAM (the export's verification loads models there, not on the GPU)
EXPORT_S = (20.0, 150.0)  # export: fixed seconds, + seconds per billion parameters per GGUF file (merge, convert,
# quantize, load back and check): an assumption; benchmarks/plan_accuracy.py checks it on the CPU lanes


@dataclass
class StagePlan:
    """Time and memory of a stage that is not a training run (generation, export), or of the whole course."""
    stage: str
    gpu: str
    hours: float
    peak_gb: float  # GPU memory (generation) or RAM (export)
    notes: list = field(default_factory=list)

    def summary(self) -> str:
        where = "RAM" if self.stage == "export" or self.gpu == "CPU" else "GPU"
        lines = [f"{self.stage} on a {self.gpu}: ≈ {self.hours * 60:.0f} min, peak ≈ {self.peak_gb:.1f} GB {where}"]
        return "\n".join(lines + [f"  {n}" for n in self.notes])


def _weight_bytes(config, arch: Arch, gpu: str) -> float:
    act = precision_of(config.model_name, gpu, config.dtype).bytes_per_param
    return arch.params()["linear"] * (0.56 if config.load_in_4bit else act) + arch.params()["embed"] * act


def plan_generation(config, stage: str = "eval", gpu: str = "T4", variants=("base", "rsft", "hsdpo"),
                    sizes: Optional[dict] = None) -> StagePlan:
    """Evaluation (each variant on every benchmark, plus the held-out check's sample) or mining (k samples per
    item). ``sizes``: each benchmark's row count (``gr_colab.evaluate.BENCHMARKS``), else 1,000 each. Every batch
    decodes to its longest output; an untrained base model to ``max_new_tokens``."""
    arch, device = arch_of(config), timing.DEVICES[gpu]
    fp32 = precision_of(config.model_name, gpu, config.dtype).dtype == "float32"
    wbytes, cap, batch = _weight_bytes(config, arch, gpu), config.max_new_tokens, config.gen_batch_size
    trained = timing.longest(timing.OUTPUT_TOKENS, batch, cap)
    seconds, tokens, notes = 0.0, 0.0, []
    if stage == "eval":
        per_bench = [min(config.eval_limit or n, n) for n in (sizes or {b: 1000 for b in config.eval_benchmarks})
                     .values()]
        held = min(config.holdout_check_limit or 10**9, round(train_rows(config) / (1 - config.holdout_fraction)
                                                                * config.holdout_fraction))
        for v in variants:
            steps = cap if v == "base" else trained
            for n in per_bench + [held]:
                seconds += timing.generation_s(arch, device, n, batch, steps, wbytes, fp32)
                tokens += math.ceil(n / batch) * batch * steps
        notes.append(f"{len(variants)} variant(s) x ({sum(per_bench)} benchmark items + {held} held-out rows); "
                     f"batches of {batch} decode to their longest output: {cap} steps (base), {trained:.0f} "
                     "(trained)")
    elif stage == "mine":
        items = config.mine_limit or train_rows(config)
        seqs = batch * config.mine_k
        steps = timing.longest(timing.OUTPUT_TOKENS, seqs, cap)
        seconds = timing.generation_s(arch, device, items * config.mine_k, seqs, steps, wbytes, fp32)
        tokens = items * config.mine_k * steps
        notes.append(f"{items} items x {config.mine_k} samples, batches of {seqs} sequences x {steps:.0f} steps")
        batch = seqs
    else:
        raise ValueError("stage must be 'eval' or 'mine'")
    step_ms = timing.decode_step_s(arch, device, batch, wbytes) * 1e3
    notes.append(f"{tokens / 1e6:.2f}M decode slots at ≈ {step_ms:.1f} ms a step (batch {batch})")
    kv = batch * (timing.PROMPT_TOKENS + cap) * arch.layers * 2 * arch.kv_heads * arch.hd * 2
    peak = (wbytes + kv + batch * arch.vocab * 4) / 1e9 + (CUDA_OVERHEAD_GB if GPUS[gpu][1] else 0.0)
    return StagePlan(stage, gpu, seconds / 3600, peak, notes)


def plan_export(config, gpu: str = "T4") -> StagePlan:
    """RAM, disk and time of the export: the merged 16-bit model, the GGUF files, and their verification (the
    merged model's greedy reference is computed once, then each GGUF is loaded alone)."""
    total = arch_of(config).params()["total"]
    merged = total * 2 / 1e9
    sizes = {"f16": 2.0, "q8_0": 1.07, "q4_k_m": 0.6}
    files = set(config.gguf_types) | ({"f16"} if "q4_k_m" in config.gguf_types else set())
    gguf = sum(total * sizes[k] for k in files) / 1e9
    ram = max(merged, total * 2 / 1e9) + 1.0  # the merge / the reference in 16-bit, or the largest GGUF, + Python
    notes = [f"disk: merged ≈ {merged:.1f} GB (scratch), GGUF ≈ {gguf:.1f} GB (kept: "
             f"{', '.join(config.gguf_types)})"]
    if ram > COLAB_RAM_GB:
        notes.append(f"⚠ needs ≈ {ram:.1f} GB of RAM, a free Colab runtime has {COLAB_RAM_GB} GB")
    seconds = EXPORT_S[0] + EXPORT_S[1] * total / 1e9 * len(files)
    return StagePlan("export", gpu, seconds / 3600, ram, notes)


def plan_parts(config, gpu: str = "T4", sizes: Optional[dict] = None) -> list:
    """(notebook, plan) for each notebook that trains, generates or exports (their stages only, no setup), named as
    the stage registry names them (``Stage.planned``)."""
    plans = {"rsft": lambda: plan_config(config, gpu=gpu, stage="rsft"),
             "eval": lambda: plan_generation(config, gpu=gpu, variants=("base", "rsft"), sizes=sizes),
             "mine": lambda: plan_generation(config, "mine", gpu),
             "hsdpo": lambda: plan_config(config, gpu=gpu, stage="hsdpo"), "export": lambda: plan_export(config, gpu)}
    return [(s.planned, plans[s.name]()) for s in STAGES if s.planned]


def plan_stages(config, gpu: str = "T4", sizes: Optional[dict] = None, mean_tokens: Optional[float] = None) -> dict:
    """Planned minutes of each stage in the run's order (``gr_colab.stages.RUN_ORDER``), no setup: what
    ``benchmarks/plan_accuracy.py`` and ``benchmarks/gpu_smoke.py`` hold the measured times against."""
    m = lambda p: p.hours * 60  # noqa: E731
    return {"rsft": m(plan_config(config, gpu, "rsft", mean_tokens=mean_tokens)),
            "eval": m(plan_generation(config, gpu=gpu, variants=("base", "rsft"), sizes=sizes)),
            "mine": m(plan_generation(config, "mine", gpu)),
            "hsdpo": m(plan_config(config, gpu, "hsdpo", mean_tokens=mean_tokens)),
            "eval (hsdpo)": m(plan_generation(config, gpu=gpu, variants=("hsdpo",), sizes=sizes)),
            "export": m(plan_export(config, gpu))}


def plan_notebooks(config, gpu: str = "T4", sizes: Optional[dict] = None, cached_llamacpp: bool = False) -> list:
    """(notebook, minutes, {part: minutes}) for notebooks 00-07, each a Colab runtime of its own: its setup
    (connect, install, Drive prompt, secret grant, model download), then its stages. On the CPU: the stages only."""
    parts = dict(plan_parts(config, gpu, sizes))
    colab = GPUS[gpu][1] is not None
    model_gb = _weight_bytes(config, arch_of(config), gpu) / 1e9 if colab else 0.0
    setup = (lambda download: {"setup": timing.setup_min(model_gb if download else 0.0)}) if colab \
        else (lambda download: {})
    m = lambda p: p.hours * 60  # noqa: E731
    eval_hsdpo = plan_generation(config, gpu=gpu, variants=("hsdpo",), sizes=sizes)
    books = [("00 setup", setup(False)), ("01 data and prompts", setup(False)), ("02 synthesis", setup(False)),
             ("03 R-SFT", {**setup(True), "R-SFT": m(parts["03 R-SFT"])}),
             ("04 evaluation", {**setup(True), "evaluation (base, R-SFT)": m(parts["04 evaluation"])}),
             ("05 mining", {**setup(True), "mining": m(parts["05 mining"])}),
             ("06 HS-DPO", {**setup(True), "HS-DPO": m(parts["06 HS-DPO"]), "evaluation (HS-DPO)": m(eval_hsdpo)}),
             ("07 export", {**setup(True), "export": m(parts["07 export"])})]
    if config.compare_ready_guards:  # two ready guards, each about one evaluation of a base model
        books[4][1]["ready guards (opt-in)"] = 2 * m(plan_generation(config, gpu=gpu, variants=("base",), sizes=sizes))
    if colab:
        books[7][1]["llama.cpp build"] = timing.LLAMACPP_CACHED_MIN if cached_llamacpp else timing.LLAMACPP_BUILD_MIN
        books[7][1]["Ollama install"] = timing.OLLAMA_INSTALL_MIN
    return [(name, sum(p.values()), p) for name, p in books]


def plan_session(config, gpu: str = "T4", session_hours: float = FREE_SESSION_HOURS,
                 sizes: Optional[dict] = None) -> list[str]:
    """One line per notebook (its setup and stages) and the whole course, and how it spans sessions."""
    books = plan_notebooks(config, gpu, sizes)
    lines = [f"{name}: ≈ {total:.0f} min (" + (", ".join(f"{k} {v:.0f}" for k, v in parts.items()) or
                                                 "no stage: seconds") + ")" for name, total, parts in books]
    total = sum(t for _, t, _ in books) / 60
    lines.append(f"the whole course with {config.preset} on a {gpu}: ≈ {total:.1f} h"
                 + (", each notebook a runtime of its own: disconnect one (Runtime → Disconnect and delete "
                    "runtime) before opening the next" if GPUS[gpu][1] else ""))
    long = [name.split()[0] for name, t, _ in books if t / 60 > session_hours]
    if long:
        lines.append(f"notebook(s) {', '.join(long)} alone exceed a {session_hours:.0f} h session: run again after a "
                     "disconnect, and the stage resumes from its last checkpoint")
    if total > session_hours:
        sessions, spent = [[]], 0.0
        for name, t, _ in books:  # greedily, in notebook order
            if sessions[-1] and spent + t / 60 > session_hours * 0.9:
                sessions.append([])
                spent = 0.0
            sessions[-1].append(name.split()[0])
            spent += t / 60
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
