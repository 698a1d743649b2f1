"""Chapter 09 end to end: a chat model both helpful and safe with MODPO, judged by the student's own guard.

The chapter's run. ``run_modpo(config)`` runs, under ``run_dir/modpo``, each step skipped when its files are there (a
Colab disconnect costs only the step that was running):

1. **data**: PKU-SafeRLHF-shaped rows (``modpo.data``), split 90/10 with seed ``seed`` as the MODPO code does; the
   held-out prompts are the ones every model answers. With ``modpo_safety_labels`` ``guard`` or ``guard-strict``,
   the guard judges both answers of every training row and its verdicts replace the dataset's "safer" ids
   (:func:`gr_colab.modpo.data.relabel_safer` says what happens to ties and unparsed verdicts);
2. **rewards**: DPO on the "safer" pairs (the safety reward, MODPO's step 1) and on the "better" pairs (the
   helpfulness judge of this chapter: its implicit reward measures how much a model's answer moved towards what
   the helpfulness annotators preferred);
3. **margins**: the safety reward of every "better" pair's two answers, once;
4. **the sweep**: one MODPO adapter per ``w`` in ``modpo_weights``, each from the same base;
5. **answers**: greedy answers to the held-out prompts from the base model (the reference: the SFT model of the
   paper) and from each MODPO model;
6. **the front**: per model, *helpfulness* = the mean implicit reward of the helpfulness adapter, *cost* = minus the
   mean implicit reward of the safety adapter (lower is safer, as the paper's cost model), *harmful_rate* = the
   share of answers the student's guard judges harmful (Task 3). An answer whose verdict does not parse is counted
   in ``unparsed``, not as harmful.

The guard is the run's HS-DPO adapter when there is one, else its R-SFT adapter (``modpo_guard_adapter`` names
another). All models here share the preset's base model.

Under ``accelerate launch`` or ``torchrun`` with several processes the trainers (steps 2 and 4) run on every process
(the Trainer shards the pairs); every other step (the data, the guard's labels, the margins, the answers, the scores,
the front and its figure, the marker) runs on the main process only and writes its files, and every process reads
its data back from those files (:func:`gr_colab.dist.main_then_read`), so all of them train on the same pairs.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from .. import dist
from ..config import GRConfig
from ..runs import MARKER, is_complete, mark_complete, read_marker
from ..runtime import REPO_ROOT, atomic_write_json, read_jsonl, write_jsonl
from .data import load_saferlhf, policy_prompt_text, preference_pairs, relabel_safer, split_rows

STAGE = "modpo"
FRONT_KEYS = ("w", "helpfulness", "cost", "harmful_rate")


def _done(adapter_parent: Path) -> bool:
    return is_complete(adapter_parent / "adapter")


def variant_name(w: float) -> str:
    return f"w_{w:g}"


# --- the guard -------------------------------------------------------------------------------------------------
def guard_adapter(config: GRConfig) -> Path:
    """The guard that judges cost: ``modpo_guard_adapter``, else the run's HS-DPO adapter, else its R-SFT adapter."""
    return config.layout.guard_adapter(config.modpo_guard_adapter, "modpo_guard_adapter")


def judge(config: GRConfig, guard_dir: Path, pairs: list, out_path: Path) -> list:
    """The guard's response-harmfulness verdict (``harmful``, ``unharmful`` or None: unparsed) for each
    (prompt, answer); its raw outputs go to ``out_path`` (resumable, like every generation in the kit)."""
    from ..generate import GenerationSettings, run_predictions
    from ..models import load_model
    from ..prompts import format_input
    from ..traces import parse_trace

    if config.task_format != "guardreasoner":
        raise ValueError("MODPO's cost reads the guard's Task 3 answer: task_format must be guardreasoner")
    loaded = load_model(config, adapter=guard_dir, trainable=False)
    items = [{"id": i, "input": format_input(p, r), "label": None} for i, (p, r) in enumerate(pairs)]
    rows = run_predictions(loaded, items, out_path, GenerationSettings.greedy(config), config.prompt_format,
                           progress=False)
    verdicts = []
    for row in rows:
        label = parse_trace(row["predict"], mode="strict").labels.get("response")
        verdicts.append(label if label in ("harmful", "unharmful") else None)
    return verdicts


# --- the steps -------------------------------------------------------------------------------------------------
def prepare_data(config: GRConfig) -> tuple[list, list, str]:
    """The training and held-out rows (written by the main process, read back by every process) and what was done."""
    out = config.layout.stage(STAGE) / "data"
    said = []

    def write():
        if (out / "train.jsonl").exists() and (out / "held.jsonl").exists():
            return
        loaded = load_saferlhf(config.modpo_data, limit=config.modpo_limit, skip_bad=config.skip_bad_rows,
                               root=REPO_ROOT)
        train, held = split_rows(loaded.rows, config.modpo_test_fraction, config.seed)
        if not held:
            raise ValueError("modpo_test_fraction leaves no held-out prompts to answer; raise it")
        write_jsonl(out / "train.jsonl", train)
        write_jsonl(out / "held.jsonl", held)
        said.append(loaded.report())

    train, held = dist.main_then_read(write, lambda: (read_jsonl(out / "train.jsonl"), read_jsonl(out / "held.jsonl")))
    return train, held, said[0] if said else f"{len(train)} training and {len(held)} held-out rows in {out}"


def safety_rows(config: GRConfig, train: list, guard_dir: Path) -> tuple[list, Optional[dict]]:
    """The rows whose "safer" ids train the safety reward: the dataset's, or the guard's (see relabel_safer)."""
    if config.modpo_safety_labels == "dataset":
        return train, None
    out = config.layout.stage(STAGE) / "safety_labels"

    def write():  # the main process: the guard generates (resuming from its predictions), the rows are written
        pairs = [(r["prompt"], r[f"response_{k}"]) for r in train for k in (0, 1)]
        flat = judge(config, guard_dir, pairs, out / "guard_predictions.jsonl")
        rows, summary = relabel_safer(train, list(zip(flat[0::2], flat[1::2])), config.modpo_safety_labels)
        write_jsonl(out / "rows.jsonl", rows)
        atomic_write_json(out / "summary.json", summary)
        print(f"safety preferences from the guard ({config.modpo_safety_labels}): {json.dumps(summary)}")

    rows, summary = dist.main_then_read(write, lambda: (read_jsonl(out / "rows.jsonl"),
                                                        json.loads((out / "summary.json").read_text())))
    if not rows:
        raise ValueError("the guard decided no safety preference and guard-strict keeps only decided pairs; use "
                         "modpo_safety_labels: guard (falls back to the dataset) or a better-trained guard")
    return rows, summary


def train_rewards(config: GRConfig, train: list, safe_rows: list) -> dict:
    from .trainer import train_reward

    out = config.layout.stage(STAGE)
    fmt = config.prompt_format
    for name, rows, dimension in (("reward_safety", safe_rows, "safer"), ("reward_helpful", train, "better")):
        if not _done(out / name):
            if dist.is_main():
                print(f"== MODPO: DPO on the {dimension!r} preferences → {name}")
            train_reward(config, preference_pairs(rows, dimension, fmt), out / name)
    return {"safety": out / "reward_safety" / "adapter", "helpful": out / "reward_helpful" / "adapter"}


def margins(config: GRConfig, train: list, safety_dir: Path) -> list:
    from ..models import load_model
    from .trainer import compute_margins

    path = config.layout.stage(STAGE) / "margins.jsonl"

    def write():  # the main process scores; every process reads the margins back
        if path.exists():
            return
        print("== MODPO: safety margins of the 'better' pairs (once, with the frozen safety reward)")
        loaded = load_model(config, adapter=safety_dir, trainable=False)
        write_jsonl(path, compute_margins(config, loaded, preference_pairs(train, "better", config.prompt_format)))

    return dist.main_then_read(write, lambda: read_jsonl(path))


def sweep(config: GRConfig, pairs: list) -> dict:
    from .trainer import train_modpo

    adapters = {}
    for w in config.modpo_weights:
        out = config.layout.stage(STAGE) / variant_name(w)
        if not _done(out):
            if dist.is_main():
                print(f"== MODPO: w = {w:g} (helpfulness {w:g}, safety {1 - w:g})")
            train_modpo(config, pairs, w, out)
        adapters[w] = out / "adapter"
    return adapters


def answers(config: GRConfig, held: list, adapters: dict) -> dict:
    """Greedy answers to the held-out prompts: ``{variant: [{id, prompt, response}]}``, reference first."""
    from ..generate import GenerationSettings, generate
    from ..models import load_model, render_prompt

    prompts = [r["prompt"] for r in held[:config.modpo_eval_prompts]]
    settings = GenerationSettings(max_new_tokens=config.modpo_max_new_tokens, batch_size=config.gen_batch_size,
                                  seed=config.seed)
    out = {}
    for variant, adapter in [("reference", None)] + [(variant_name(w), a) for w, a in adapters.items()]:
        path = config.layout.stage(STAGE) / "answers" / f"{variant}.jsonl"
        if not path.exists():
            loaded = load_model(config, adapter=adapter, trainable=False)
            texts = [render_prompt(loaded.tokenizer, policy_prompt_text(p, config.prompt_format),
                                   config.prompt_format) for p in prompts]
            outs = generate(loaded, texts, settings, progress=False)
            write_jsonl(path, [{"id": i, "prompt": p, "response": o[0]} for i, (p, o) in
                               enumerate(zip(prompts, outs))])
            del loaded
        out[variant] = read_jsonl(path)
    return out


def score(config: GRConfig, by_variant: dict, rewards: dict, guard_dir: Path) -> list:
    """One row per answer: its helpfulness and safety rewards and the guard's verdict."""
    from ..models import load_model
    from .trainer import implicit_rewards, scoring_batch

    path = config.layout.stage(STAGE) / "scores.jsonl"
    if path.exists():
        return read_jsonl(path)
    rows = [{"variant": v, **a} for v, items in by_variant.items() for a in items]
    prompts = [policy_prompt_text(r["prompt"], config.prompt_format) for r in rows]
    responses = [r["response"] for r in rows]
    judge_model = load_model(config, adapter=rewards["safety"], trainable=False)
    judge_model.model.load_adapter(str(rewards["helpful"]), adapter_name="helpful", is_trainable=False)
    kwargs = dict(beta=config.modpo_beta, batch_size=scoring_batch(config), max_length=config.max_seq_length)
    safety = implicit_rewards(judge_model.model, judge_model.tokenizer, "default", prompts, responses, **kwargs)
    helpful = implicit_rewards(judge_model.model, judge_model.tokenizer, "helpful", prompts, responses, **kwargs)
    del judge_model
    verdicts = judge(config, guard_dir, [(r["prompt"], r["response"]) for r in rows],
                     config.layout.stage(STAGE) / "guard" / "answers_judged.jsonl")
    for r, s, h, v in zip(rows, safety, helpful, verdicts):
        r.update(safety_reward=round(s, 6), helpfulness=round(h, 6), verdict=v)
    write_jsonl(path, rows)
    return rows


def front(config: GRConfig, rows: list) -> dict:
    """Means per model: ``{"front": [one entry per w], "reference": {...}}`` (see the module docstring)."""
    def summarise(items: list, w) -> dict:
        n = len(items)
        return {"w": w, "helpfulness": round(sum(r["helpfulness"] for r in items) / n, 4),
                "cost": round(-sum(r["safety_reward"] for r in items) / n, 4),
                "harmful_rate": round(sum(r["verdict"] == "harmful" for r in items) / n, 4),
                "unparsed": sum(r["verdict"] is None for r in items), "answers": n}

    by_variant: dict = {}
    for r in rows:
        by_variant.setdefault(r["variant"], []).append(r)
    return {"front": [summarise(by_variant[variant_name(w)], w) for w in config.modpo_weights],
            "reference": summarise(by_variant["reference"], None)}


def judge_warnings(rows: list) -> list[str]:
    """A guard that gives every answer the same verdict cannot rank the models: say so beside the front."""
    verdicts = {r["verdict"] for r in rows if r["verdict"] is not None}
    parsed = sum(r["verdict"] is not None for r in rows)
    if parsed < 2 or len(verdicts) != 1:
        return []
    return [f"the guard judged all {parsed} parsed answers {verdicts.pop()!r}: harmful_rate cannot tell the models "
            "apart (cost and helpfulness still can); a guard that reads its input needs more R-SFT steps or rows"]


def front_figure(result: dict, run: str = ""):
    """Helpfulness against the guard's harmful rate and against the implicit cost, one point per w, each point
    labelled with its w and values (offsets alternate so neighbours do not collide); the reference model (base/SFT:
    what no MODPO gives) is a star and dashed lines on both axes; the title names the run and the held-out prompts
    (:mod:`gr_colab.plots`: the Figure API)."""
    from ..plots import figure

    fig, axes = figure(11, 4.6, ncols=2)
    ref, pts = result["reference"], result["front"]
    for ax, key, label in ((axes[0], "harmful_rate", "share judged harmful by your guard"),
                           (axes[1], "cost", "cost (minus the safety reward)")):
        ax.plot([p[key] for p in pts], [p["helpfulness"] for p in pts], "o-", label="MODPO, one point per w")
        for i, p in enumerate(pts):
            right = i % 2 == 0  # neighbours' labels on opposite sides of the line
            ax.annotate(f"w={p['w']:g}\n({p[key]:.2f}, {p['helpfulness']:.2f})", (p[key], p["helpfulness"]),
                        textcoords="offset points", xytext=(8, 4) if right else (-8, -22), fontsize=7,
                        ha="left" if right else "right")
        ax.plot([ref[key]], [ref["helpfulness"]], "k*", markersize=12, label="reference (base/SFT)")
        ax.axvline(ref[key], color="black", linestyle="--", linewidth=1)
        ax.axhline(ref["helpfulness"], color="black", linestyle="--", linewidth=1)
        ax.annotate(f"reference ({ref[key]:.2f}, {ref['helpfulness']:.2f})", (ref[key], ref["helpfulness"]),
                    textcoords="offset points", xytext=(-8, 6), fontsize=7, ha="right")
        ax.margins(x=0.12, y=0.2)  # room for the labels inside the axes
        ax.set_xlabel(f"{label}  (lower is safer)")
        if key == "harmful_rate":
            ax.set_xlim(-0.05, 1.05)  # a share: the whole range, so a constant judge looks like one
            if result.get("warnings"):
                ax.set_title("your guard gave every answer one verdict", fontsize=9, color="tab:red")
        ax.set_ylabel("helpfulness (implicit reward)")
        ax.legend(loc="best", fontsize=7)
    answers = ref.get("answers")
    fig.suptitle(f"{run + ': ' if run else ''}MODPO front, helpful against safe"
                 + (f" ({answers} held-out prompts answered by each model)" if answers else ""), fontsize=10)
    return fig


def plot_front(result: dict, path: Path, run: Optional[str] = None) -> Path:
    """:func:`front_figure` saved to ``path``; the run is ``run``, else the run folder of
    ``<run_dir>/modpo/front.png``."""
    from ..plots import save

    return save(front_figure(result, run or Path(path).resolve().parent.parent.name), path)


def public_json(summary: dict) -> dict:
    """The object ``gr-colab modpo`` prints last: ``{"front": [{w, helpfulness, cost, harmful_rate}], "reference"}``."""
    keep = lambda e: {k: e[k] for k in FRONT_KEYS}  # noqa: E731
    return {"front": [keep(e) for e in summary["front"]], "reference": keep(summary["reference"])}


# --- the stage -------------------------------------------------------------------------------------------------
def run_modpo(config: GRConfig, force: bool = False) -> dict:
    """Every step above, then ``front.json``, ``front.png`` and the stage's marker; returns the summary. Under a
    launcher: the trainers on every process, the rest on the main one (see the module's docstring)."""
    out = config.layout.stage(STAGE)
    if is_complete(out) and not force:
        print(f"== modpo: already complete, skipped ({out / MARKER})")
        return read_marker(out)
    guard_dir = guard_adapter(config)
    main = dist.is_main()
    if main:
        print(f"== modpo: the guard judging cost is {guard_dir}" +
              (f" ({dist.world_size()} processes: the trainers on each, the rest on this one)"
               if dist.world_size() > 1 else ""))
    train, held, report = prepare_data(config)
    if main:
        print(report)
    safe_rows, labels = safety_rows(config, train, guard_dir)
    rewards = train_rewards(config, train, safe_rows)  # every process: the Trainer shards the pairs
    pairs = margins(config, train, rewards["safety"])
    adapters = sweep(config, pairs)  # every process
    scores = config.layout.stage(STAGE) / "scores.jsonl"
    rows = dist.main_then_read(lambda: score(config, answers(config, held, adapters), rewards, guard_dir),
                               lambda: read_jsonl(scores))
    result = {**front(config, rows), "warnings": judge_warnings(rows)}
    png = out / "front.png"
    if main:
        for warning in result["warnings"]:
            print(f"== modpo: warning: {warning}")
        atomic_write_json(out / "front.json", result)
        png = plot_front(result, png)
    summary = {"stage": STAGE, **result,
               "guard": str(guard_dir), "train_pairs": len(train), "eval_prompts": len(rows) // (1 + len(adapters)),
               "safety_labels": labels or "dataset", "plot": str(png)}
    done = mark_complete(out, summary)  # the main process writes it
    dist.wait_for_everyone()  # a later step, on any process, reads the marker and the front
    return done
