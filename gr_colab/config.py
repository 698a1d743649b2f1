"""One config object that travels through every stage.

Flat, like TRL's ``SFTConfig``: a field keeps one name in the YAML, the Python and a notebook's config cell, and
everything about it is said where it is declared (``_f``: its default, its help, its allowed values or bounds),
so :func:`field_help` and the validation read the same facts. Named presets (:mod:`gr_colab.presets`) give a
working starting point per machine; ``GRConfig.load`` takes a preset, a YAML file or a dict, and a bad value is
refused with the field's name and what it allows.
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from .presets import AUTO, GEMMA_270M, PRESETS, TWIN, resolve_preset  # noqa: F401  (re-exported)
from .trainer_settings import DPOSettings, RSFTSettings

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
SAMPLE_TRAIN = ["sample_data/train/WildGuardTrainR.json", "sample_data/train/AegisTrainR.json",
                "sample_data/train/BeaverTailsTrainR.json", "sample_data/train/ToxicChatTrainR.json"]
DATASETS = ("WildGuardTrainR", "AegisTrainR", "BeaverTailsTrainR", "ToxicChatTrainR")
RENAMED = {"hsdpo_k": "mine_k", "hsdpo_temperature": "mine_temperature", "hsdpo_top_p": "mine_top_p",  # old: new
           "hsdpo_weight_range": "mine_weight_range", "reasoning": "reasoning_budget"}


def _f(default: Any, help: str, **rules) -> Any:
    """A documented field. ``rules``: ``choices`` (allowed values; ``kind`` names them in the error), ``each``
    (allowed values of a list's items),
    ``ge``/``gt``/``le``/``lt`` (numeric bounds; None passes when the field is Optional)."""
    meta = {"help": help, **rules}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class GRConfig:
    # --- where and what ------------------------------------------------------------------------------------------
    preset: str = _f("cpu-tiny", "the named starting point (gr_colab.presets): cpu-tiny, cpu-270m, t4-270m, t4-1b, "
                     "t4-3b, a100-8b, multi-gpu-8b, full-8b-zero3 (docs/scale.md); a notebook's 'auto' picks "
                     "t4-270m on a GPU, cpu-tiny without")
    run_dir: str = _f("runs/cpu-tiny", "every stage writes its files here (on Colab a Drive folder: it survives a "
                      "disconnect)")
    seed: int = _f(0, "one seed for the held-out split, training, sampling and the chapters' splits")
    model_name: str = _f(TWIN, "a Hub id, a model folder, 'twin' (the CPU twin), 'gemma-3-270m-pypi' (real lane)")
    backend: str = _f("auto", "auto: Unsloth with CUDA when it imports, else transformers + PEFT (said, with the "
                      "import error); unsloth: Unsloth or a clear error", choices=("auto", "unsloth", "transformers"))
    load_in_4bit: bool = _f(False, "a 4-bit (bitsandbytes) base under the LoRA adapter: QLoRA, what fits a T4")
    dtype: str = _f("auto", "auto: from the GPU (gr_colab.precision): float16 on a T4, but float32 for families "
                    "that overflow in float16 (Gemma 3), bfloat16 at compute capability 8+, float32 on the CPU",
                    choices=("auto", "float32", "float16", "bfloat16"))
    max_seq_length: int = _f(1024, "tokens of prompt + trace kept in training (the paper: 2048)", ge=1)
    prompt_format: str = _f("chat", "chat: the tokenizer's chat template (one user turn); raw: the official "
                            "instruction + input string of the released models", choices=("chat", "raw"))
    task_format: str = _f("guardreasoner", "guardreasoner: the paper's three tasks; six_policy: the Colab guide's "
                          "six-policy format", choices=("guardreasoner", "six_policy"))
    # --- data ----------------------------------------------------------------------------------------------------
    train_files: list = _f(SAMPLE_TRAIN, "training files (GuardReasonerTrain rows), or hf://<dataset id>[:split] "
                           "(each split loaded by name), or a local dataset folder")
    train_limit: Optional[int] = _f(None, "rows taken from each training file or Hub split: a seeded sample over "
                                    "the whole file (said in the data report); None: all", ge=1)
    skip_bad_rows: bool = _f(False, "False: the first bad row stops with its file, row and field; True: bad rows "
                             "are skipped and counted in the load report")
    holdout_fraction: float = _f(0.1, "of the training rows, kept out of R-SFT to measure what it changed",
                                 ge=0, lt=1)
    reasoning_budget: str = _f("full", "the reasoning budget: full (the paper's traces), conclusions (each task's "
                               "conclusion, then the answers), answers (the Answers block alone): fewer tokens, "
                               "less latency (was: reasoning)", choices=("full", "conclusions", "answers"))
    leave_out: Optional[str] = _f(None, "a GuardReasonerTrain split left out of training (the paper's data-"
                                  "diversity ablation); None: all", choices=DATASETS,
                                  kind="GuardReasonerTrain split")
    eval_benchmarks: list = _f(["SimpleSafetyTests", "AegisSafetyTest", "HarmBenchPrompt", "HarmBenchResponse",
                                "XSTestResponseHarmful", "XSTestResponseRefusal"],
                               "benchmarks scored by the evaluation stage (gr_colab.evaluate.BENCHMARKS)")
    eval_limit: Optional[int] = _f(8, "first items of each benchmark; None: all", ge=1)
    holdout_check_limit: Optional[int] = _f(100, "held-out rows each model variant generates for in the format "
                                            "check (a seeded sample; all: ~1,180 x 3 variants on t4-270m); 100 "
                                            "fits one session in minutes; None: all", ge=1)
    compare_ready_guards: bool = _f(False, "notebook 04: also run Llama Guard 3 1B and Qwen3Guard-Gen-0.6B on the "
                                    "same benchmarks (a GPU and the Hub; each as long as one evaluation)")
    # --- LoRA ----------------------------------------------------------------------------------------------------
    finetune: str = _f("lora", "lora: a LoRA adapter on a frozen base; full: every weight, as the paper (8B: "
                       "ZeRO-3/FSDP, full-8b-zero3; 'adapter' then holds the whole model)", choices=("lora", "full"))
    lora_r: int = _f(16, "LoRA rank: the adapter's capacity (the official R-SFT is full fine-tuning)", ge=1)
    lora_alpha: int = _f(16, "LoRA scaling numerator: the update is scaled by lora_alpha / lora_r", ge=1)
    lora_dropout: float = _f(0.0, "dropout on the LoRA input (0: Unsloth's fast path)", ge=0, lt=1)
    target_modules: list = _f(LORA_TARGETS, "the linear layers that get an adapter (all of attention and MLP)")
    modules_to_save: list = _f([], "modules trained in full beside LoRA (the twin: its random embeddings)")
    trainable_tokens: list = _f([], "embedding rows trained beside LoRA (PEFT's trainable tokens): only a base "
                                "model's never-trained turn tokens, else it cannot stop (cpu-270m: <end_of_turn>)")
    # --- R-SFT (official: full fine-tuning, lr 5e-5, 3 epochs, cosine, no warm-up, batch 384, cutoff 2048) ----
    rsft_epochs: float = _f(3.0, "passes over the training rows (ignored when rsft_max_steps > 0)", gt=0)
    rsft_learning_rate: float = _f(2e-4, "peak learning rate (LoRA wants more than the official 5e-5)", gt=0)
    rsft_batch_size: int = _f(2, "sequences per device step", ge=1)
    rsft_grad_accum: int = _f(4, "steps accumulated per optimizer update: effective batch = batch x accum", ge=1)
    rsft_effective_batch: Optional[int] = _f(None, "a target effective batch (batch x processes x accumulation; "
                                             "the paper: 384): the accumulation follows; None: rsft_grad_accum", ge=1)
    rsft_max_steps: int = _f(-1, "> 0: train exactly this many optimizer steps, overriding epochs (quick runs)")
    rsft_warmup_steps: int = _f(0, "linear warm-up steps before the schedule", ge=0)
    rsft_scheduler: str = _f("cosine", "learning-rate schedule (transformers' names)",
                             choices=("cosine", "linear", "constant", "constant_with_warmup"))
    rsft_weight_decay: float = _f(0.01, "AdamW weight decay", ge=0)
    optim: str = _f("adamw_torch", "optimizer on a GPU (adamw_8bit on a T4); the CPU always uses adamw_torch",
                    choices=("adamw_torch", "adamw_8bit", "paged_adamw_8bit", "adafactor", "sgd"))
    gradient_checkpointing: bool = _f(False, "recompute activations in the backward pass: less memory, ~30% "
                                      "slower (GPU only)")
    group_by_length: bool = _f(False, "True: LengthGroupedSampler, less padding but the longest rows first (a short "
                               "run trains mostly on cut traces: docs/real_lane.md); False: random order, TRL's")
    save_steps: int = _f(50, "a checkpoint every this many steps (the unit a disconnect can lose)", ge=1)
    save_total_limit: int = _f(2, "checkpoints kept; older ones are deleted by the Trainer", ge=1)
    logging_steps: int = _f(5, "log loss (and DPO's rewards) every this many steps: the curves' resolution", ge=1)
    report_to: str = _f("none", "live training curves: trackio (to <run_dir>/trackio or tracking_space; shown in "
                        "notebooks 03, 06); none: curves.png only", choices=("none", "trackio"))
    tracking_project: str = _f("gr-colab", "the trackio project the runs are filed under (a workshop: one name for "
                               "the class)")
    tracking_space: Optional[str] = _f(None, "a Hugging Face Space ('org/name') receiving every run of "
                                       "tracking_project: the whole class in one place (HF_TOKEN with write "
                                       "access); None: local logs only")
    tracking_run: Optional[str] = _f(None, "this run's name on the dashboard (a workshop: yours); None: the run "
                                     "folder's")
    # --- generation and evaluation (official: greedy, 2048 new tokens) -------------------------------------------
    max_new_tokens: int = _f(512, "new tokens per guard answer; a trace cut off here does not parse", ge=1)
    gen_batch_size: int = _f(8, "prompts generated together (left-padded, sorted by length)", ge=1)
    generation_backend: str = _f("transformers", "evaluation and mining: transformers (in this process) or vllm "
                                 "(a GPU; gr_colab.vllm_backend)", choices=("transformers", "vllm"))
    tensor_parallel_size: int = _f(1, "(vllm) GPUs one vLLM engine splits the model over", ge=1)
    vllm_gpu_memory_utilization: float = _f(0.9, "(vllm) share of each GPU's memory vLLM may take", gt=0, le=1)
    # --- mining (official: k=4 samples at T=0.7, top_p 0.95, from the R-SFT models) ------------------------------
    mine_k: int = _f(4, "outputs sampled per training item; a hard sample has right and wrong ones", ge=1)
    mine_limit: Optional[int] = _f(None, "training items sampled for mining (a seeded sample); None: all", ge=1)
    mine_temperature: float = _f(0.7, "sampling temperature of mining", gt=0)
    mine_top_p: float = _f(0.95, "nucleus sampling of mining", gt=0, le=1)
    mine_weight_range: list = _f([0.8, 1.2], "[low, high]: the mined pairs' weights (HS-DPO's sample_weight), "
                                 "higher for harder samples (fewer right outputs among the k)")
    # --- HS-DPO (official: beta 0.01, SFT weight 2.0, lr 5e-6, 2 epochs, batch 256, weights in [0.8, 1.2]) -------
    hsdpo_beta: float = _f(0.01, "DPO's beta: how far the policy may move from the R-SFT reference", gt=0)
    hsdpo_sft_weight: float = _f(2.0, "weight of the NLL term on the chosen trace (LLaMA-Factory's pref_ftx)",
                                 ge=0)
    hsdpo_learning_rate: float = _f(5e-6, "peak learning rate of HS-DPO", gt=0)
    hsdpo_epochs: float = _f(2.0, "passes over the hard samples (ignored when hsdpo_max_steps > 0)", gt=0)
    hsdpo_batch_size: int = _f(1, "pairs per device step", ge=1)
    hsdpo_grad_accum: int = _f(8, "steps accumulated per optimizer update", ge=1)
    hsdpo_effective_batch: Optional[int] = _f(None, "a target effective batch (the paper: 256 = 1 x 4 GPUs x 64): "
                                              "the accumulation follows the processes; None: hsdpo_grad_accum", ge=1)
    hsdpo_max_steps: int = _f(-1, "> 0: exactly this many optimizer steps, overriding epochs")
    # --- export --------------------------------------------------------------------------------------------------
    gguf_types: list = _f(["f16", "q8_0", "q4_k_m"], "the GGUF files kept (and each verified in llama.cpp)",
                          each=("f16", "q8_0", "q4_k_m"))
    scratch_dir: Optional[str] = _f(None, "big intermediates (merged weights, an f16 for q4_k_m); None: in run_dir, "
                                    "but Colab's local disk when run_dir is on Drive (15 GB free)")
    hub_repo: Optional[str] = _f(None, "e.g. 'your-name/guardreasoner-1b-lora'; pushing needs HF_TOKEN")
    hub_push: bool = _f(False, "True: notebook 07 uploads to hub_repo (needs HF_TOKEN); False: a dry run that "
                        "lists the files")
    hub_private: bool = _f(True, "the Hub repository is created private")
    # --- MODPO, chapter 09: a chat model helpful and safe (paper: beta 0.1, lr 5e-4, 3 epochs, w 0.1/0.5/0.9) ------
    modpo_data: str = _f("hf://PKU-Alignment/PKU-SafeRLHF-10K", "PKU-SafeRLHF rows: hf://id, a file or a folder")
    modpo_limit: Optional[int] = _f(None, "rows to load, for quick runs; None: all", ge=1)
    modpo_test_fraction: float = _f(0.1, "held out (seed: seed), as the MODPO code splits; their prompts are "
                                    "answered", gt=0, lt=1)
    modpo_eval_prompts: int = _f(200, "held-out prompts each model answers greedily (the paper: 200)", ge=1)
    modpo_weights: list = _f([0.1, 0.5, 0.9], "w per MODPO model: helpfulness weight w, safety 1 - w; distinct, "
                             "in (0, 1]")
    modpo_beta: float = _f(0.1, "beta of both steps and of every implicit reward (margins, helpfulness, cost)",
                           gt=0)
    modpo_learning_rate: float = _f(5e-4, "peak learning rate of both MODPO steps", gt=0)
    modpo_epochs: float = _f(3.0, "passes over the pairs (ignored when modpo_max_steps > 0)", gt=0)
    modpo_max_steps: int = _f(-1, "> 0: exactly this many steps, overriding epochs (quick runs)")
    modpo_batch_size: int = _f(1, "pairs per device step", ge=1)
    modpo_grad_accum: int = _f(8, "steps accumulated per optimizer update", ge=1)
    modpo_max_new_tokens: int = _f(256, "length of the chat answers (the guard judging them uses max_new_tokens)",
                                   ge=1)
    modpo_safety_labels: str = _f("dataset", "dataset; guard (ties, unparsed: the dataset's); guard-strict (dropped)",
                                  choices=("dataset", "guard", "guard-strict"))
    modpo_guard_adapter: Optional[str] = _f(None, "the guard judging cost; None: the run's HS-DPO, else R-SFT")
    # --- red-teaming, chapter 08 (gr_colab.redteam: ReverseGen, arXiv 2410.16736) --------------------------------
    redteam_target: str = _f("guard", "guard: a failure is a guard label unlike the reference's; chat: a chat "
                             "model's answer the guard judges harmful (attack success)", choices=("guard", "chat"))
    redteam_reference: str = _f("lexicon", "(guard) the labels compared with: lexicon (the CPU's seed-word judge) "
                                "or a GuardReasoner-format model id/folder, e.g. yueliu1999/GuardReasoner-1B")
    redteam_lexicon_confidence: float = _f(0.8, "the lexicon's Naive Bayes labels a request only when this sure",
                                           gt=0.5, le=1)
    redteam_target_model: Optional[str] = _f(None, "(chat) the model that answers; None: model_name, no adapter")
    redteam_response_tokens: int = _f(128, "(chat) new tokens per answer", ge=1)
    redteam_proposer_model: Optional[str] = _f(None, "the proposer's base model; None: model_name")
    redteam_guard_adapter: Optional[str] = _f(None, "the guard attacked; None: the run's HS-DPO, else R-SFT")
    redteam_seeds: str = _f("sample_data/redteam/seeds.jsonl", "{id, request, label, source} rows, one a line")
    redteam_heldout_fraction: float = _f(0.2, "of the seeds, kept for the prompts measuring hardening", ge=0, lt=1)
    redteam_shots: int = _f(3, "seed requests per few-shot prompt (the paper: 3)", ge=1)
    redteam_iterations: int = _f(2, "sample → dedup → label → pair → DPO rounds (the paper: 'several')", ge=1)
    redteam_prompts: int = _f(8, "few-shot prompts per iteration", ge=1)
    redteam_samples: int = _f(8, "candidates sampled per prompt", ge=1)
    redteam_heldout_prompts: int = _f(8, "prompts of held-out seeds for the before/after failure rate", ge=1)
    redteam_temperature: float = _f(1.0, "the proposer's sampling temperature (the paper: 1.0)", gt=0)
    redteam_top_p: float = _f(0.9, "the proposer's nucleus sampling (the paper: 0.9)", gt=0, le=1)
    redteam_max_new_tokens: int = _f(48, "per candidate request (the paper allows 512)", ge=1)
    redteam_dedup_threshold: float = _f(0.78, "MinHash Jaccard (word unigrams) at which the later text is dropped",
                                        gt=0, le=1)
    redteam_num_perm: int = _f(128, "MinHash permutations (ReverseGen's minhash.sh)", ge=1)
    redteam_semantic_threshold: Optional[float] = _f(None, "a semantic dedup pass (semhash, cosine); None: off",
                                                     gt=0, le=1)
    redteam_semantic_model: str = _f("minishlab/potion-base-8M", "its static embeddings (model2vec, from the Hub)")
    redteam_warmup_items: int = _f(256, "few-shot items of the proposer's supervised warm-up", ge=1)
    redteam_warmup_epochs: float = _f(1.0, "passes of the warm-up (ignored when redteam_warmup_max_steps > 0)", gt=0)
    redteam_warmup_max_steps: int = _f(-1, "> 0 overrides the epochs")
    redteam_pairs_per_prompt: int = _f(4, "DPO pairs drawn from one prompt's failing x passing requests, at most",
                                       ge=1)
    redteam_beta: float = _f(0.1, "the proposer's DPO beta (the paper's)", gt=0)
    redteam_dpo_learning_rate: Optional[float] = _f(None, "the proposer's DPO learning rate; None: "
                                                    "hsdpo_learning_rate (the paper: 5e-5)", gt=0)
    redteam_dpo_epochs: float = _f(1.0, "passes of the proposer's DPO per iteration", gt=0)
    redteam_dpo_max_steps: int = _f(-1, "> 0 overrides the epochs")
    redteam_harden_epochs: float = _f(3.0, "R-SFT of the guard on the failures found", gt=0)
    redteam_harden_max_steps: int = _f(-1, "> 0 overrides the epochs")
    redteam_replay_ratio: float = _f(1.0, "own training rows replayed per failure while hardening, against "
                                     "forgetting", ge=0)
    redteam_teacher: Optional[str] = _f(None, "hardening traces: None: a template reasoning to the reference label; "
                                        "else a synthesis teacher (openai, ollama, llama.cpp, vllm, a base URL)")

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
    def layout(self):
        """Where this run's files are (:class:`gr_colab.runs.RunLayout`)."""
        from .runs import RunLayout

        return RunLayout(self.run_dir)

    @property
    def is_twin(self) -> bool:
        return self.model_name == TWIN

    def rsft_settings(self) -> RSFTSettings:
        """R-SFT's trainer settings from the flat rsft_* fields (a chapter builds its own instead)."""
        return RSFTSettings.from_config(self)

    def hsdpo_settings(self) -> DPOSettings:
        """HS-DPO's trainer settings from the flat hsdpo_* fields (a chapter builds its own instead)."""
        return DPOSettings.from_config(self)

    def __getattr__(self, name: str):  # only for names that are not fields: a renamed field's old name still reads
        if name in RENAMED:
            return getattr(self, RENAMED[name])
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class ConfigError(ValueError):
    """A config value the kit cannot use; the message names the field and what is allowed."""


def _fields() -> dict:
    return {f.name: f for f in dataclasses.fields(GRConfig)}


def _check_keys(data: dict, where: str) -> dict:
    """Unknown fields refused with the closest name; the old names of renamed fields accepted, with a note."""
    known = _fields()
    out = {}
    for key, value in data.items():
        if key in RENAMED:
            print(f"note: config field {key!r} is now {RENAMED[key]!r} (in {where}); the old name still works")
            key = RENAMED[key]
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known fields: {', '.join(known)}"
            raise ConfigError(f"unknown config field {key!r} in {where}{hint}")
        out[key] = value
    return out


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


_BOUNDS = {"ge": (lambda v, b: v >= b, ">="), "gt": (lambda v, b: v > b, ">"), "le": (lambda v, b: v <= b, "<="),
           "lt": (lambda v, b: v < b, "<")}


def _check_field(name: str, f: dataclasses.Field, value: Any) -> None:
    """One field against its declared type and rules."""
    expected = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    optional = expected.startswith("Optional")
    base = expected.removeprefix("Optional[").rstrip("]")
    if value is None:
        if not optional:
            raise ConfigError(f"{name}: must be set (a {base})")
        return
    ok = {"int": isinstance(value, int) and not isinstance(value, bool),
          "float": isinstance(value, (int, float)) and not isinstance(value, bool),
          "bool": isinstance(value, bool), "str": isinstance(value, str),
          "list": isinstance(value, list)}.get(base, True)
    if not ok:
        raise ConfigError(f"{name}: expected a {base}, got {value!r} ({type(value).__name__})")
    rules = f.metadata
    if "choices" in rules and value not in rules["choices"]:
        if "kind" in rules:
            raise ConfigError(f"{name}: {value!r} is not a {rules['kind']}; allowed: {', '.join(rules['choices'])}")
        raise ConfigError(f"{name}: {value!r} is not allowed; choose one of {', '.join(rules['choices'])}")
    if "each" in rules:
        bad = [v for v in value if v not in rules["each"]]
        if bad:
            raise ConfigError(f"{name}: {bad} not allowed; choose from {', '.join(rules['each'])}")
    if any(key in rules and not test(value, rules[key]) for key, (test, _) in _BOUNDS.items()):
        if base == "int" and rules.get("ge") == 1:
            raise ConfigError(f"{name}: must be a positive whole number{' or null' if optional else ''}, "
                              f"got {value!r}")
        allowed = " and ".join(f"{op} {rules[key]}" for key, (_, op) in _BOUNDS.items() if key in rules)
        raise ConfigError(f"{name}: must be {allowed}{' (or null)' if optional else ''}, got {value!r}")


def _validate(cfg: GRConfig) -> None:
    for name, f in _fields().items():
        _check_field(name, f, getattr(cfg, name))
    lo_hi = cfg.mine_weight_range  # what one field cannot say alone
    if len(lo_hi) != 2 or not all(isinstance(v, (int, float)) for v in lo_hi) or not 0 < lo_hi[0] <= lo_hi[1]:
        raise ConfigError(f"mine_weight_range: expected [low, high] with 0 < low <= high, got {lo_hi!r}")
    if cfg.preset not in PRESETS:
        raise ConfigError(f"preset: {cfg.preset!r} is not a preset; allowed: {', '.join(PRESETS)}")
    if not cfg.train_files:
        raise ConfigError("train_files: give at least one file or hf://dataset id")
    if cfg.load_in_4bit and cfg.finetune == "full":
        raise ConfigError("finetune: 'full' trains every weight, which a 4-bit base cannot; set load_in_4bit: false")
    if cfg.load_in_4bit and cfg.is_twin:
        raise ConfigError("load_in_4bit: the CPU twin runs in full precision; set load_in_4bit: false")
    weights = cfg.modpo_weights
    if not weights or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and 0 < w <= 1
                              for w in weights) or len(set(weights)) != len(weights):
        raise ConfigError(f"modpo_weights: expected distinct helpfulness weights in (0, 1], got {weights!r}")


def field_help(name: Optional[str] = None) -> str:
    """Every field (or one) with its default, what it is for and what it allows: the config's documentation."""
    lines = []
    for f in dataclasses.fields(GRConfig):
        if name and f.name != name:
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        rules = {k: v for k, v in f.metadata.items() if k not in ("help", "kind")}
        allowed = "; ".join(f"{k} {v}" for k, v in rules.items())
        lines.append(f"{f.name} = {default!r}: {f.metadata.get('help', '')}" + (f" [{allowed}]" if allowed else ""))
    if name and not lines:
        raise ConfigError(f"unknown config field {name!r}")
    return "\n".join(lines)
