"""Export: merged 16-bit weights, GGUF files verified in llama.cpp, an Ollama Modelfile, and the Hub.

Stage. Merging uses Unsloth's merged save on the GPU and PEFT's ``merge_and_unload`` otherwise. GGUF comes from
llama.cpp's own converter (f16, q8_0) and quantizer (q4_k_m) through :mod:`gr_colab.llamacpp`; every file is then
loaded in llama.cpp and its greedy output compared with the merged model's on a fixed guard prompt, from the same
token ids, so a conversion bug shows as a number, not as a student's confused Ollama session.
"""
from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Union

from .config import GRConfig
from .models import prepare_tokenizer
from .ollama import write_modelfile
from .prompts import format_input, user_content
from .runtime import SCRATCH, atomic_write_json, on_drive, replace_dir

CHECK_PROMPT = format_input("How can I get into my neighbour's wifi without them knowing?")
BYTES_PER_PARAM = {"f16": 2.0, "q8_0": 1.07, "q4_k_m": 0.6}


class ExportError(RuntimeError):
    pass


@dataclass
class GGUFCheck:
    kind: str
    path: str
    size_mb: float
    seconds: float
    loads: bool
    same_tokens: bool  # greedy continuation identical to the merged model's
    agreement: float  # fraction of greedy positions equal before the first divergence, over the compared length
    first_divergence: Optional[int]
    max_logit_diff: float  # at the first generated position
    template_matches: Optional[bool]  # the GGUF's chat template renders the guard prompt as training did
    tokenizer_matches: Optional[bool]  # llama.cpp's tokenization of the prompt equals the HF tokenizer's
    notes: list = field(default_factory=list)


def check_disk(path: Union[str, Path], need_bytes: float, what: str) -> None:
    """Refuse before writing rather than leave a truncated file on a full Colab disk."""
    path = Path(path)
    probe = path if path.exists() else next((p for p in path.parents if p.exists()), Path("."))
    free = shutil.disk_usage(probe).free
    if free < need_bytes * 1.1:
        raise ExportError(f"not enough disk for {what}: needs about {need_bytes / 1e9:.2f} GB, "
                          f"{free / 1e9:.2f} GB free at {probe}. Free space (delete old checkpoints) or export "
                          "fewer GGUF types (gguf_types).")


def merge_adapter(config: GRConfig, adapter_dir: Union[str, Path], out_dir: Union[str, Path], loaded=None) -> Path:
    """The adapter folded into 16-bit (CPU twin: 32-bit) weights, saved as safetensors with the tokenizer."""
    from .models import load_model

    out_dir = Path(out_dir)
    loaded = loaded or load_model(config, adapter=adapter_dir, trainable=False)
    n_params = sum(p.numel() for p in loaded.model.parameters())
    check_disk(out_dir, n_params * 2, "the merged model")
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    if tmp.exists():  # a merge cut off before: never read
        shutil.rmtree(tmp)
    if loaded.backend == "unsloth":
        from . import unsloth_backend

        unsloth_backend.save_merged(loaded.model, loaded.tokenizer, str(tmp))
        _copy_sentencepiece_model(loaded.model_path, tmp)  # the GPU path keeps it (unsloth/save.py 790-836); the CPU
        # backend's merged save does not (unsloth_zoo/cpu/loader.py 588), and llama.cpp then tokenizes differently
    else:
        merged = loaded.model.merge_and_unload() if hasattr(loaded.model, "merge_and_unload") else loaded.model
        if loaded.device == "cuda":  # 16-bit, except a family that overflows in fp16 on a GPU without bf16
            merged = merged.to(loaded.dtype if loaded.dtype is not None else merged.dtype)
        merged.save_pretrained(str(tmp), safe_serialization=True)
        loaded.tokenizer.save_pretrained(str(tmp))
        _copy_sentencepiece_model(loaded.model_path, tmp)
    return replace_dir(tmp, out_dir)


def _copy_sentencepiece_model(base: str, out: Path) -> None:
    """A fast tokenizer saves tokenizer.json only; llama.cpp's converter needs the base's tokenizer.model (its scores)
    to tokenize as transformers does, so it is copied along when the base has one."""
    if (out / "tokenizer.model").exists():
        return
    src = Path(base) / "tokenizer.model"
    if not src.exists() and not Path(base).exists():
        try:
            from huggingface_hub import hf_hub_download

            src = Path(hf_hub_download(base, "tokenizer.model"))
        except Exception:  # most BPE models (Llama 3) have none
            return
    if src.exists():
        shutil.copyfile(src, out / "tokenizer.model")


REFERENCE_FP32_MAX_PARAMS = 1.5e9  # above this the CPU reference runs in bfloat16: a 3B model in float32 is 13 GB,
# more than Colab's 12.7 GB of RAM


def hf_reference(model_dir: Path, ids: list[int], n: int) -> tuple[list, "object"]:
    """Greedy continuation and first-step logits of the merged model, computed once per export and then freed, so
    that only one model (this one, then each GGUF in turn) is ever in memory: on a GPU in the precision
    :mod:`gr_colab.precision` picks for its family (never Gemma 3 in fp16), else on the CPU in float32 for small
    models and bfloat16 for large ones."""
    import gc

    import torch
    from transformers import AutoModelForCausalLM

    cuda = torch.cuda.is_available()
    big = _param_count(Path(model_dir)) > REFERENCE_FP32_MAX_PARAMS
    if cuda:
        from .precision import decide, gpu_capability

        model_type = json.loads((Path(model_dir) / "config.json").read_text()).get("model_type", "")
        dtype = decide(model_type, "cuda", gpu_capability()).torch_dtype()
    else:
        dtype = torch.bfloat16 if big else torch.float32
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=dtype, use_safetensors=True,
                                                 device_map={"": 0} if cuda else None).eval()
    device = "cuda" if cuda else "cpu"
    with torch.inference_mode():
        x = torch.tensor([ids], device=device)
        first = model(x).logits[0, -1].float().cpu()
        out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=n, do_sample=False,
                             temperature=None, top_p=None, top_k=None, eos_token_id=None, pad_token_id=0,
                             min_new_tokens=n)
    tokens = out[0, len(ids):].tolist()
    del model, out
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return tokens, first


def check_ids(tokenizer) -> tuple[str, list[int]]:
    from .models import render_prompt

    text = render_prompt(tokenizer, user_content(CHECK_PROMPT))
    return text, tokenizer(text, add_special_tokens=False)["input_ids"]


def verify_gguf(gguf_path: Union[str, Path], merged_dir: Union[str, Path], kind: str, tokenizer,
                n_tokens: int = 24, seconds: float = 0.0, reference=None) -> GGUFCheck:
    """Load in llama.cpp; compare greedy tokens and logits with the merged model's (``reference`` from
    :func:`hf_reference`, computed here when not given); check template and tokenizer."""
    import numpy as np

    from .llamacpp import load_gguf

    path = Path(gguf_path)
    text, ids = check_ids(tokenizer)
    notes = []
    hf_tokens, hf_logits = reference or hf_reference(Path(merged_dir), ids, n_tokens)
    try:
        llm = load_gguf(path, n_ctx=max(512, len(ids) + n_tokens + 8))
    except Exception as exc:  # a GGUF llama.cpp cannot load is the finding, reported
        return GGUFCheck(kind, str(path), path.stat().st_size / 1e6, seconds, False, False, 0.0, 0, float("nan"),
                         None, None, [f"llama.cpp could not load it: {exc}"])
    llm.reset()
    llm.eval(ids)
    cpp_first = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
    cpp_tokens = []
    for _ in range(len(hf_tokens)):  # greedy by hand from the same ids: no sampler, no tokenizer in between
        nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        cpp_tokens.append(nxt)
        llm.eval([nxt])
    first_div = next((i for i, (a, b) in enumerate(zip(hf_tokens, cpp_tokens)) if a != b), None)
    agreement = (first_div if first_div is not None else len(hf_tokens)) / max(1, len(hf_tokens))
    max_diff = float(np.max(np.abs(cpp_first[:hf_logits.shape[0]] - hf_logits.numpy())))
    template_ok = tokenizer_ok = None
    meta = getattr(llm, "metadata", {}) or {}
    tmpl = meta.get("tokenizer.chat_template")
    if tmpl:
        from .llamacpp import render_chat

        try:  # as llama.cpp's chat handler renders it, from the template inside the GGUF
            rendered = render_chat(tmpl, [{"role": "user", "content": user_content(CHECK_PROMPT)}],
                                   tokenizer.bos_token or "", tokenizer.eos_token or "")
            template_ok = rendered == text
            if not template_ok:
                notes.append("the GGUF's chat template renders the guard prompt differently from training")
        except Exception as exc:
            notes.append(f"the embedded chat template did not render: {exc}")
            template_ok = False
    else:
        notes.append("no chat template in the GGUF metadata")
    try:
        cpp_ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        tokenizer_ok = list(cpp_ids) == list(ids)
        if not tokenizer_ok:
            notes.append("llama.cpp tokenizes the prompt differently from the HF tokenizer")
    except Exception as exc:
        notes.append(f"llama.cpp tokenize failed: {exc}")
    llm.close()
    return GGUFCheck(kind, str(path), round(path.stat().st_size / 1e6, 2), round(seconds, 2), True,
                     cpp_tokens == hf_tokens, round(agreement, 3), first_div, round(max_diff, 5), template_ok,
                     tokenizer_ok, notes)


def export_gguf(merged_dir: Union[str, Path], out_dir: Union[str, Path], kinds: list[str], name: str,
                tokenizer=None, scratch_dir: Union[str, Path, None] = None) -> list[GGUFCheck]:
    """Write each GGUF type (q4_k_m from the f16 file), verify each, and return the checks. An f16 file made only
    as the quantizer's input goes to ``scratch_dir`` (Colab's local disk, not Drive) and is deleted after."""
    from .llamacpp import convert_to_gguf, ensure_tools, quantize_gguf

    ensure_tools()
    merged_dir, out_dir = Path(merged_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if tokenizer is None:
        from transformers import AutoTokenizer

        from .models import prepare_tokenizer

        tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(str(merged_dir)))
    n_params = _param_count(merged_dir)
    reference = hf_reference(merged_dir, check_ids(tokenizer)[1], 24)  # once, before any GGUF is loaded
    checks, paths = [], {}
    for kind in [k for k in ("f16", "q8_0", "q4_k_m") if k in kinds or (k == "f16" and "q4_k_m" in kinds)]:
        folder = out_dir if kind in kinds or scratch_dir is None else Path(scratch_dir)
        target = folder / f"{name}-{kind}.gguf"
        check_disk(folder, n_params * BYTES_PER_PARAM[kind] + 50e6, f"{target.name}")
        start = time.time()
        if kind == "q4_k_m":
            quantize_gguf(paths["f16"], target, "q4_k_m")
        else:
            convert_to_gguf(merged_dir, target, kind)
        paths[kind] = target
        if kind in kinds:
            checks.append(verify_gguf(target, merged_dir, kind, tokenizer, seconds=time.time() - start,
                                      reference=reference))
    if "f16" not in kinds and "f16" in paths:
        paths["f16"].unlink()  # only the quantizer's input: not asked for, not kept
    atomic_write_json(out_dir / "gguf_checks.json", [asdict(c) for c in checks])
    return checks


def _param_count(model_dir: Path) -> int:
    from safetensors import safe_open

    total = 0
    for f in model_dir.glob("*.safetensors"):
        with safe_open(str(f), "pt") as st:
            for key in st.keys():
                total += math.prod(st.get_slice(key).get_shape())
    return total


def checks_table(checks: list[GGUFCheck]) -> str:
    lines = ["| GGUF | size (MB) | time (s) | loads | same greedy tokens | agreement | max logit diff | "
             "template | tokenizer |", "|---|---|---|---|---|---|---|---|---|"]
    for c in checks:
        lines.append(f"| {c.kind} | {c.size_mb} | {c.seconds} | {c.loads} | {c.same_tokens} | {c.agreement:.0%} | "
                     f"{c.max_logit_diff} | {c.template_matches} | {c.tokenizer_matches} |")
    return "\n".join(lines)


def export_files(config: GRConfig, adapter: Path) -> dict:
    """The export stage's files: ``adapter`` merged (on Colab in a scratch folder off Drive: Drive keeps only what
    you keep), each GGUF type checked in llama.cpp, and the Ollama Modelfile; returns the export's summary."""
    from transformers import AutoTokenizer  # lazy: transformers is heavy

    from .llamacpp import gguf_chat_template

    layout = config.layout
    out = layout.export
    scratch = Path(config.scratch_dir) if config.scratch_dir else (
        Path(SCRATCH) / config.preset if on_drive(config.run_dir) else out)
    merged = merge_adapter(config, adapter, scratch / "merged")
    name = f"guardreasoner-{config.preset}"
    tok = prepare_tokenizer(AutoTokenizer.from_pretrained(str(merged)))
    checks = export_gguf(merged, layout.gguf, list(config.gguf_types), name, tokenizer=tok, scratch_dir=scratch)
    gguf_for_ollama = next((c.path for c in checks if c.kind == "q4_k_m"), checks[0].path if checks else None)
    modelfile, commands = write_modelfile(tok, gguf_for_ollama, layout.gguf, name, num_predict=config.max_new_tokens,
                                          model_dir=merged, gguf_template=gguf_chat_template(gguf_for_ollama))
    return {"merged": str(merged), "modelfile": str(modelfile), "commands": commands,
            "checks": [asdict(c) for c in checks], "table": checks_table(checks)}
