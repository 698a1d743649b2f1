"""Batched generation: many guard prompts at once, in the order they came.

Tool layer (the stages generate through it). Prompts are rendered by the model's own chat template (or the official
raw string), sorted by length so a batch holds prompts of similar size, left-padded (a decoder continues from the
right), and generated greedily by default (the paper's setting), stopping at every end-of-turn id the tokenizer and
generation config name. The n-sample mode draws k outputs per prompt for HS-DPO. ``run_predictions`` writes the
official ``{prompt, label, predict}`` JSONL and, restarted, skips what is already written.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from .models import render_prompt, stop_token_ids
from .prompts import INSTRUCTION, raw_prompt, user_content
from .runtime import read_jsonl, write_jsonl


@dataclass
class GenerationSettings:
    max_new_tokens: int = 512
    batch_size: int = 8
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    num_samples: int = 1
    seed: int = 0

    @classmethod
    def greedy(cls, config) -> "GenerationSettings":
        return cls(max_new_tokens=config.max_new_tokens, batch_size=config.gen_batch_size, seed=config.seed)

    @classmethod
    def sampling(cls, config) -> "GenerationSettings":
        return cls(max_new_tokens=config.max_new_tokens, batch_size=config.gen_batch_size, do_sample=True,
                   temperature=config.mine_temperature, top_p=config.mine_top_p, num_samples=config.mine_k,
                   seed=config.seed)


def guard_text(tokenizer, input_text: str, prompt_format: str = "chat", instruction: Optional[str] = None) -> str:
    """The full text the guard reads for one ``input`` field, exactly as training rendered it."""
    kwargs = {} if instruction is None else {"instruction": instruction}
    if prompt_format == "raw":
        return raw_prompt(input_text, **kwargs)
    return render_prompt(tokenizer, user_content(input_text, **kwargs), "chat")


def encode_text(tokenizer, text: str) -> list[int]:
    """A rendered chat text carries its own special tokens; a raw prompt gets the tokenizer's BOS."""
    bos = tokenizer.bos_token
    has_bos = bool(bos) and text.startswith(bos)
    return tokenizer(text, add_special_tokens=not has_bos)["input_ids"]


def generate(loaded, texts: list[str], settings: GenerationSettings, progress: bool = True) -> list[list[str]]:
    """For each text, ``settings.num_samples`` continuations (decoded without special tokens), in input order.
    A guard served elsewhere (:class:`gr_colab.vllm_backend.VLLMGuard`) answers through its own ``generate_texts``."""
    if hasattr(loaded, "generate_texts"):
        return loaded.generate_texts(texts, settings, progress=progress)
    import torch
    from tqdm.auto import tqdm

    tok, model = loaded.tokenizer, loaded.model
    encoded = [encode_text(tok, t) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: -len(encoded[i]))
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    stops = stop_token_ids(tok, model)
    results: list = [None] * len(texts)
    device = next(model.parameters()).device
    torch.manual_seed(settings.seed)
    batches = [order[i:i + settings.batch_size] for i in range(0, len(order), settings.batch_size)]
    model.eval()
    for batch in tqdm(batches, desc="generate", disable=not progress, leave=False):
        width = max(len(encoded[i]) for i in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):  # left padding: every prompt ends where generation starts
            ids[row, width - len(encoded[i]):] = torch.tensor(encoded[i])
            mask[row, width - len(encoded[i]):] = 1
        kwargs = dict(max_new_tokens=settings.max_new_tokens, eos_token_id=stops, pad_token_id=pad_id,
                      do_sample=settings.do_sample, num_return_sequences=settings.num_samples)
        if settings.do_sample:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **kwargs)
        new = out[:, width:]
        for row, i in enumerate(batch):
            chunk = new[row * settings.num_samples:(row + 1) * settings.num_samples]
            results[i] = [tok.decode(_until_stop(seq.tolist(), stops, pad_id), skip_special_tokens=True)
                          for seq in chunk]
    return results


def _until_stop(ids: list[int], stops: list[int], pad_id: int) -> list[int]:
    for k, t in enumerate(ids):
        if t in stops:
            return ids[:k]
    return [t for t in ids if t != pad_id]


def run_predictions(loaded, items: list[dict], out_path: Union[str, Path], settings: GenerationSettings,
                    prompt_format: str = "chat", chunk: Optional[int] = None, progress: bool = True) -> list[dict]:
    """Generate for ``items`` (``{id, input, label}``) into ``out_path`` as ``{id, prompt, label, predict}``
    (plus ``samples`` in n-sample mode), writing after each chunk; items already in the file are skipped."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    done = read_jsonl(out_path)
    # rewrite the file with only whole lines, so an interrupted write never hides a row
    write_jsonl(out_path, done)
    done_ids = {r.get("id") for r in done}
    todo = [it for it in items if it["id"] not in done_ids]
    if done:
        print(f"{out_path.name}: {len(done)} items already generated, {len(todo)} to go")
    chunk = chunk or max(settings.batch_size * 4, 1)
    bar, eta = _progress(out_path, len(items), len(done), len(todo), progress)
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        texts = [guard_text(loaded.tokenizer, it["input"], prompt_format, it.get("instruction")) for it in part]
        outs = generate(loaded, texts, settings, progress=False)
        if bar is not None:
            bar.update(len(part))
        if eta is not None:
            eta.update(len(part))
        with out_path.open("a", encoding="utf-8") as f:
            for it, text, samples in zip(part, texts, outs):
                row = {"id": it["id"], "prompt": raw_prompt(it["input"], it.get("instruction") or INSTRUCTION),
                       "label": it.get("label"), "predict": samples[0]}
                if settings.num_samples > 1:
                    row["samples"] = samples
                if it.get("dataset"):
                    row["dataset"] = it["dataset"]
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    if bar is not None:
        bar.close()
    by_id = {r["id"]: r for r in read_jsonl(out_path)}
    return [by_id[it["id"]] for it in items if it["id"] in by_id]


def _progress(out_path: Path, total: int, done: int, todo: int, show: bool):
    """One bar for the whole file (its benchmark's name, every item, the time left), kept on screen when it ends,
    and an ETA line after the first chunk: a plan checked against this machine while the stage runs."""
    if not show or not todo:
        return None, None
    from tqdm.auto import tqdm

    from .progress import Eta

    name = out_path.parent.name if out_path.stem == "generated_predictions" else out_path.stem
    bar = tqdm(total=total, initial=done, desc=name, unit="item", leave=True)
    return bar, Eta(name, todo, after=1, every=600.0)
