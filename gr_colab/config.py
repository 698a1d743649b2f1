"""One config object that travels through every stage.

Flat, like TRL's ``SFTConfig``: a field keeps one name in the YAML, the Python and a notebook's config cell. Named
presets give a working starting point per machine; ``GRConfig.load`` takes a preset, a YAML file or a dict, and a
bad value is refused with the field's name and what it allows.
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

TWIN = "twin"  # model_name of the CPU twin: built locally by gr_colab.twin, never downloaded
GEMMA_270M = "gemma-3-270m-pypi"  # model_name of the real-model lane: built by gr_colab.real_lane from PyPI
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
SAMPLE_TRAIN = ["sample_data/train/WildGuardTrainR.json", "sample_data/train/AegisTrainR.json",
                "sample_data/train/BeaverTailsTrainR.json", "sample_data/train/ToxicChatTrainR.json"]


@dataclass
class GRConfig:
    # --- where and what ------------------------------------------------------------------------------------------
    preset: str = "cpu-tiny"
    run_dir: str = "runs/cpu-tiny"  # every stage writes its artefacts here (a Drive folder on Colab)
    seed: int = 0
    model_name: str = TWIN  # a Hub id, a local folder, or "twin"
    backend: str = "auto"  # auto: Unsloth when CUDA and unsloth are there, else transformers + PEFT
    load_in_4bit: bool = False
    dtype: str = "auto"  # auto: float16 on a T4 (no bf16), bfloat16 on Ampere+, float32 on the CPU
    max_seq_length: int = 1024
    prompt_format: str = "chat"  # chat: the tokenizer's chat template; raw: the official instruction + input string
    task_format: str = "guardreasoner"  # guardreasoner (three tasks) or six_policy (the Colab guide's format)
    # --- data ----------------------------------------------------------------------------------------------------
    train_files: list = field(default_factory=lambda: list(SAMPLE_TRAIN))  # files or hf://<dataset id>[:split]
    train_limit: Optional[int] = None  # rows taken from each training file (each Hub split counts as one file)
    skip_bad_rows: bool = False  # False: the first bad row stops with its file, row and field
    holdout_fraction: float = 0.1  # of the training rows, kept out of R-SFT to measure it
    reasoning: str = "full"  # the reasoning budget: full (the paper's traces), conclusions (each task's conclusion,
    # then the answers), answers (the Answers block alone): shorter outputs, fewer tokens, less latency
    leave_out: Optional[str] = None  # R-SFT "diversity" run: a dataset name (e.g. AegisTrainR) left out
    eval_benchmarks: list = field(default_factory=lambda: ["SimpleSafetyTests", "AegisSafetyTest",
                                                            "HarmBenchPrompt", "HarmBenchResponse",
                                                            "XSTestResponseHarmful", "XSTestResponseRefusal"])
    eval_limit: Optional[int] = 8  # items per benchmark; None for all
    # --- LoRA ----------------------------------------------------------------------------------------------------
    lora_r: int = 16
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    target_modules: list = field(default_factory=lambda: list(LORA_TARGETS))
    modules_to_save: list = field(default_factory=list)  # trained in full beside LoRA (the twin: its embeddings)
    # --- R-SFT (official: full fine-tuning, lr 5e-5, 3 epochs, cosine, no warm-up, batch 384, cutoff 2048) ----
    rsft_epochs: float = 3.0
    rsft_learning_rate: float = 2e-4
    rsft_batch_size: int = 2
    rsft_grad_accum: int = 4
    rsft_max_steps: int = -1  # > 0 overrides epochs, for quick runs
    rsft_warmup_steps: int = 0
    rsft_scheduler: str = "cosine"
    rsft_weight_decay: float = 0.01
    optim: str = "adamw_torch"  # adamw_8bit on a T4
    gradient_checkpointing: bool = False
    group_by_length: bool = True  # batches of similar length waste less compute on padding
    save_steps: int = 50
    save_total_limit: int = 2
    logging_steps: int = 5
    # --- generation and evaluation (official: greedy, 2048 new tokens) -------------------------------------------
    max_new_tokens: int = 512
    gen_batch_size: int = 8
    # --- HS-DPO (official: k=4, T=0.7, top_p 0.95; beta 0.01, SFT weight 2.0, lr 5e-6, 2 epochs, batch 256) ----
    hsdpo_k: int = 4
    mine_limit: Optional[int] = None  # training items to sample for mining; None for all
    hsdpo_temperature: float = 0.7
    hsdpo_top_p: float = 0.95
    hsdpo_beta: float = 0.01
    hsdpo_sft_weight: float = 2.0
    hsdpo_learning_rate: float = 5e-6
    hsdpo_epochs: float = 2.0
    hsdpo_batch_size: int = 1
    hsdpo_grad_accum: int = 8
    hsdpo_max_steps: int = -1
    hsdpo_weight_range: list = field(default_factory=lambda: [0.8, 1.2])
    # --- export --------------------------------------------------------------------------------------------------
    gguf_types: list = field(default_factory=lambda: ["f16", "q8_0", "q4_k_m"])  # the files kept (and verified)
    scratch_dir: Optional[str] = None  # big intermediates (merged weights, an f16 made only for q4_k_m); None:
    # inside run_dir, except on Colab with run_dir on Drive, where they go to Colab's local disk (Drive: 15 GB free)
    hub_repo: Optional[str] = None  # e.g. "your-name/guardreasoner-1b-lora"; pushing needs HF_TOKEN
    hub_push: bool = False  # True: notebook 07 uploads to hub_repo (needs HF_TOKEN); False: a dry run, files listed
    hub_private: bool = True
    # --- MODPO, chapter 09: a chat model helpful and safe (paper: beta 0.1, lr 5e-4, 3 epochs, w 0.1/0.5/0.9) ------
    modpo_data: str = "hf://PKU-Alignment/PKU-SafeRLHF-10K"  # PKU-SafeRLHF-shaped rows: hf://id, a file or a folder
    modpo_limit: Optional[int] = None  # rows to load, for quick runs; None for all
    modpo_test_fraction: float = 0.1  # held out (seed: seed), as the MODPO code splits; their prompts are answered
    modpo_eval_prompts: int = 200  # held-out prompts each model answers greedily (the paper: 200)
    modpo_weights: list = field(default_factory=lambda: [0.1, 0.5, 0.9])  # w: helpfulness weight; 1 - w: safety
    modpo_beta: float = 0.1  # of both steps and of every implicit reward (margins, helpfulness, cost)
    modpo_learning_rate: float = 5e-4
    modpo_epochs: float = 3.0
    modpo_max_steps: int = -1  # > 0 overrides epochs, for quick runs
    modpo_batch_size: int = 1
    modpo_grad_accum: int = 8
    modpo_max_new_tokens: int = 256  # length of the chat answers (the guard judging them uses max_new_tokens)
    modpo_safety_labels: str = "dataset"  # dataset; guard (ties, unparsed: the dataset's id); guard-strict (dropped)
    modpo_guard_adapter: Optional[str] = None  # the guard judging cost; None: the run's HS-DPO, else R-SFT adapter
    # --- red-teaming (notebook 08, gr_colab.redteam: ReverseGen, arXiv 2410.16736) -------------------------------
    redteam_target: str = "guard"  # guard: a failure is a guard label unlike the reference's; chat: a chat model's
    #                                answer the guard judges harmful (the paper's attack success)
    redteam_reference: str = "lexicon"  # (guard) the labels compared with: lexicon (the CPU's seed-word judge) or a
    #                                     GuardReasoner-format model id/folder, e.g. yueliu1999/GuardReasoner-1B
    redteam_lexicon_confidence: float = 0.8  # the lexicon's Naive Bayes labels a request only when this sure
    redteam_target_model: Optional[str] = None  # (chat) the model that answers; None: model_name, no adapter
    redteam_response_tokens: int = 128  # (chat) new tokens per answer
    redteam_proposer_model: Optional[str] = None  # the proposer's base model; None: model_name
    redteam_guard_adapter: Optional[str] = None  # the guard attacked; None: the run's hsdpo, else rsft adapter
    redteam_seeds: str = "sample_data/redteam/seeds.jsonl"  # {id, request, label, source} rows, one a line
    redteam_heldout_fraction: float = 0.2  # of the seeds: only the held-out prompts that measure hardening use them
    redteam_shots: int = 3  # seed requests per few-shot prompt (the paper: 3)
    redteam_iterations: int = 2  # sample → dedup → label → pair → DPO rounds (the paper: "several")
    redteam_prompts: int = 8  # few-shot prompts per iteration
    redteam_samples: int = 8  # candidates sampled per prompt
    redteam_heldout_prompts: int = 8  # prompts of held-out seeds for the before/after failure rate
    redteam_temperature: float = 1.0  # the paper's sampling: temperature 1.0, top_p 0.9
    redteam_top_p: float = 0.9
    redteam_max_new_tokens: int = 48  # per candidate request (the paper allows 512)
    redteam_dedup_threshold: float = 0.78  # MinHash Jaccard (word unigrams) at which the later text is dropped
    redteam_num_perm: int = 128  # MinHash permutations (ReverseGen's minhash.sh)
    redteam_semantic_threshold: Optional[float] = None  # a second, semantic dedup pass (semhash, cosine); None: off
    redteam_semantic_model: str = "minishlab/potion-base-8M"  # its static embeddings (model2vec, from the Hub)
    redteam_warmup_items: int = 256  # few-shot items of the proposer's supervised warm-up
    redteam_warmup_epochs: float = 1.0
    redteam_warmup_max_steps: int = -1  # > 0 overrides the epochs
    redteam_pairs_per_prompt: int = 4  # DPO pairs drawn from one prompt's failing x passing requests, at most
    redteam_beta: float = 0.1  # the proposer's DPO beta (the paper's)
    redteam_dpo_learning_rate: Optional[float] = None  # None: hsdpo_learning_rate (the paper: 5e-5)
    redteam_dpo_epochs: float = 1.0
    redteam_dpo_max_steps: int = -1  # > 0 overrides the epochs
    redteam_harden_epochs: float = 3.0  # R-SFT of the guard on the failures found
    redteam_harden_max_steps: int = -1  # > 0 overrides the epochs
    redteam_replay_ratio: float = 1.0  # own training rows replayed per failure while hardening, against forgetting
    redteam_teacher: Optional[str] = None  # hardening traces: None: a template reasoning to the reference label;
    #                                        else a synthesis teacher (openai, ollama, llama.cpp, vllm, a base URL)

    # ------------------------------------------------------------------------------------------------------------
    def __post_init__(self):
        _validate(self)

    @classmethod
    def load(cls, source: Union[str, Path, dict, "GRConfig", None] = None, **overrides) -> "GRConfig":
        """A preset name, a YAML file, a dict or a config, then ``overrides`` on top."""
        if isinstance(source, GRConfig):
            data = dataclasses.asdict(source)
        elif isinstance(source, dict):
            data = _from_mapping(source, "the dict")
        elif source is None:
            data = dict(PRESETS["cpu-tiny"])
        elif str(source) == AUTO or str(source) in PRESETS:
            data = dict(PRESETS[resolve_preset(str(source))])
        elif Path(source).suffix in (".yaml", ".yml") or Path(source).exists():
            data = _from_yaml(Path(source))
        else:
            raise ConfigError(f"{source!r} is neither a preset ({', '.join(PRESETS)}) nor a YAML file")
        data.update(_check_keys(overrides, "the overrides"))
        return cls(**data)

    def replace(self, **changes) -> "GRConfig":
        return GRConfig(**{**dataclasses.asdict(self), **_check_keys(changes, "replace()")})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_yaml(self, path: Union[str, Path, None] = None) -> str:
        import yaml

        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            Path(path).write_text(text)
        return text

    @property
    def path(self) -> Path:
        return Path(self.run_dir)

    @property
    def is_twin(self) -> bool:
        return self.model_name == TWIN


AUTO = "auto"  # the notebooks' default preset: t4-270m on a GPU, cpu-tiny without one


def resolve_preset(name: str) -> str:
    """``auto`` → ``t4-270m`` when a CUDA GPU is visible (a Colab T4), else ``cpu-tiny``; any other name as is."""
    if name != AUTO:
        return name
    try:
        import torch

        gpu = torch.cuda.is_available()
    except ImportError:
        gpu = False
    return "t4-270m" if gpu else "cpu-tiny"


class ConfigError(ValueError):
    """A config value the kit cannot use; the message names the field and what is allowed."""


_CHOICES = {
    "backend": ("auto", "unsloth", "transformers"),
    "dtype": ("auto", "float32", "float16", "bfloat16"),
    "prompt_format": ("chat", "raw"),
    "task_format": ("guardreasoner", "six_policy"),
    "reasoning": ("full", "conclusions", "answers"),
    "rsft_scheduler": ("cosine", "linear", "constant", "constant_with_warmup"),
    "optim": ("adamw_torch", "adamw_8bit", "paged_adamw_8bit", "adafactor", "sgd"),
}
_GGUF_TYPES = ("f16", "q8_0", "q4_k_m")
_DATASETS = ("WildGuardTrainR", "AegisTrainR", "BeaverTailsTrainR", "ToxicChatTrainR")


def _fields() -> dict:
    return {f.name: f for f in dataclasses.fields(GRConfig)}


def _check_keys(data: dict, where: str) -> dict:
    known = _fields()
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known fields: {', '.join(known)}"
            raise ConfigError(f"unknown config field {key!r} in {where}{hint}")
    return dict(data)


def _from_mapping(data: dict, where: str) -> dict:
    data = _check_keys(data, where)
    preset = data.get("preset")
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"preset: {preset!r} is not a preset; allowed: {', '.join(PRESETS)} (in {where})")
    return {**PRESETS[preset or "cpu-tiny"], **data}


def _from_yaml(path: Path) -> dict:
    import yaml

    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of field: value")
    return _from_mapping(data, str(path))


def _validate(cfg: GRConfig) -> None:
    for name, f in _fields().items():
        value = getattr(cfg, name)
        expected = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        optional = expected.startswith("Optional")
        base = expected.removeprefix("Optional[").rstrip("]")
        if value is None:
            if not optional:
                raise ConfigError(f"{name}: must be set (a {base})")
            continue
        ok = {"int": isinstance(value, int) and not isinstance(value, bool),
              "float": isinstance(value, (int, float)) and not isinstance(value, bool),
              "bool": isinstance(value, bool), "str": isinstance(value, str),
              "list": isinstance(value, list)}.get(base, True)
        if not ok:
            raise ConfigError(f"{name}: expected a {base}, got {value!r} ({type(value).__name__})")
        if name in _CHOICES and value not in _CHOICES[name]:
            raise ConfigError(f"{name}: {value!r} is not allowed; choose one of {', '.join(_CHOICES[name])}")
    positive = ["max_seq_length", "lora_r", "lora_alpha", "rsft_batch_size", "rsft_grad_accum", "save_steps",
                "logging_steps", "max_new_tokens", "gen_batch_size", "hsdpo_k", "hsdpo_batch_size",
                "hsdpo_grad_accum", "save_total_limit"]
    for name in positive:
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"{name}: must be a positive whole number, got {getattr(cfg, name)!r}")
    for name in ["rsft_learning_rate", "hsdpo_learning_rate", "hsdpo_beta", "rsft_epochs", "hsdpo_epochs"]:
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"{name}: must be > 0, got {getattr(cfg, name)!r}")
    for name in ["train_limit", "eval_limit", "mine_limit"]:
        if getattr(cfg, name) is not None and getattr(cfg, name) <= 0:
            raise ConfigError(f"{name}: must be a positive whole number or null, got {getattr(cfg, name)!r}")
    if not 0.0 <= cfg.lora_dropout < 1.0:
        raise ConfigError(f"lora_dropout: must be in [0, 1), got {cfg.lora_dropout!r}")
    if not 0.0 <= cfg.holdout_fraction < 1.0:
        raise ConfigError(f"holdout_fraction: must be in [0, 1), got {cfg.holdout_fraction!r}")
    if not 0.0 < cfg.hsdpo_top_p <= 1.0 or cfg.hsdpo_temperature <= 0:
        raise ConfigError("hsdpo_top_p must be in (0, 1] and hsdpo_temperature > 0")
    lo_hi = cfg.hsdpo_weight_range
    if len(lo_hi) != 2 or not all(isinstance(v, (int, float)) for v in lo_hi) or not 0 < lo_hi[0] <= lo_hi[1]:
        raise ConfigError(f"hsdpo_weight_range: expected [low, high] with 0 < low <= high, got {lo_hi!r}")
    bad = [t for t in cfg.gguf_types if t not in _GGUF_TYPES]
    if bad:
        raise ConfigError(f"gguf_types: {bad} not allowed; choose from {', '.join(_GGUF_TYPES)}")
    if cfg.leave_out is not None and cfg.leave_out not in _DATASETS:
        raise ConfigError(f"leave_out: {cfg.leave_out!r} is not a GuardReasonerTrain split; "
                          f"allowed: {', '.join(_DATASETS)}")
    if cfg.preset not in PRESETS:
        raise ConfigError(f"preset: {cfg.preset!r} is not a preset; allowed: {', '.join(PRESETS)}")
    if not cfg.train_files:
        raise ConfigError("train_files: give at least one file or hf://dataset id")
    if cfg.load_in_4bit and cfg.is_twin:
        raise ConfigError("load_in_4bit: the CPU twin runs in full precision; set load_in_4bit: false")
    # MODPO (chapter 09)
    weights = cfg.modpo_weights
    if not weights or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and 0 < w <= 1
                              for w in weights) or len(set(weights)) != len(weights):
        raise ConfigError(f"modpo_weights: expected distinct helpfulness weights in (0, 1], got {weights!r}")
    if cfg.modpo_safety_labels not in ("dataset", "guard", "guard-strict"):
        raise ConfigError(f"modpo_safety_labels: {cfg.modpo_safety_labels!r} is not allowed; choose one of "
                          "dataset, guard, guard-strict")
    if not 0.0 < cfg.modpo_test_fraction < 1.0:
        raise ConfigError(f"modpo_test_fraction: must be in (0, 1), got {cfg.modpo_test_fraction!r}")
    for name in ["modpo_eval_prompts", "modpo_batch_size", "modpo_grad_accum", "modpo_max_new_tokens"]:
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"{name}: must be a positive whole number, got {getattr(cfg, name)!r}")
    for name in ["modpo_beta", "modpo_learning_rate", "modpo_epochs"]:
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"{name}: must be > 0, got {getattr(cfg, name)!r}")
    if cfg.modpo_limit is not None and cfg.modpo_limit <= 0:
        raise ConfigError(f"modpo_limit: must be a positive whole number or null, got {cfg.modpo_limit!r}")
    _validate_redteam(cfg)


def _validate_redteam(cfg: GRConfig) -> None:
    if cfg.redteam_target not in ("guard", "chat"):
        raise ConfigError(f"redteam_target: {cfg.redteam_target!r} is not allowed; choose one of guard, chat")
    for name in ["redteam_shots", "redteam_iterations", "redteam_prompts", "redteam_samples",
                 "redteam_heldout_prompts", "redteam_max_new_tokens", "redteam_num_perm", "redteam_warmup_items",
                 "redteam_pairs_per_prompt", "redteam_response_tokens"]:
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"{name}: must be a positive whole number, got {getattr(cfg, name)!r}")
    for name in ["redteam_temperature", "redteam_beta", "redteam_warmup_epochs", "redteam_dpo_epochs",
                 "redteam_harden_epochs"]:
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"{name}: must be > 0, got {getattr(cfg, name)!r}")
    if cfg.redteam_dpo_learning_rate is not None and cfg.redteam_dpo_learning_rate <= 0:
        raise ConfigError(f"redteam_dpo_learning_rate: must be > 0 or null, got {cfg.redteam_dpo_learning_rate!r}")
    if cfg.redteam_semantic_threshold is not None and not 0.0 < cfg.redteam_semantic_threshold <= 1.0:
        raise ConfigError("redteam_semantic_threshold: must be in (0, 1] or null, got "
                          f"{cfg.redteam_semantic_threshold!r}")
    for name, lo, hi in [("redteam_top_p", 0.0, 1.0), ("redteam_dedup_threshold", 0.0, 1.0),
                         ("redteam_lexicon_confidence", 0.5, 1.0)]:
        if not lo < getattr(cfg, name) <= hi:
            raise ConfigError(f"{name}: must be in ({lo}, {hi}], got {getattr(cfg, name)!r}")
    if not 0.0 <= cfg.redteam_heldout_fraction < 1.0:
        raise ConfigError(f"redteam_heldout_fraction: must be in [0, 1), got {cfg.redteam_heldout_fraction!r}")
    if cfg.redteam_replay_ratio < 0:
        raise ConfigError(f"redteam_replay_ratio: must be >= 0, got {cfg.redteam_replay_ratio!r}")


def _t4(**kw) -> dict:
    """What the free T4 wants: 4-bit, fp16, 8-bit Adam, gradient checkpointing, batch 2 x 4 (Unsloth's defaults)."""
    base = dict(backend="auto", load_in_4bit=True, dtype="float16", max_seq_length=2048, optim="adamw_8bit",
                gradient_checkpointing=True, rsft_batch_size=2, rsft_grad_accum=4, rsft_learning_rate=2e-4,
                rsft_epochs=1.0, rsft_warmup_steps=10, max_new_tokens=1024, gen_batch_size=16, eval_limit=200,
                train_files=["hf://yueliu1999/GuardReasonerTrain"], train_limit=2000, save_steps=100,
                logging_steps=10, hsdpo_batch_size=1, hsdpo_grad_accum=8, mine_limit=1000)
    base.update(kw)
    return base


PRESETS: dict[str, dict] = {
    # The CPU twin: a tiny Llama built on the spot; the whole pipeline in minutes on 2 cores.
    "cpu-tiny": dict(preset="cpu-tiny", run_dir="runs/cpu-tiny", model_name=TWIN, backend="transformers",
                     dtype="float32", max_seq_length=1024, rsft_batch_size=8, rsft_grad_accum=1,
                     rsft_learning_rate=3e-3, rsft_max_steps=100, rsft_scheduler="constant", lora_r=16,
                     modules_to_save=["embed_tokens", "lm_head"],  # random embeddings must learn too
                     lora_alpha=32, save_steps=20, logging_steps=5, max_new_tokens=320, gen_batch_size=16,
                     eval_limit=8, hsdpo_k=4, mine_limit=64, hsdpo_temperature=1.0, hsdpo_learning_rate=1e-3,
                     hsdpo_epochs=3.0, hsdpo_batch_size=4, hsdpo_grad_accum=1, hsdpo_beta=0.1,
                     gguf_types=["f16", "q8_0", "q4_k_m"]),
    # The real-model lane: Gemma 3 270M (base) with its real tokenizer and Gemma 3 IT's chat template, on the CPU,
    # offline (gr_colab.real_lane). Slow (seconds a step): for the truth about templates, stop tokens and GGUF.
    "cpu-270m": dict(preset="cpu-270m", run_dir="runs/cpu-270m", model_name=GEMMA_270M, backend="transformers",
                     dtype="float32", max_seq_length=512, rsft_batch_size=2, rsft_grad_accum=1,
                     rsft_learning_rate=5e-4, rsft_max_steps=12, rsft_scheduler="constant", lora_r=16,
                     lora_alpha=32, save_steps=6, logging_steps=2, max_new_tokens=64, gen_batch_size=8,
                     eval_limit=4, hsdpo_k=2, mine_limit=6, hsdpo_temperature=1.0, hsdpo_learning_rate=5e-5,
                     hsdpo_epochs=1.0, hsdpo_batch_size=2, hsdpo_grad_accum=1, hsdpo_max_steps=2,
                     hsdpo_beta=0.1, gguf_types=["f16", "q8_0", "q4_k_m"]),
    # The workshop fast lane: minutes on a T4, a GGUF of about 250 MB. Small enough for 16-bit LoRA.
    "t4-270m": _t4(preset="t4-270m", run_dir="runs/t4-270m", model_name="unsloth/gemma-3-270m-it",
                   load_in_4bit=False, rsft_batch_size=2, rsft_grad_accum=8, train_limit=3000),  # batch 2: Gemma's
    # 262k-word vocabulary makes the logits the biggest tensor (batch 8 needs ~16 GB: `gr-colab plan`)
    "t4-1b": _t4(preset="t4-1b", run_dir="runs/t4-1b", model_name="unsloth/Llama-3.2-1B-Instruct",
                 gguf_types=["q8_0", "q4_k_m"]),  # what is kept on Drive (15 GB free); f16 is scratch
    "t4-3b": _t4(preset="t4-3b", run_dir="runs/t4-3b", model_name="unsloth/Llama-3.2-3B-Instruct",
                 rsft_batch_size=1, rsft_grad_accum=8, gen_batch_size=8, train_limit=1000, gguf_types=["q4_k_m"]),
    "a100-8b": _t4(preset="a100-8b", run_dir="runs/a100-8b", model_name="unsloth/Meta-Llama-3.1-8B-Instruct",
                   dtype="bfloat16", optim="adamw_torch", rsft_batch_size=8, rsft_grad_accum=4,
                   train_limit=None, eval_limit=None, max_new_tokens=2048, gen_batch_size=32,
                   hsdpo_batch_size=2, hsdpo_grad_accum=16),
}


# --- MODPO (chapter 09): each preset's values, kept in one block -----------------------------------------------------
# The CPU presets train on the bundled sample for a few steps each; the GPU presets on a slice of PKU-SafeRLHF-10K
# (one epoch over 2,000 rows: not measured on a T4 yet); the A100 on all of it, as the paper.
_MODPO_CPU = dict(modpo_data="sample_data/modpo/saferlhf_sample.jsonl", modpo_eval_prompts=6,
                  modpo_learning_rate=1e-3, modpo_max_steps=4, modpo_batch_size=4, modpo_grad_accum=1,
                  modpo_max_new_tokens=16)
_MODPO_PRESETS = {
    "cpu-tiny": _MODPO_CPU,
    "cpu-270m": {**_MODPO_CPU, "modpo_learning_rate": 5e-4, "modpo_max_steps": 4, "modpo_batch_size": 2,
                 "modpo_eval_prompts": 4, "modpo_max_new_tokens": 32},
    "t4-270m": dict(modpo_limit=2000, modpo_epochs=1.0, modpo_eval_prompts=100),
    "t4-1b": dict(modpo_limit=2000, modpo_epochs=1.0, modpo_eval_prompts=100),
    "t4-3b": dict(modpo_limit=1000, modpo_epochs=1.0, modpo_eval_prompts=100),
    "a100-8b": dict(modpo_batch_size=4, modpo_grad_accum=2),
}
for _name, _values in _MODPO_PRESETS.items():
    if _name in PRESETS:
        PRESETS[_name].update(_values)


# --- red-teaming (chapter 08): each preset's counts, kept in one block ----------------------------------------------
# The CPU presets run a couple of minutes (the twin) or tens of minutes (cpu-270m) per run; the GPU presets follow the
# paper's scale more closely (not measured on a T4 yet). The field defaults are the middle ground.
_REDTEAM_PRESETS = {
    "cpu-tiny": dict(redteam_prompts=4, redteam_samples=6, redteam_heldout_prompts=4, redteam_harden_max_steps=12),
    "cpu-270m": dict(redteam_prompts=3, redteam_samples=4, redteam_heldout_prompts=2, redteam_warmup_max_steps=8,
                     redteam_dpo_max_steps=2, redteam_harden_max_steps=2, redteam_max_new_tokens=32),
    "t4-270m": dict(redteam_iterations=3, redteam_prompts=64, redteam_heldout_prompts=32, redteam_warmup_items=2048),
    "t4-1b": dict(redteam_iterations=3, redteam_prompts=64, redteam_heldout_prompts=32, redteam_warmup_items=2048),
    "t4-3b": dict(redteam_iterations=3, redteam_prompts=32, redteam_heldout_prompts=16, redteam_warmup_items=1024),
    "a100-8b": dict(redteam_iterations=3, redteam_prompts=128, redteam_heldout_prompts=64, redteam_warmup_items=4096),
}
for _name, _values in _REDTEAM_PRESETS.items():
    if _name in PRESETS:
        PRESETS[_name].update(_values)
