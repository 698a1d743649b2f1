"""One way to get a model, whatever the machine.

Models layer. ``load_model(config)`` picks the backend (Unsloth on CUDA when it is installed, else transformers +
PEFT: 4-bit through bitsandbytes on CUDA, full precision on the CPU), says which and why, and returns the same
:class:`LoadedModel` either way. The CPU twin (``model_name: twin``) is built on the spot by :mod:`gr_colab.twin`.
Chat templates and stop tokens always come from the model's tokenizer, never from a table in the kit.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from .config import GEMMA_270M, ConfigError, GRConfig
from .dist import local_rank
from .runtime import SAMPLE_DATA


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    backend: str  # "unsloth" or "transformers"
    device: str
    dtype: Any
    reason: str  # why this backend: shown to the student
    model_path: str = ""

    def describe(self) -> str:
        return f"{self.backend} on {self.device} ({self.dtype}): {self.reason}"


def cache_dir() -> Path:
    """Where the CPU twin is built: ``$GR_COLAB_CACHE`` or ``~/.cache/gr_colab``; rebuilt in seconds when absent."""
    return Path(os.environ.get("GR_COLAB_CACHE") or Path.home() / ".cache" / "gr_colab")


def twin_corpus() -> list[str]:
    """The texts the twin's tokenizer learns from: the bundled sample data, so the twin speaks the guard format."""
    from .data import load_train, read_records
    from .prompts import INSTRUCTION, SIX_POLICIES, policy_prompt

    texts = [INSTRUCTION, *SIX_POLICIES.values(), policy_prompt("x", "violence")]
    for f in sorted((SAMPLE_DATA / "train").glob("*.json")):
        for row in load_train(f).rows:
            texts += [row["input"], row["output"]]
    policy = SAMPLE_DATA / "six_policy" / "training_data.json"
    if policy.exists():
        import json

        data = json.loads(policy.read_text())
        texts += [s["content"] for s in data["samples"]] + [t["reasoning"] for t in data["reasoning_traces"].values()]
    for f in sorted((SAMPLE_DATA / "benchmarks").glob("*.json")):
        texts += [r["input"] for r in read_records(f)[:50]]
    return texts


def resolve_model_path(config: GRConfig) -> str:
    """A local folder for the models the kit builds itself (the twin, the real-model lane), else the name as given."""
    if config.is_twin:
        from .twin import build_twin

        return str(build_twin(cache_dir() / "twin", twin_corpus(), seed=config.seed))
    if config.model_name == GEMMA_270M:
        from .real_lane import build_gemma_270m

        return str(build_gemma_270m(cache_dir() / "real_lane"))
    return config.model_name


UNSLOTH_FALLBACK_COST = ("the transformers + bitsandbytes path trains the same LoRA, about 2x slower and with more "
                         "memory for activations")


def choose_backend(config: GRConfig) -> tuple[str, str, str]:
    """(backend, device, reason). With ``backend: auto`` on CUDA, Unsloth is imported here, inside a guard: when the
    import fails (a version drift, a missing extra) the transformers path runs and the reason says why and what it
    costs. With ``backend: unsloth`` the error stands, with the fix. A GPU preset without a GPU is an error too."""
    import torch

    cuda = torch.cuda.is_available()
    has_unsloth = importlib.util.find_spec("unsloth") is not None
    if config.backend == "unsloth":
        if not cuda:
            raise ConfigError("backend: 'unsloth' needs a CUDA GPU and none is visible (on Colab: Runtime > "
                              "Change runtime type > T4 GPU); use backend: auto or the cpu-tiny preset")
        if not has_unsloth:
            raise ConfigError("backend: 'unsloth' is not installed; run the install cell (pip install -r "
                              "requirements.txt)")
        error = import_unsloth()
        if error:
            raise ConfigError(f"backend: 'unsloth' does not import ({error}). Fix: Runtime > Restart session and run "
                              "the Setup cell again (it reinstalls the pinned versions), or set backend: auto to "
                              "run the transformers path")
        return "unsloth", "cuda", "asked for in the config"
    if config.backend == "auto" and cuda and has_unsloth and not config.is_twin:
        error = import_unsloth()
        if not error:
            return "unsloth", "cuda", "CUDA and Unsloth are available: the fast path"
        if config.load_in_4bit and importlib.util.find_spec("bitsandbytes") is None:
            raise ConfigError(f"Unsloth does not import ({error}) and bitsandbytes, the 4-bit fallback, is not "
                              "installed: Runtime > Restart session and run the Setup cell again")
        return "transformers", "cuda", (f"transformers + PEFT: Unsloth did not import ({error}); "
                                        f"{UNSLOTH_FALLBACK_COST}")
    if config.load_in_4bit and not cuda:
        raise ConfigError(f"load_in_4bit: preset {config.preset!r} loads 4-bit weights, which needs a CUDA GPU, "
                          "and none is visible; use --preset cpu-tiny on a CPU, or a GPU runtime")
    why = ("the CPU twin" if config.is_twin else "no CUDA GPU" if not cuda else
           "Unsloth is not installed" if not has_unsloth else "asked for in the config")
    return "transformers", "cuda" if cuda else "cpu", f"transformers + PEFT ({why})"


def import_unsloth() -> str:
    """Import Unsloth (once per process; it patches transformers and TRL); "" when it loaded, else the first line of
    the error. Called only on CUDA: on a CPU Unsloth 2026.10.9 would load its CPU backend and patch TRL for the
    whole process (unsloth/__init__.py 1652-1663), which the transformers lane must not see."""
    try:
        import unsloth  # noqa: F401
    except Exception as exc:  # any import failure: the caller falls back or stops, saying this line
        first = (str(exc).strip().splitlines() or [""])[0]
        return f"{type(exc).__name__}: {first[:200]}"
    return ""


def resolve_precision(config: GRConfig, device: str):
    """The :class:`gr_colab.precision.Precision` for this config on this device (the GPU's capability decides)."""
    from .precision import decide, gpu_capability

    return decide(config.model_name, device, gpu_capability() if device == "cuda" else None, config.dtype)


def resolve_dtype(config: GRConfig, device: str):
    return resolve_precision(config, device).torch_dtype()


def load_model(config: GRConfig, adapter: Union[str, Path, None] = None, trainable: bool = True) -> LoadedModel:
    """The base model with a fresh LoRA adapter, or with a saved ``adapter``; ``trainable`` False for inference."""
    backend, device, reason = choose_backend(config)
    precision = resolve_precision(config, device)
    dtype = precision.torch_dtype()
    reason = f"{reason}; {precision.reason}"
    if backend == "unsloth":
        from . import unsloth_backend

        path = resolve_model_path(config)
        if adapter is not None:
            model, tokenizer = unsloth_backend.load_adapter(str(adapter), config, dtype)
        else:
            model, tokenizer = unsloth_backend.load(config, path, dtype)
        if not trainable:
            unsloth_backend.for_inference(model)
        prepare_tokenizer(tokenizer)
        if adapter is None and trainable:
            warn_untrained_turn_token(config, model, tokenizer)
        return LoadedModel(model, tokenizer, backend, device, dtype, reason, path)

    import torch  # late import: on the Unsloth path above, Unsloth must be imported before transformers and peft
    from peft import PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model_path(config)
    if adapter is not None and is_full_model(adapter):  # a full fine-tune's folder: the whole model, no adapter
        path, adapter = str(adapter), None
    tokenizer = AutoTokenizer.from_pretrained(path)
    prepare_tokenizer(tokenizer)
    kwargs: dict = {"dtype": dtype, "use_safetensors": True}  # never a pickle from outside
    gpu = f"cuda:{local_rank()}"  # under a launcher, this process's GPU (not every process on GPU 0)
    if config.load_in_4bit and device == "cuda":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype,
            bnb_4bit_use_double_quant=True)
        kwargs["device_map"] = {"": gpu}
    torch.manual_seed(config.seed)
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if device == "cuda" and "device_map" not in kwargs:
        model.to(gpu)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=trainable)
    elif trainable and config.finetune == "lora":  # finetune: full trains the model itself
        if config.load_in_4bit and device == "cuda":
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model, config.gradient_checkpointing)
        from .training import lora_config

        warn_untrained_turn_token(config, model, tokenizer)
        model = get_peft_model(model, lora_config(config, tokenizer))
    if not trainable:
        model.eval()
    return LoadedModel(model, tokenizer, backend, device, dtype, reason, path)


def untrained_rows(model, token_id: int, threshold: float = 0.99) -> int:
    """How many other rows of the input embeddings point the same way as ``token_id``'s (cosine >= ``threshold``).
    A row the pre-training never updated keeps its shared initialisation: Gemma 3 270M base's ``<end_of_turn>`` has
    4,666 such neighbours (``<unusedNNN>`` and rare tokens), a trained token none (its ``<start_of_turn>``: 0,
    ``<eos>``: 0, max cosine 0.96 and 0.61)."""
    import torch

    weight = model.get_input_embeddings().weight.detach()
    rows = torch.nn.functional.normalize(weight.float(), dim=1)
    cos = rows @ rows[int(token_id)]
    return int((cos >= threshold).sum()) - 1


def untrained_template_tokens(model, tokenizer, neighbours: int = 100) -> list[str]:
    """The chat template's own special tokens whose rows look never trained (``neighbours`` near-duplicates or more):
    what ``trainable_tokens`` should list for a base model, and nothing more. Each listed row trains beside LoRA and
    moves every prompt that holds it; a row already trained (Gemma 3 270M base's ``<start_of_turn>``) need not."""
    if not getattr(tokenizer, "chat_template", None):
        return []
    text = tokenizer.apply_chat_template([{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}],
                                         tokenize=False)
    specials = set(tokenizer.all_special_tokens) | set(getattr(tokenizer, "added_tokens_encoder", {}) or {})
    tokens = dict.fromkeys(tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False)["input_ids"]))
    return [t for t in tokens if t in specials and untrained_rows(model, tokenizer.convert_tokens_to_ids(t))
            >= neighbours]


def warn_untrained_turn_token(config, model, tokenizer, neighbours: int = 100) -> Optional[str]:
    """A printed warning when LoRA is about to train a chat-format model whose turn-closing token looks never
    trained (a base model, not an instruction-tuned one) and ``trainable_tokens`` is empty: LoRA alone moves the
    hidden state toward that row but cannot separate it from its near-duplicates (tied embeddings: the output row
    is the same), so greedy decoding picks a neighbour instead of ending the turn. The advice names the template's
    tokens that look untrained (``untrained_template_tokens``)."""
    if config.prompt_format != "chat" or config.trainable_tokens or config.finetune != "lora":
        return None
    closing = _turn_closing_token(tokenizer)
    if closing is None:
        return None
    count = untrained_rows(model, closing)
    if count < neighbours:
        return None
    token = tokenizer.convert_ids_to_tokens(closing)
    advice = untrained_template_tokens(model, tokenizer, neighbours)
    message = (f"warning: {token!r}, which ends the assistant's turn in {config.model_name}'s chat template, looks "
               f"untrained (its embedding row has {count} near-duplicates, cosine >= 0.99): a base model, not an "
               f"instruction-tuned one. LoRA alone may not teach it to end its turn; set trainable_tokens: {advice} "
               f"(the template's tokens that look untrained) to train those rows too, or pick an -it model")
    print(message)
    return message


def is_full_model(folder: Union[str, Path]) -> bool:
    """A stage's model folder holds a whole model (``finetune: full``), not a PEFT adapter."""
    folder = Path(folder)
    return not (folder / "adapter_config.json").is_file() and (folder / "config.json").is_file()


def prepare_tokenizer(tokenizer):
    """Every tokenizer the kit loads passes here: batches need a pad token (a tokenizer without one pads with its
    end-of-text token, masked anyway), and a dated chat template (Llama 3.x) gets its date fixed, so training, the
    exported GGUF and the Ollama Modelfile all render the same prompt whatever the day."""
    from .templates import pin_date

    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = pin_date(tokenizer.chat_template)
    return tokenizer


def stop_token_ids(tokenizer, model: Optional[Any] = None, model_dir: Union[str, Path, None] = None) -> list[int]:
    """Every id that ends a turn: the generation config's eos list (Llama 3.x has three: ``<|end_of_text|>``,
    ``<|eom_id|>``, ``<|eot_id|>``; Gemma 3 IT two), the tokenizer's eos, and the token that closes an assistant
    turn in the chat template (Gemma's ``<end_of_turn>`` even when a base model's generation config omits it).
    The generation config comes from ``model`` or, for a saved folder (an export), from ``model_dir``."""
    ids: list[int] = []
    gen = getattr(model, "generation_config", None) if model is not None else None
    if gen is None and model_dir is not None and (Path(model_dir) / "generation_config.json").is_file():
        from transformers import GenerationConfig

        gen = GenerationConfig.from_pretrained(str(model_dir))
    eos = getattr(gen, "eos_token_id", None)
    closing = _turn_closing_token(tokenizer)
    for value in (eos if isinstance(eos, list) else [eos]) + [tokenizer.eos_token_id] + [closing]:
        if value is not None and int(value) not in ids:
            ids.append(int(value))
    return ids


def _turn_closing_token(tokenizer) -> Optional[int]:
    """The first token after an assistant message in the chat template, when it is a special token."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    probe = "\x01A\x01"
    text = tokenizer.apply_chat_template([{"role": "user", "content": "u"}, {"role": "assistant", "content": probe}],
                                         tokenize=False)
    after = text[text.index(probe) + len(probe):]
    for tok in sorted(tokenizer.all_special_tokens + list(getattr(tokenizer, "added_tokens_encoder", {}) or {}),
                      key=len, reverse=True):
        if tok and tok.strip() and after.startswith(tok):
            return tokenizer.convert_tokens_to_ids(tok)
    return None


def render_prompt(tokenizer, messages_or_text: Union[str, list], prompt_format: str = "chat") -> str:
    """The exact text the model sees before it answers, through the tokenizer's own chat template."""
    if prompt_format == "raw":
        return messages_or_text if isinstance(messages_or_text, str) else messages_or_text[-1]["content"]
    messages = ([{"role": "user", "content": messages_or_text}] if isinstance(messages_or_text, str)
                else messages_or_text)
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def template_parts(tokenizer) -> tuple[str, str]:
    """The text that opens a user turn and an assistant turn in this tokenizer's own chat template, found by
    rendering probe conversations (no table of model families), for Unsloth's response-only masking."""
    u1, a1, u2 = "\x01U1\x01", "\x01A1\x01", "\x01U2\x01"
    render = lambda msgs, gen=False: tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)
    one = [{"role": "user", "content": u1}]
    response_part = render(one, True)[len(render(one)):]
    two = render(one + [{"role": "assistant", "content": a1}])
    close = two[two.index(a1) + len(a1):]
    three = render(one + [{"role": "assistant", "content": a1}, {"role": "user", "content": u2}])
    between = three[three.index(a1) + len(a1):three.index(u2)]
    instruction_part = between[len(close):] if between.startswith(close) else between
    if not response_part.strip() or not instruction_part.strip():
        raise ValueError("this tokenizer's chat template has no visible user/assistant markers")
    return instruction_part, response_part
