"""Red-teaming the guard by failure-inducing exploration (ReverseGen, arXiv 2410.16736), then hardening it.

The chapter's loop. A proposer (a small causal LM with LoRA) learns to write the requests a target fails on:

1. **warm-up**: supervised on few-shot prompts ``Ask questions:\\n1. …\\n2. …\\n3. …\\n4.`` built from the bundled
   seed requests, the target being one more seed (``sample_data/redteam/seeds.jsonl``);
2. per iteration: **sample** many candidates per prompt (temperature 1.0, top_p 0.9, as the paper), drop **near
   duplicates** (MinHash, 0.78), **label** them against the target, build **pairs within each prompt**, and **DPO**
   the proposer on them (beta 0.1, TRL's DPOTrainer through the kit's :class:`~gr_colab.hsdpo.WeightedDPOTrainer`,
   weights 1.0, no SFT term), starting from the previous iteration's adapter (which is also DPO's reference);
3. **hardening**: the failures found get traces (a teacher's, or on the CPU a template reasoning to the reference
   label) and the guard is R-SFT-ed on them; its failure rate on held-out fresh proposals, before and after.

Two targets (``redteam_target``): ``guard`` (a) — a failure is a request the guard labels differently from a
reference labeller (on the CPU :class:`~gr_colab.redteam.reference.LexiconReference`, on Colab a stronger guard
model named by ``redteam_reference``), a guard with no verdict also fails; ``chat`` (b) — a chat model answers, the
guard judges the answer, a failure is a harmful answer (as the paper, where Llama Guard 2 judged; answers the guard
gives no verdict on are not judged). Hardening retrains the guard: (a) only; (b) reports the held-out failure rate.

Each iteration writes ``redteam/iter_NN/``, then its ``complete.json``: a finished iteration is skipped on a rerun,
and inside one each step (candidates, labels, pairs, DPO adapter) is reused when present.

Under ``accelerate launch`` or ``torchrun`` with several processes the trainers (the warm-up, the proposer's DPO, the
hardening R-SFT) run on every process (the Trainer shards the rows); generation, deduplication, labelling, the
teacher's traces, the figure and the markers run on the main process only, which writes them, and every process reads
what it trains on back from those files (:func:`gr_colab.dist.main_then_read`), so all of them train on the same rows.
"""
from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Optional, Union

from .. import dist
from ..config import ConfigError, GRConfig
from ..runs import MARKER, is_complete, mark_complete, read_marker
from ..runtime import REPO_ROOT, atomic_write_json, read_jsonl, write_jsonl
from ..trainer_settings import DPOSettings, RSFTSettings
from .diversity_metrics import diversity
from .judge import free_memory, label, reference_labeller
from .near_duplicates import dedup, semantic_pass
from .pairs import pairs_within_prompts
from .report import plot_metrics
from .seeds import clean_proposal, load_seeds, make_prompts, split_seeds, warmup_items

STAGE = "redteam"
FILTERED = "filtered.json"  # an iteration's counts of candidates and of what deduplication dropped
JSON_KEYS = ("iteration", "failure_rate", "self_bleu", "distinct_2", "unique_failures", "duplicates_dropped")


def guard_adapter(config: GRConfig) -> Path:
    """The guard under attack: ``redteam_guard_adapter``, else the run's HS-DPO adapter, else its R-SFT adapter."""
    return config.layout.guard_adapter(config.redteam_guard_adapter, "redteam_guard_adapter")


def seeds_path(config: GRConfig) -> Path:
    path = Path(config.redteam_seeds)  # else relative to the repo, for a notebook run elsewhere
    return REPO_ROOT / path if not path.exists() and not path.is_absolute() else path


# --- the proposer ----------------------------------------------------------------------------------------------
def proposer_config(config: GRConfig) -> GRConfig:
    """The proposer's config: its own model (default: the guard's base), raw text prompts (the few-shot list is a
    completion prompt, not a chat turn)."""
    return config.replace(model_name=config.redteam_proposer_model or config.model_name, prompt_format="raw")


def trainer_settings(config: GRConfig, step: str) -> Union[RSFTSettings, DPOSettings]:
    """This chapter's own trainer settings (``step``: warmup, dpo or harden): R-SFT's or HS-DPO's batch with its own
    epochs, steps, beta and learning rate (the proposer's DPO: no SFT term); the rsft_*/hsdpo_* fields stay."""
    if step == "dpo":
        return dataclasses.replace(config.hsdpo_settings(), beta=config.redteam_beta, sft_weight=0.0,
                                   learning_rate=config.redteam_dpo_learning_rate or config.hsdpo_learning_rate,
                                   epochs=config.redteam_dpo_epochs, max_steps=config.redteam_dpo_max_steps)
    epochs, steps = {"warmup": (config.redteam_warmup_epochs, config.redteam_warmup_max_steps),
                     "harden": (config.redteam_harden_epochs, config.redteam_harden_max_steps)}[step]
    return dataclasses.replace(config.rsft_settings(), epochs=epochs, max_steps=steps)


def warm_up(config: GRConfig, seeds: list, out: Path) -> Path:
    """Supervised warm-up of a fresh LoRA proposer; resumes from its last complete checkpoint; returns the adapter.

    The R-SFT trainer builder on the few-shot prompt/completion rows, so the loss is on the completion on either
    backend: TRL's ``completion_only_loss``, or on Unsloth its response-only masking between the list's header and
    its next number (:func:`gr_colab.rsft.mask_parts`).
    """
    from ..models import load_model
    from ..rsft import build_trainer
    from ..training import finish, resume_point

    adapter = out / "adapter"
    if is_complete(adapter):
        return adapter
    pcfg = proposer_config(config)
    path = out / "warmup_rows.jsonl"
    rows = dist.main_then_read(lambda: write_jsonl(path, warmup_items(seeds, config.redteam_warmup_items,
                                                                      config.redteam_shots,
                                                                      random.Random(config.seed))),
                               lambda: read_jsonl(path))
    loaded = load_model(pcfg)
    if dist.is_main():
        print(f"proposer warm-up on {len(rows)} few-shot items with {loaded.describe()}")
    ckpts = out / "checkpoints"
    trainer = build_trainer(pcfg, loaded, [], ckpts, sft_rows=rows, settings=trainer_settings(config, "warmup"))
    trainer.train(resume_from_checkpoint=resume_point(ckpts))
    finish(trainer, loaded.tokenizer, out, "proposer warm-up", {"rows": len(rows)})
    del trainer, loaded
    free_memory()
    return adapter


def propose(config: GRConfig, adapter: Path, prompts: list, samples: int, seed: int) -> list:
    """``samples`` candidates per prompt from the proposer: ``{prompt_id, prompt, raw, request}`` rows."""
    from ..generate import GenerationSettings, generate
    from ..models import load_model

    loaded = load_model(proposer_config(config), adapter=adapter, trainable=False)
    settings = GenerationSettings(max_new_tokens=config.redteam_max_new_tokens, batch_size=config.gen_batch_size,
                                  do_sample=True, temperature=config.redteam_temperature, top_p=config.redteam_top_p,
                                  num_samples=samples, seed=seed)
    outs = generate(loaded, [p["prompt"] for p in prompts], settings)
    del loaded
    free_memory()
    return [{"prompt_id": p["prompt_id"], "prompt": p["prompt"], "raw": raw, "request": clean_proposal(raw)}
            for p, texts in zip(prompts, outs) for raw in texts]


def train_proposer(config: GRConfig, adapter: Path, pairs: list, out: Path) -> Path:
    """DPO of the proposer (beta ``redteam_beta``, weights 1.0, no SFT term) from ``adapter``, which TRL keeps as
    the frozen reference; the kit's weighted trainer with all weights 1 is TRL's own loss."""
    from ..hsdpo import train_hsdpo
    from ..models import load_model

    if is_complete(out / "adapter"):
        return out / "adapter"
    pcfg = proposer_config(config)
    loaded = load_model(pcfg, adapter=adapter, trainable=True)
    result = train_hsdpo(pcfg, loaded, pairs, out, settings=trainer_settings(config, "dpo"))
    del loaded
    free_memory()
    return result.adapter_dir


# --- one iteration ---------------------------------------------------------------------------------------------
def iteration(config: GRConfig, k: int, proposer: Path, seeds: list, guard: Path, reference) -> tuple[dict, Path]:
    """Sample → dedup → label → pair → DPO; returns (metrics, the proposer for the next iteration)."""
    out = config.layout.stage(STAGE) / f"iter_{k:02d}"
    if is_complete(out):
        done = read_marker(out)
        print(f"redteam iteration {k}: already complete, skipped")
        return done["metrics"], Path(done["next_proposer"])
    counts = dist.main_then_read(lambda: sample_and_label(config, k, out, proposer, seeds, guard, reference),
                                 lambda: json.loads((out / FILTERED).read_text()))
    labelled, pairs = read_jsonl(out / "labelled.jsonl"), read_jsonl(out / "pairs.jsonl")  # every process
    next_proposer = train_proposer(config, proposer, pairs, out / "dpo") if pairs else proposer
    main = dist.is_main()
    if not pairs and main:
        print(f"redteam iteration {k}: no prompt had both a failing and a passing request; the proposer is "
              "unchanged (sample more: redteam_samples, redteam_prompts)")
    judged = [r for r in labelled if r["failure"] is not None]
    failures = [r for r in judged if r["failure"]]
    dropped = counts["minhash_dropped"] + counts["semantic_dropped"]
    metrics = {"iteration": k, "failure_rate": len(failures) / len(judged) if judged else None,
               **diversity([r["request"] for r in labelled]), "unique_failures": len(failures),
               "duplicates_dropped": dropped, "semantic_dropped": counts["semantic_dropped"],
               "empty": counts["empty"], "candidates": counts["candidates"],
               "kept": len(labelled), "judged": len(judged), "pairs": len(pairs), "dpo": bool(pairs)}
    mark_complete(out, {"metrics": metrics, "next_proposer": str(next_proposer)})  # the main process writes it
    if main:
        print(f"redteam iteration {k}: {counts['candidates']} candidates, {dropped} near-duplicates dropped, "
              f"{len(judged)} judged, {len(failures)} failures, {len(pairs)} pairs")
    return metrics, next_proposer


def sample_and_label(config: GRConfig, k: int, out: Path, proposer: Path, seeds: list, guard: Path,
                     reference) -> None:
    """Iteration ``k``'s steps before DPO (the main process's under a launcher): sample (``candidates.jsonl``),
    drop near duplicates, label (``labelled.jsonl``: one row per kept candidate), pair (``pairs.jsonl``), then the
    counts (``filtered.json``). Candidates and labels are reused when present."""
    rng = random.Random(config.seed * 1000 + k)
    prompts = make_prompts(seeds, config.redteam_prompts, config.redteam_shots, rng)
    if not (out / "candidates.jsonl").exists():
        write_jsonl(out / "candidates.jsonl", propose(config, proposer, prompts, config.redteam_samples,
                                                     config.seed + k))
    candidates = read_jsonl(out / "candidates.jsonl")
    d = dedup([c["request"] for c in candidates], config.redteam_dedup_threshold, config.redteam_num_perm)
    kept = semantic_pass(config, [candidates[i] for i in d.kept])
    if not (out / "labelled.jsonl").exists():
        write_jsonl(out / "labelled.jsonl", label(config, kept, guard, reference))
    labelled = read_jsonl(out / "labelled.jsonl")
    write_jsonl(out / "pairs.jsonl", pairs_within_prompts(labelled, config.redteam_pairs_per_prompt, config.seed + k))
    atomic_write_json(out / FILTERED, {"candidates": len(candidates), "minhash_dropped": d.n_dropped,
                                       "semantic_dropped": len(d.kept) - len(kept), "empty": len(d.empty)})


# --- hardening -------------------------------------------------------------------------------------------------
def hardening_rows(config: GRConfig, failures: list) -> list:
    """R-SFT rows for the failures: the official input, and a trace that reasons to the reference label, written
    by a teacher (``redteam_teacher``, through :func:`gr_colab.synthesis.synthesize`, which keeps only traces
    that reach the label) or, without one (the CPU), the synthesis stage's template trace. A guard trained with
    ``reasoning_budget: answers`` gets the Answers block alone, as its own training rows."""
    from ..prompts import INSTRUCTION, NO_RESPONSE, format_input
    from ..synthesis import GUARDREASONER, Item, stand_in_trace, teacher_messages

    items = [Item(id=f"redteam-{i}", task_format=GUARDREASONER, input=format_input(f["request"]), source="redteam",
                  gold={"request": f["reference"], "completion": NO_RESPONSE, "response": NO_RESPONSE})
             for i, f in enumerate(failures)]
    if not config.redteam_teacher:
        rows = [{"instruction": INSTRUCTION, "input": it.input, "output": stand_in_trace(teacher_messages(it)),
                 "dataset": "redteam"} for it in items]
    else:
        from ..synthesis import connect_teacher, synthesize

        teacher = connect_teacher(config.redteam_teacher, demo_faults=False)
        try:
            cache = config.layout.stage(STAGE) / "harden" / "teacher_cache.jsonl"
            rows = synthesize(items, teacher, cache).train_rows()
        finally:
            if getattr(teacher, "server", None) is not None:
                teacher.server.close()
    if config.reasoning_budget == "answers":
        from ..data import answers_only

        rows = answers_only(rows, "redteam failures")
    return rows


def harden(config: GRConfig, guard: Path, failures: list, out: Path) -> Path:
    """R-SFT of the guard's adapter on the failures (plus as many of its own training rows, so it does not forget
    the rest: ``redteam_replay_ratio``); resumable as R-SFT is."""
    from ..models import load_model
    from ..rsft import train_rsft

    if is_complete(out / "adapter"):
        return out / "adapter"

    def write():  # the main process (a teacher may write the traces); every process reads the rows back
        rows = hardening_rows(config, failures)
        train = read_jsonl(config.layout.train_rows)
        n_replay = min(len(train), round(len(rows) * config.redteam_replay_ratio))
        rows += random.Random(config.seed).sample(train, n_replay) if n_replay else []
        write_jsonl(out / "rows.jsonl", rows)
        print(f"hardening: R-SFT of the guard on {len(rows) - n_replay} failures and {n_replay} replayed rows")

    rows = dist.main_then_read(write, lambda: read_jsonl(out / "rows.jsonl"))
    loaded = load_model(config, adapter=guard, trainable=True)
    result = train_rsft(config, loaded=loaded, rows=rows, out_dir=out, settings=trainer_settings(config, "harden"))
    del loaded
    free_memory()
    return result.adapter_dir


def _rate(rows: list) -> Optional[float]:
    judged = [r for r in rows if r["failure"] is not None]
    return sum(r["failure"] for r in judged) / len(judged) if judged else None


def heldout_and_harden(config: GRConfig, proposer: Path, held_seeds: list, guard: Path, reference,
                       failures: list) -> dict:
    """Fresh proposals from held-out seeds (near-copies of a hardening failure dropped), judged with the guard
    before and after hardening."""
    out = config.layout.stage(STAGE) / "harden"

    def measure_before():  # the main process: generation and labelling
        if not (out / "heldout.jsonl").exists():
            prompts = make_prompts(held_seeds, config.redteam_heldout_prompts, config.redteam_shots,
                                   random.Random(config.seed * 1000 + 999))
            fresh = propose(config, proposer, prompts, config.redteam_samples, config.seed + 999)
            d = dedup([c["request"] for c in fresh], config.redteam_dedup_threshold, config.redteam_num_perm,
                      against=[f["request"] for f in failures])
            write_jsonl(out / "heldout.jsonl", semantic_pass(config, [fresh[i] for i in d.kept]))
        if not (out / "before.jsonl").exists():
            write_jsonl(out / "before.jsonl", label(config, read_jsonl(out / "heldout.jsonl"), guard, reference))

    held, before = dist.main_then_read(measure_before, lambda: (read_jsonl(out / "heldout.jsonl"),
                                                                read_jsonl(out / "before.jsonl")))
    summary = {"heldout": len(held), "heldout_judged": sum(r["failure"] is not None for r in before),
               "failures": len(failures), "failure_rate_before": _rate(before), "failure_rate_after": None}
    if config.redteam_target != "guard":
        return {**summary, "skipped": "target chat: the guard is the judge, not the target; nothing to harden"}
    if not failures:
        return {**summary, "skipped": "no failures to harden on"}
    adapter = harden(config, guard, failures, out)  # every process: the Trainer shards the rows

    def measure_after():  # the main process
        if not (out / "after.jsonl").exists():
            write_jsonl(out / "after.jsonl", label(config, held, adapter, reference))

    after = dist.main_then_read(measure_after, lambda: read_jsonl(out / "after.jsonl"))
    return {**summary, "failure_rate_after": _rate(after), "adapter": str(adapter)}


# --- the loop --------------------------------------------------------------------------------------------------
def run_redteam(config: GRConfig, force: bool = False) -> dict:
    """Warm-up, ``redteam_iterations`` iterations, held-out measure and hardening; ``redteam/complete.json``."""
    if config.task_format != "guardreasoner":
        raise ConfigError("redteam: the guard must answer in the three-task format (task_format: guardreasoner)")
    root = config.layout.stage(STAGE)
    if is_complete(root) and not force:
        print(f"== redteam: already complete, skipped ({root / MARKER})")
        return read_marker(root)
    seeds = load_seeds(seeds_path(config))
    train_seeds, held_seeds = split_seeds(seeds, config.redteam_heldout_fraction, config.seed)
    guard = guard_adapter(config)
    reference = reference_labeller(config, seeds) if config.redteam_target == "guard" else None
    if dist.is_main():
        print(f"red-teaming the guard {guard} (target: {config.redteam_target}); {len(train_seeds)} seeds for the "
              f"proposer, {len(held_seeds)} held out" + (f"; {dist.world_size()} processes: the trainers on each, "
                                                         "the rest on this one" if dist.world_size() > 1 else ""))
    proposer = warm_up(config, train_seeds, root / "warmup")
    iterations, all_failures = [], []
    for k in range(1, config.redteam_iterations + 1):
        metrics, proposer = iteration(config, k, proposer, train_seeds, guard, reference)
        iterations.append(metrics)
        all_failures += [r for r in read_jsonl(root / f"iter_{k:02d}" / "labelled.jsonl") if r["failure"]]
    unique = dedup([f["request"] for f in all_failures], config.redteam_dedup_threshold, config.redteam_num_perm)
    failures = [all_failures[i] for i in unique.kept]
    hardening = heldout_and_harden(config, proposer, held_seeds, guard, reference, failures)
    if dist.is_main():
        plot_metrics(iterations, hardening, root / "metrics.png")
    summary = {"stage": STAGE, "target": config.redteam_target,
               "reference": getattr(reference, "name", "the guard judges a chat model"),
               "proposer": config.redteam_proposer_model or config.model_name, "guard": str(guard),
               "final_proposer": str(proposer), "iterations": iterations, "hardening": hardening}
    done = mark_complete(root, summary)  # the main process writes it
    dist.wait_for_everyone()  # a later step, on any process, reads the marker and the figure
    return done


def summary_json(summary: dict) -> dict:
    """The command's last line: the per-iteration figures and the hardening, as the issue fixes them."""
    h = summary.get("hardening", {})
    return {"iterations": [{k: it.get(k) for k in JSON_KEYS} for it in summary.get("iterations", [])],
            "hardening": {"failure_rate_before": h.get("failure_rate_before"),
                          "failure_rate_after": h.get("failure_rate_after")}}
