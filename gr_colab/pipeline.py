"""The whole course in order: prepare → R-SFT → evaluate → mine → HS-DPO → evaluate → export → report.

Face-side orchestration. Every stage reads the previous stages' files in the run folder and writes its own, ending
with its marker (:func:`gr_colab.runs.mark_complete`); a stage whose marker is there is skipped, so a Colab
disconnect costs only the stage that was running (and R-SFT, HS-DPO and generation resume inside a stage too). The notebooks, the command line and
the tests call these same functions.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

from .config import GRConfig
from .runs import MARKER, mark_complete, read_marker
from .runs import is_complete as _folder_complete
from .runtime import REPO_ROOT, read_jsonl, write_jsonl

STAGES = ("prepare", "rsft", "eval", "mine", "hsdpo", "export")
TRAINING_STAGES = ("rsft", "hsdpo")  # under a launcher every process runs these (the Trainer shards the data)
RUN_ORDER = ("prepare", "rsft", "eval", "mine", "hsdpo", "eval", "export")


def is_complete(config: GRConfig, stage: str) -> bool:
    return _folder_complete(config.layout.stage(stage))


def read_summary(config: GRConfig, stage: str) -> dict:
    return read_marker(config.layout.stage(stage))


def _finish(config: GRConfig, stage: str, summary: dict) -> dict:
    return mark_complete(config.layout.stage(stage), {"stage": stage, **summary})


# --- stages ----------------------------------------------------------------------------------------------------
def prepare(config: GRConfig) -> dict:
    """Validate the training data, split off the held-out rows, save the config, build the model if it's the twin."""
    from .budget import mean_tokens_of, plan_config
    from .rsft import training_rows

    train, held, report = training_rows(config, root=REPO_ROOT)
    print(report)
    layout = config.layout
    write_jsonl(layout.train_rows, train)
    write_jsonl(layout.holdout_rows, held)
    config.to_yaml(layout.config_yaml)
    summary = {"train_rows": len(train), "holdout_rows": len(held), "data_report": report,
               "mean_tokens": round(mean_tokens_of(train), 1)}
    if config.is_twin:
        from .models import resolve_model_path

        summary["twin"] = resolve_model_path(config)
    else:  # the planner reads a model it has no row for from the model's own config
        plan = plan_config(config, samples=len(train), mean_tokens=summary["mean_tokens"])
        print(plan.summary())
        summary["budget"] = plan.summary()
    return _finish(config, "prepare", summary)


def rsft(config: GRConfig) -> dict:
    from .rsft import train_rsft

    rows = read_jsonl(config.layout.train_rows)
    result = train_rsft(config, rows=rows, out_dir=config.layout.stage("rsft"))
    losses = result.losses
    return _finish(config, "rsft", {"adapter": str(result.adapter_dir), "steps": result.global_step,
                                    "first_loss": losses[0] if losses else None,
                                    "last_loss": losses[-1] if losses else None,
                                    "resumed_from": result.resumed_from, "curves": str(result.curves_png)})


def evaluate_stage(config: GRConfig) -> dict:
    """Every model variant there is (base, R-SFT, HS-DPO) that has not been evaluated: benchmarks + held-out."""
    from .evaluate import Report, compare, evaluate, holdout_check, plot_compare
    from .vllm_backend import load_generator, release

    layout = config.layout
    held = read_jsonl(layout.holdout_rows)
    done = read_summary(config, "eval").get("variants", {})
    for name, adapter in layout.variants().items():
        if name in done:
            continue
        loaded = load_generator(config, adapter)  # transformers or vLLM (generation_backend)
        report = evaluate(config, loaded, name)
        done[name] = {"averages": report.averages("corrected"), "official": report.averages("official"),
                      "holdout": holdout_check(config, loaded, held, name)}
        _finish(config, "eval", {"variants": done})  # a disconnect after one variant keeps it
        del loaded
    reports = {n: Report.from_json(json.loads(layout.eval_report(n).read_text())) for n in done}
    comparisons = {}
    names = [n for n in ("base", "rsft", "hsdpo") if n in reports]
    for a, b in zip(names, names[1:]):
        rows = compare(reports[a], reports[b])
        plot_compare(rows, layout.stage("eval") / f"compare_{a}_{b}.png", labels=(a, b))
        comparisons[f"{a}->{b}"] = rows
    release()  # a vLLM engine gives the GPU back before a later stage trains
    return _finish(config, "eval", {"variants": done, "comparisons": comparisons})


def mine_stage(config: GRConfig) -> dict:
    """Sample k outputs per training item with the R-SFT model, then mine hard samples."""
    from .generate import GenerationSettings, run_predictions
    from .mining import mine, save_pairs
    from .vllm_backend import load_generator, release

    layout = config.layout
    rows = read_jsonl(layout.train_rows)
    items = [{"id": i, **r} for i, r in enumerate(rows)]
    if config.mine_limit and config.mine_limit < len(items):  # a seeded sample across every dataset, in file order
        import random

        keep = set(random.Random(config.seed).sample(range(len(items)), config.mine_limit))
        items = [it for it in items if it["id"] in keep]
    loaded = load_generator(config, layout.adapter("rsft"))  # transformers or vLLM (generation_backend)
    samples = run_predictions(loaded, [{**it, "label": it["output"]} for it in items], layout.samples,
                              GenerationSettings.sampling(config), config.prompt_format)
    release()  # a vLLM engine gives the GPU back before HS-DPO trains
    outputs = {s["id"]: s.get("samples", [s["predict"]]) for s in samples}
    result = mine(items, outputs, tuple(config.hsdpo_weight_range))
    pairs_path, summary_path = save_pairs(result, layout.stage("mine"))
    summary = result.summary()
    print(f"mined {summary['pairs']} hard samples from {len(items)} items: {json.dumps(summary['by_task'])}")
    return _finish(config, "mine", {**summary, "pairs_file": str(pairs_path)})


def hsdpo_stage(config: GRConfig) -> dict:
    from .hsdpo import train_hsdpo
    from .models import load_model

    layout = config.layout
    pairs = read_jsonl(layout.pairs)
    if not pairs:
        print("HS-DPO skipped: mining found no hard samples (every sampled output agreed). Sample more items "
              "(mine_limit), raise mine_temperature or mine_k.")
        return _finish(config, "hsdpo", {"skipped": "no hard samples", "pairs": 0})
    loaded = load_model(config, adapter=layout.adapter("rsft"), trainable=True)
    result = train_hsdpo(config, loaded, pairs, layout.stage("hsdpo"))
    acc = result.reward_accuracies
    return _finish(config, "hsdpo", {"pairs": len(pairs), "adapter": str(result.adapter_dir),
                                     "reward_accuracy_first": acc[0] if acc else None,
                                     "reward_accuracy_last": acc[-1] if acc else None})


def export_stage(config: GRConfig, push: bool = False) -> dict:
    from .export import checks_table, export_gguf, merge_adapter
    from .hub import model_card, push as hub_push
    from .ollama import write_modelfile

    from .runtime import SCRATCH, atomic_write_text, on_drive

    layout = config.layout
    adapter = layout.guard_adapter()
    out = layout.export
    scratch = Path(config.scratch_dir) if config.scratch_dir else (
        Path(SCRATCH) / config.preset if on_drive(config.run_dir) else out)  # Drive keeps only what you keep
    merged = merge_adapter(config, adapter, scratch / "merged")
    name = f"guardreasoner-{config.preset}"
    from transformers import AutoTokenizer

    from .models import prepare_tokenizer

    tok = prepare_tokenizer(AutoTokenizer.from_pretrained(str(merged)))
    checks = export_gguf(merged, layout.gguf, list(config.gguf_types), name, tokenizer=tok, scratch_dir=scratch)
    gguf_for_ollama = next((c.path for c in checks if c.kind == "q4_k_m"), checks[0].path if checks else None)
    modelfile, commands = write_modelfile(tok, gguf_for_ollama, layout.gguf, name, num_predict=config.max_new_tokens,
                                          model_dir=merged)
    table = checks_table(checks)
    report_md, report_json = (layout.eval_report(adapter.parent.name, ext) for ext in ("md", "json"))
    eval_md = report_md.read_text() if report_md.exists() else ""
    # the guard's F1 scores become the card's Hub metadata (model-index)
    scores = json.loads(report_json.read_text())["scores"] if report_json.exists() else []
    card = model_card(config, eval_md, gguf_table=table, scores=scores)
    atomic_write_text(out / "README.md", card)
    uploads = []
    if config.hub_repo:
        uploads = hub_push(config.hub_repo, {"adapter": adapter, "merged": merged, "gguf": layout.gguf}, card,
                           private=config.hub_private, dry_run=not push)
    from dataclasses import asdict

    return _finish(config, "export", {"adapter": str(adapter), "merged": str(merged), "modelfile": str(modelfile),
                                      "commands": commands, "checks": [asdict(c) for c in checks],
                                      "table": table, "hub_files": len(uploads), "pushed": bool(push and uploads)})


STAGE_FUNCS: dict = {"prepare": prepare, "rsft": rsft, "eval": evaluate_stage, "mine": mine_stage,
                     "hsdpo": hsdpo_stage, "export": export_stage}


def run_stage(config: GRConfig, stage: str, force: bool = False, **kwargs) -> dict:
    if stage not in STAGE_FUNCS:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    from . import dist

    if stage != "eval" and is_complete(config, stage) and not force:
        if dist.is_main():
            print(f"== {stage}: already complete, skipped ({config.layout.stage(stage) / MARKER})")
        return read_summary(config, stage)
    if stage not in TRAINING_STAGES and not dist.is_main():  # one process prepares, generates and exports
        dist.wait_for_everyone()  # (vLLM spreads one engine over the GPUs itself: tensor_parallel_size)
        return read_summary(config, stage)
    print(f"== {stage}" + (f" ({dist.describe()})" if dist.world_size() > 1 else ""))
    from .runtime import Measure

    with Measure() as measured:
        summary = STAGE_FUNCS[stage](config, **kwargs)
    print(f"== {stage}: {measured.describe()}")
    kept = {k: v for k, v in summary.items() if k not in ("stage", "finished")}
    done = _finish(config, stage, {**kept, "measured": measured.as_dict()})
    dist.wait_for_everyone()  # the next stage, on any process, reads this one's files
    return done


def run_all(config: GRConfig, stages: Optional[list] = None, push: bool = False,
            on_stage: Optional[Callable] = None) -> Path:
    """Every stage in order (skipping complete ones), then the report; returns the report's path."""
    from tqdm.auto import tqdm

    from .report import write_report

    order = [s for s in RUN_ORDER if stages is None or s in stages]
    for stage in tqdm(order, desc="gr-colab run", unit="stage"):
        run_stage(config, stage, **({"push": push} if stage == "export" else {}))
        if on_stage:
            on_stage(stage)
    return write_report(config)
