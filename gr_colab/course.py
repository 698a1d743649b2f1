"""The bodies of the course's stages, as :mod:`gr_colab.stages` names them: each reads the run folder, does its work
through the stage modules and returns its summary; :func:`gr_colab.pipeline.run_stage` decides whether it runs,
clears what it resumes from, and writes its marker once, at its end.

Chapter layer: composes the paper's stages (which never import each other), the planner and the Hub.
"""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from .config import GRConfig
from .evaluate import Report, compare, evaluate, holdout_check, plot_compare
from .export import export_files
from .generate import GenerationSettings, run_predictions
from .hub import model_card, push_export
from .mining import mine as mine_pairs
from .mining import save_pairs
from .planner import mean_tokens_of, plan_config
from .rsft import train_rsft, training_rows
from .runs import fingerprint, is_complete, mark_complete, read_marker
from .runtime import REPO_ROOT, atomic_write_json, atomic_write_text, read_jsonl, write_jsonl
from .vllm_backend import load_generator, release

STARTED = "started.json"


def prepare(config: GRConfig) -> dict:
    """Validate the training data, split off the held-out rows, save the config, build the model if it's the twin."""
    train, held, report = training_rows(config, root=REPO_ROOT)
    print(report)
    layout = config.layout
    write_jsonl(layout.train_rows, train)
    write_jsonl(layout.holdout_rows, held)
    config.to_yaml(layout.config_yaml)
    summary = {"train_rows": len(train), "holdout_rows": len(held), "data_report": report,
               "mean_tokens": round(mean_tokens_of(train), 1)}
    if config.is_twin:
        from .models import resolve_model_path  # lazy: imports torch and transformers

        summary["twin"] = resolve_model_path(config)
    else:  # the planner reads a model it has no row for from the model's own config
        plan = plan_config(config, samples=len(train), mean_tokens=summary["mean_tokens"])
        print(plan.summary())
        summary["plan"] = plan.summary()
    return summary


def rsft(config: GRConfig) -> dict:
    result = train_rsft(config, rows=read_jsonl(config.layout.train_rows), out_dir=config.layout.stage("rsft"))
    losses = result.losses
    return {"adapter": str(result.adapter_dir), "steps": result.global_step,
            "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
            "resumed_from": result.resumed_from, "curves": str(result.curves_png)}


def evaluate_variants(config: GRConfig) -> dict:
    """Every model variant there is (base, R-SFT, HS-DPO): one already scored from the same adapter (its folder's
    marker records the adapter stage's fingerprint) is kept, a retrained one is scored again, a new one scored."""
    layout = config.layout
    held = read_jsonl(layout.holdout_rows)
    done = {}
    for name, adapter in layout.variants().items():
        folder = layout.eval_dir(name)
        source = fingerprint(layout.stage(name)) if adapter else None
        if read_marker(folder).get("input", "-") == source:
            done[name] = read_marker(folder)["scores"]
            continue
        started = folder / STARTED
        if folder.exists() and (is_complete(folder) or (started.exists()
                                                         and json.loads(started.read_text()) != {"input": source})):
            print(f"eval: {name} was retrained since it was scored: scoring it again (cleared {folder})")
            shutil.rmtree(folder)
        atomic_write_json(started, {"input": source})  # a cut-off scoring resumes only from the same adapter
        loaded = load_generator(config, adapter)  # transformers or vLLM (generation_backend)
        report = evaluate(config, loaded, name)
        done[name] = {"averages": report.averages("corrected"), "official": report.averages("official"),
                      "holdout": holdout_check(config, loaded, held, name)}
        mark_complete(folder, {"input": source, "scores": done[name]})  # a disconnect after one variant keeps it
        del loaded
    reports = {n: Report.from_json(json.loads(layout.eval_report(n).read_text())) for n in done}
    comparisons = {}
    names = [n for n in ("base", "rsft", "hsdpo") if n in reports]
    for a, b in zip(names, names[1:]):
        rows = compare(reports[a], reports[b])
        plot_compare(rows, layout.stage("eval") / f"compare_{a}_{b}.png", labels=(a, b))
        comparisons[f"{a}->{b}"] = rows
    release()  # a vLLM engine gives the GPU back before a later stage trains
    return {"variants": done, "comparisons": comparisons}


def mine(config: GRConfig) -> dict:
    """Sample k outputs per training item with the R-SFT model, then mine hard samples."""
    layout = config.layout
    items = [{"id": i, **r} for i, r in enumerate(read_jsonl(layout.train_rows))]
    if config.mine_limit and config.mine_limit < len(items):  # a seeded sample across every dataset, in file order
        keep = set(random.Random(config.seed).sample(range(len(items)), config.mine_limit))
        items = [it for it in items if it["id"] in keep]
    loaded = load_generator(config, layout.adapter("rsft"))  # transformers or vLLM (generation_backend)
    samples = run_predictions(loaded, [{**it, "label": it["output"]} for it in items], layout.samples,
                              GenerationSettings.sampling(config), config.prompt_format)
    release()  # a vLLM engine gives the GPU back before HS-DPO trains
    outputs = {s["id"]: s.get("samples", [s["predict"]]) for s in samples}
    result = mine_pairs(items, outputs, tuple(config.mine_weight_range))
    pairs_path, _ = save_pairs(result, layout.stage("mine"))
    summary = result.summary()
    print(f"mined {summary['pairs']} hard samples from {len(items)} items: {json.dumps(summary['by_task'])}")
    return {**summary, "pairs_file": str(pairs_path)}


def hsdpo(config: GRConfig) -> dict:
    from .hsdpo import train_hsdpo  # lazy: TRL's DPOTrainer
    from .models import load_model  # lazy: torch and transformers

    layout = config.layout
    pairs = read_jsonl(layout.pairs)
    if not pairs:
        print("HS-DPO skipped: mining found no hard samples (every sampled output agreed). Sample more items "
              "(mine_limit), raise mine_temperature or mine_k.")
        return {"skipped": "no hard samples", "pairs": 0}
    loaded = load_model(config, adapter=layout.adapter("rsft"), trainable=True)
    result = train_hsdpo(config, loaded, pairs, layout.stage("hsdpo"))
    acc = result.reward_accuracies
    return {"pairs": len(pairs), "adapter": str(result.adapter_dir),
            "reward_accuracy_first": acc[0] if acc else None, "reward_accuracy_last": acc[-1] if acc else None}


def export(config: GRConfig) -> dict:
    """The guard merged, as GGUF files checked in llama.cpp, an Ollama Modelfile, and the model card with the
    evaluation's F1 scores as the Hub's metadata."""
    layout = config.layout
    adapter = layout.guard_adapter()
    files = export_files(config, adapter)
    report_md, report_json = (layout.eval_report(adapter.parent.name, ext) for ext in ("md", "json"))
    eval_md = report_md.read_text() if report_md.exists() else ""
    scores = json.loads(report_json.read_text())["scores"] if report_json.exists() else []
    atomic_write_text(layout.export / "README.md", model_card(config, eval_md, gguf_table=files["table"],
                                                              scores=scores))
    return {"adapter": str(adapter), **files}


def push(config: GRConfig) -> dict:
    """The export to ``hub_repo``: an upload when ``hub_push`` is True, else a dry run that lists the files."""
    merged = read_marker(config.layout.export).get("merged")
    uploads = push_export(config, merged=Path(merged) if merged else None)
    return {"repo": config.hub_repo, "files": len(uploads), "pushed": bool(config.hub_push and uploads)}
