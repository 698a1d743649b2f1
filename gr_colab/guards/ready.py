"""Running ready guards (Llama Guard 3, Qwen3Guard-Gen, WildGuard, ShieldGemma, Granite Guardian) on the benchmarks.

The harness. :mod:`gr_colab.guards.parsers` says how each is prompted and read; this module loads one from the Hub with
transformers, renders its calls with its own tokenizer (chat template and the card's template arguments, or
WildGuard's fixed string), generates greedily with the kit's batched generator, and writes the official
``{id, prompt, label, predict}`` rows: ``predict`` is the Answers block the raw output parses to, ``raw`` the output
itself, so the paper's metric scores a ready guard exactly as it scores the student's.
"""
from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Union

from ..prompts import split_input
from ..runtime import atomic_write_json, atomic_write_text
from .parsers import GuardCall, GuardSpec, get_guard, guard_calls, to_prediction

if TYPE_CHECKING:
    from ..evaluate import Report

# The comparison notebook 04 offers on Colab: the student's guard against these two (small enough for a T4).
NOTEBOOK_GUARDS = ("llama-guard-3-1b", "qwen3guard-gen-0.6b")


def render_call(tokenizer, call: GuardCall) -> str:
    """The text the guard reads for one call: its tokenizer's chat template with the card's arguments, or the fixed
    string a guard without a guard template (WildGuard) documents."""
    if call.text is not None:
        return call.text
    return tokenizer.apply_chat_template(call.messages, tokenize=False, **call.template_kwargs)


def hf_generate_fn(spec: Union[str, GuardSpec], config=None, batch_size: Optional[int] = None) -> Callable:
    """Load the guard from the Hub (safetensors only; on a GPU the precision of gr_colab.precision) and return
    ``generate(calls) -> outputs``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ..generate import GenerationSettings
    from ..models import LoadedModel, prepare_tokenizer
    from ..precision import decide, gpu_capability

    spec = spec if isinstance(spec, GuardSpec) else get_guard(spec)
    cuda = torch.cuda.is_available()

    dtype = decide(spec.hub_id, "cuda" if cuda else "cpu", gpu_capability()).torch_dtype()
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.hub_id)
        model = AutoModelForCausalLM.from_pretrained(spec.hub_id, dtype=dtype, use_safetensors=True)
    except OSError as exc:
        hint = (" It is gated: accept its license on its Hub page and set HF_TOKEN (Colab: the key icon)."
                if spec.gated else "")
        raise RuntimeError(f"{spec.name}: could not load {spec.hub_id} from the Hub.{hint} ({exc})") from exc
    prepare_tokenizer(tokenizer)
    model = model.to("cuda" if cuda else "cpu").eval()
    loaded = LoadedModel(model, tokenizer, "transformers", "cuda" if cuda else "cpu", dtype, f"ready guard {spec.name}",
                    spec.hub_id)
    settings = GenerationSettings(max_new_tokens=spec.max_new_tokens,
                                  batch_size=batch_size or (getattr(config, "gen_batch_size", 8) or 8))
    return loaded_generate_fn(loaded, settings)


def loaded_generate_fn(loaded, settings) -> Callable:
    """``generate(calls) -> outputs`` over an already loaded model (greedy, the kit's batched generator)."""
    from ..generate import generate

    def run(calls: list[GuardCall]) -> list[str]:
        texts = [render_call(loaded.tokenizer, c) for c in calls]
        return [samples[0] for samples in generate(loaded, texts, settings, progress=False)]

    return run


def run_guard_predictions(guard, generate_fn: Callable, items: list[dict], task: str, out_path: Union[str, Path],
                          controversial: str = "strict", progress: bool = True, chunk: int = 32) -> list[dict]:
    """Generate the guard's calls for ``items`` (``{id, input, label}``) and write one row each; resumable: rows
    already in ``out_path`` are skipped. An item the guard cannot judge (no response to check) is written with an
    empty prediction, so the metric counts it as a failure rather than losing it; the count is printed."""
    from tqdm.auto import tqdm

    from ..runtime import read_jsonl, write_jsonl

    spec = guard if isinstance(guard, GuardSpec) else get_guard(guard)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    done = read_jsonl(out_path)
    write_jsonl(out_path, done)  # only whole lines survive an interrupted write
    done_ids = {r.get("id") for r in done}
    todo = [it for it in items if it["id"] not in done_ids]
    no_call = 0
    for start in tqdm(range(0, len(todo), chunk), desc=f"{spec.name} {task}", disable=not progress, leave=False):
        part = todo[start:start + chunk]
        plans = []
        for it in part:
            try:
                prompt, response = split_input(it["input"])
            except ValueError as exc:
                raise ValueError(f"{out_path.parent.name} item {it['id']}: field 'input': {exc}") from None
            plans.append(guard_calls(spec, prompt, response, task))
        flat = [c for calls in plans for c in calls]
        outputs = iter(generate_fn(flat) if flat else [])
        with out_path.open("a", encoding="utf-8") as f:
            for it, calls in zip(part, plans):
                raw = [next(outputs) for _ in calls]
                no_call += not calls
                predict = to_prediction(spec, raw if spec.family == "shieldgemma" else (raw[0] if raw else ""),
                                        task, controversial) if calls else ""
                f.write(json.dumps({"id": it["id"], "prompt": it["input"], "label": it.get("label"),
                                    "predict": predict, "raw": raw, "guard": spec.name}, ensure_ascii=False) + "\n")
    if no_call:
        print(f"{spec.name}: {no_call} items of {out_path.parent.name} have no response to judge; "
              "counted as failures")
    by_id = {r["id"]: r for r in read_jsonl(out_path)}
    return [by_id[it["id"]] for it in items if it["id"] in by_id]


def side_by_side(reports: dict, mode: str = "corrected") -> list[dict]:
    """One row per (task, benchmark), one column per guard: weighted F1 averages first. ``reports``: name → Report."""
    index = {name: {(r["task"], r["benchmark"]): r["f1"] for r in rep.table(mode)} for name, rep in reports.items()}
    keys = list(dict.fromkeys(k for idx in index.values() for k in idx))
    keys.sort(key=lambda k: (("request", "response", "completion").index(k[0]), k[1] != "weighted average"))
    return [{"task": t, "benchmark": b, **{name: idx.get((t, b)) for name, idx in index.items()}} for t, b in keys]


def compare_with_ready_guards(config, student_report, guards=NOTEBOOK_GUARDS, benchmarks=None) -> Optional[list]:
    """Notebook 04's optional comparison: each ready guard on the config's benchmarks beside the student's report.
    Needs a GPU and the Hub (Colab); elsewhere it prints why it skipped and returns None. A guard that fails to load
    (gated, no token) is skipped with its reason; the others still run."""
    import torch

    if not config.compare_ready_guards:
        print("skipped: the ready-guard comparison is opt-in (each guard is another evaluation's worth of "
              "generations on the T4); set compare_ready_guards=True in the config cell to run it")
        return None
    if config.is_twin or not torch.cuda.is_available():
        why = "this run is the CPU twin" if config.is_twin else "no CUDA GPU is visible"
        print(f"skipped: {why}; the ready guards are 0.6-1B models downloaded from the Hub, compared on a Colab GPU "
              "with a real preset (t4-270m or larger)")
        return None

    reports = {"yours": student_report}
    for name in guards:
        try:
            reports[name] = evaluate_guard(config, name, benchmarks=benchmarks)
        except RuntimeError as exc:
            print(f"skipped {name}: {exc}")
        gc.collect()  # the guard's weights go before the next one loads (a T4 has 15 GB)
        torch.cuda.empty_cache()
    return side_by_side(reports)


def evaluate_guard(config, guard: str, generate_fn=None, benchmarks: Optional[list[str]] = None,
                   controversial: str = "strict", progress: bool = True) -> "Report":
    """A ready guard (:data:`~gr_colab.guards.parsers.READY_GUARDS`) on the same benchmarks, scored by the same
    metric, into ``run_dir/eval/<guard>/``; a benchmark whose task the guard lacks is skipped, and said.
    ``generate_fn(calls) -> outputs`` runs the model (default: the guard from the Hub with transformers,
    :func:`hf_generate_fn`)."""
    from ..evaluate import TASK_TITLES, benchmark_items, find_benchmarks, score_run

    spec = get_guard(guard)
    out = config.layout.eval_dir(spec.name)
    benches = []
    for b in find_benchmarks(benchmarks or config.eval_benchmarks):
        if b.task not in spec.tasks:
            print(f"{spec.name}: skipped {b.name} ({TASK_TITLES[b.task]}): this guard has no {b.task} task")
            continue
        benches.append(b)
        if generate_fn is None:
            generate_fn = hf_generate_fn(spec, config)
        items = benchmark_items(b, limit=config.eval_limit, download_to=config.layout.stage("benchmarks"))
        run_guard_predictions(spec, generate_fn, items, b.task,
                              out / f"{b.name}-{b.task}" / "generated_predictions.jsonl", controversial, progress)
    report = score_run(out, benches)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "report.json", report.to_json())
    atomic_write_text(out / "report.md", report.markdown())
    return report


def score_guard_file(path: Union[str, Path], guard: str, task: str, mode: str = "official", name: str = "",
                     controversial: str = "strict"):
    """Score a ``{label, predict}`` file whose ``predict`` holds a ready guard's raw output: its parser
    (:mod:`gr_colab.guards.parsers`) reads each into the kit's Answers block first, then the paper's metric scores it
    as :func:`gr_colab.evaluate.score_file` scores the student's."""
    from ..metrics import canonical_task, score_predictions
    from ..runtime import read_jsonl

    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such prediction file")
    task = canonical_task(task)
    rows = [{**r, "predict": to_prediction(guard, r.get("predict"), task, controversial)} for r in read_jsonl(path)]
    return score_predictions(rows, task, mode, name=name or Path(path).parent.name)
