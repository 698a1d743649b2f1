"""Evaluation over the paper's benchmarks: generate, score with both metric variants, tables and plots.

Stage. The registry names the 13 (benchmark, task) pairs of the paper. Each loads from the bundled copy when the
kit ships it (``sample_data/benchmarks``), else from the public copy in the official shape that the GuardReasoner
repository publishes (a plain HTTPS download on Colab, kept in the run folder).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Union

from .benchmark_rows import load_benchmark
from .config import GRConfig
from .dist import is_main
from .metrics import METRIC_MODES, Score, canonical_task, score_predictions, weighted_average
from .runtime import SAMPLE_DATA, atomic_write_json, atomic_write_text

PUBLIC_BASE = "https://raw.githubusercontent.com/yueliu1999/GuardReasoner/main/data/benchmark/"


@dataclass(frozen=True)
class Benchmark:
    name: str  # the name the official predictions folders use
    task: str  # request, completion or response
    file: str  # the official file name
    size: int
    source: str
    license: str


BENCHMARKS: dict[str, Benchmark] = {b.name + ":" + b.task: b for b in [
    Benchmark("ToxicChat", "request", "0_8_toxic_chat.json", 2853, "lmsys/toxic-chat (toxicchat0124 test)",
              "CC-BY-NC-4.0"),
    Benchmark("HarmBenchPrompt", "request", "0_3_harmbench_prompt.json", 239, "HarmBench (centerforaisafety)",
              "MIT"),
    Benchmark("OpenAIModeration", "request", "0_2_OpenAIModeration.json", 1680,
              "OpenAI moderation-api-release evaluation set", "MIT"),
    Benchmark("AegisSafetyTest", "request", "0_1_AegisSafetyTest.json", 359,
              "nvidia/Aegis-AI-Content-Safety-Dataset-1.0 (test)", "CC-BY-4.0"),
    Benchmark("SimpleSafetyTests", "request", "0_0_SimpleSafetyTests.json", 100, "Bertievidgen/SimpleSafetyTests",
              "CC-BY-2.0"),
    Benchmark("WildGuardTest", "request", "0_4_wild_guard_test.json", 1725, "allenai/wildguardmix (wildguardtest)",
              "ODC-BY"),
    Benchmark("HarmBenchResponse", "response", "0_5_harmbench_response.json", 602,
              "HarmBench classifier validation set", "MIT"),
    Benchmark("SafeRLHF", "response", "0_9_safe_rlhf.json", 2000, "PKU-Alignment/PKU-SafeRLHF (test)",
              "CC-BY-NC-4.0"),
    Benchmark("BeaverTails", "response", "0_A_beaver_tails.json", 3021, "PKU-Alignment/BeaverTails (30k test)",
              "CC-BY-NC-4.0"),
    Benchmark("XSTestReponseHarmful", "response", "0_6_xstest_response_harmful.json", 446,
              "allenai/xstest-response (response_harmfulness)", "CC-BY-4.0"),
    Benchmark("WildGuardTest", "response", "0_4_wild_guard_test.json", 1725, "allenai/wildguardmix (wildguardtest)",
              "ODC-BY"),
    Benchmark("XSTestResponseRefusal", "completion", "0_7_xstest_response_refusal.json", 449,
              "allenai/xstest-response (response_refusal)", "CC-BY-4.0"),
    Benchmark("WildGuardTest", "completion", "0_4_wild_guard_test.json", 1725,
              "allenai/wildguardmix (wildguardtest)", "ODC-BY"),
]}
# Friendlier spellings accepted in configs (the official folder name has a typo: "Reponse").
ALIASES = {"XSTestResponseHarmful": "XSTestReponseHarmful", "HarmBenchPrompts": "HarmBenchPrompt"}
TASK_TITLES = {"request": "prompt harmfulness", "response": "response harmfulness", "completion": "refusal"}


def find_benchmarks(names: Iterable[str]) -> list[Benchmark]:
    """``Name`` (every task it has) or ``Name:task``; unknown names are an error that lists the known ones."""
    out = []
    for spec in names:
        name, _, task = spec.partition(":")
        name = ALIASES.get(name, name)
        found = [b for b in BENCHMARKS.values() if b.name == name and (not task or b.task == canonical_task(task))]
        if not found:
            known = sorted({b.name for b in BENCHMARKS.values()})
            raise ValueError(f"unknown benchmark {spec!r}; known: {', '.join(known)}")
        out += found
    return out


def benchmark_sizes(names: Iterable[str]) -> dict:
    """``{"Name:task": rows}`` of the named benchmarks: what the planner counts generations from."""
    return {f"{b.name}:{b.task}": b.size for b in find_benchmarks(names)}


def benchmark_path(bench: Benchmark, local_dirs: Iterable[Union[str, Path]] = (), download_to: Optional[Path] = None
                   ) -> Path:
    """The bundled file, a file in ``local_dirs``, or (Colab) the public copy downloaded once into ``download_to``."""
    for d in [*map(Path, local_dirs), SAMPLE_DATA / "benchmarks"]:
        if (d / bench.file).exists():
            return d / bench.file
    if download_to is None:
        raise FileNotFoundError(f"{bench.name}: {bench.file} is not bundled; pass download_to (needs the "
                                f"internet) or put the file in a local folder")
    target = Path(download_to) / bench.file
    if not target.exists():
        import urllib.request

        from .runtime import atomic_path

        with atomic_path(target) as tmp:
            urllib.request.urlretrieve(PUBLIC_BASE + bench.file, tmp)  # data in the official shape, JSON only
    return target


def benchmark_items(bench: Benchmark, limit: Optional[int] = None, **where) -> list[dict]:
    """Items ``{id, input, instruction, label}``; ``limit`` takes the first N of the file (a quick T4 run)."""
    loaded = load_benchmark(benchmark_path(bench, **where), bench.task, limit=limit)
    return [{"id": i, **row} for i, row in enumerate(loaded.rows)]


def score_file(path: Union[str, Path], task: str, mode: str = "official", name: str = "") -> Score:
    """Score a ``{label, predict}`` file (a ready guard's raw outputs: :func:`gr_colab.guards.score_guard_file`)."""
    from .runtime import read_jsonl

    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such prediction file")
    return score_predictions(read_jsonl(path), task, mode, name=name or Path(path).parent.name)


@dataclass
class Report:
    """Scores of one run: per (benchmark, task) and mode, and the row-weighted task averages."""

    scores: list  # of Score

    def table(self, mode: str = "official") -> list[dict]:
        """One row per benchmark and one weighted average per task; ``always_positive_f1`` is the floor a guard
        must beat (:attr:`Score.always_positive_f1`)."""
        rows = []
        for task in ("request", "response", "completion"):
            scores = [s for s in self.scores if s.task == task and s.mode == mode]
            for s in scores:
                rows.append({"task": task, "benchmark": s.name, "f1": round(s.f1, 2), "rows": s.rows,
                             "parse_rate": round(s.parse_rate, 3),
                             "always_positive_f1": round(s.always_positive_f1, 2)})
            if scores:
                total = max(1, sum(s.rows for s in scores))
                rows.append({"task": task, "benchmark": "weighted average", "f1": round(weighted_average(scores), 2),
                             "rows": sum(s.rows for s in scores),
                             "parse_rate": round(sum(s.parsed for s in scores) / total, 3),
                             "always_positive_f1": round(sum(s.always_positive_f1 * s.rows for s in scores) / total,
                                                         2)})
        return rows

    def warnings(self, mode: str = "corrected") -> list[str]:
        """One line per benchmark where the guard gave every parsed output the same label (a collapsed guard)."""
        return [f"{s.name} ({TASK_TITLES[s.task]}): all {s.parsed} parsed answers say {s.one_label!r}, so its F1 "
                f"({s.f1:.2f}) is that of a guard that never reads its input" for s in self.scores
                if s.mode == mode and s.one_label]

    def averages(self, mode: str = "official") -> dict:
        return {r["task"]: r["f1"] for r in self.table(mode) if r["benchmark"] == "weighted average"}

    def markdown(self) -> str:
        lines = []
        for mode in METRIC_MODES:
            lines += [f"**{mode}** metric", "", "| task | benchmark | F1 | always-positive F1 | rows | parse rate |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {TASK_TITLES[r['task']]} | {r['benchmark']} | {r['f1']:.2f} | {r['always_positive_f1']:.2f} "
                      f"| {r['rows']} | {r['parse_rate']:.1%} |" for r in self.table(mode)]
            lines.append("")
        lines += [f"Warning: {w}" for w in self.warnings()]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"scores": [s.to_dict() for s in self.scores],
                "averages": {m: self.averages(m) for m in METRIC_MODES}}

    @classmethod
    def from_json(cls, data: dict) -> "Report":
        scores = []
        for d in data["scores"]:
            d = {k: v for k, v in d.items() if k != "parse_rate"}
            scores.append(Score(**d))
        return cls(scores)


def score_run(pred_dir: Union[str, Path], benches: list[Benchmark]) -> Report:
    """Score ``pred_dir/<Benchmark>-<task>/generated_predictions.jsonl`` under both metric variants."""
    scores = []
    for b in benches:
        path = Path(pred_dir) / f"{b.name}-{b.task}" / "generated_predictions.jsonl"
        for mode in METRIC_MODES:
            scores.append(score_file(path, b.task, mode, name=b.name))
    return Report(scores)


def evaluate(config: GRConfig, loaded, name: str, benchmarks: Optional[list[str]] = None,
             progress: bool = True) -> Report:
    """Generate greedily on each benchmark into ``run_dir/eval/<name>/`` and score; resumable item by item."""
    from .generate import GenerationSettings, run_predictions

    out = config.layout.eval_dir(name)
    benches = find_benchmarks(benchmarks or config.eval_benchmarks)
    for b in benches:
        items = benchmark_items(b, limit=config.eval_limit, download_to=config.layout.stage("benchmarks"))
        path = out / f"{b.name}-{b.task}" / "generated_predictions.jsonl"
        run_predictions(loaded, items, path, GenerationSettings.greedy(config), config.prompt_format,
                        progress=progress)
    report = score_run(out, benches)
    for warning in report.warnings():
        print(f"== evaluate {name}: {warning}")
    if is_main():  # under a launcher the pipeline evaluates on the main process only; this guards direct calls
        atomic_write_json(out / "report.json", report.to_json())
        atomic_write_text(out / "report.md", report.markdown())
        plot_report(report, out)
    return report


# --- plots ------------------------------------------------------------------------------------------------------
def confusion(score: Score) -> list[list[int]]:
    """[[tp, fn], [fp, tn]]: rows are the gold positive/negative class."""
    return [[score.tp, score.fn], [score.fp, score.tn]]


def report_figure(report: Report, task: str, mode: str = "corrected", run: str = ""):
    """The figure of one task (None when the report has no score of it): F1 per benchmark, its value on the bar and
    the always-positive floor drawn over it, beside each benchmark's confusion matrix; the title names the run and
    the benchmarks (:mod:`gr_colab.plots`: the Figure API, so a notebook's backend is left as it is)."""
    from .plots import figure, grouped_bars, title

    scores = [s for s in report.scores if s.task == task and s.mode == mode]
    if not scores:
        return None
    fig, axes = figure(5 + 3 * len(scores), 4.0, ncols=1 + len(scores),
                       width_ratios=[1.2 * len(scores)] + [1] * len(scores))
    grouped_bars(axes[0], [s.name for s in scores], {f"F1 ({mode})": [s.f1 for s in scores]},
                 floors=[s.always_positive_f1 for s in scores], ylabel=f"F1 ({mode})")
    axes[0].set_title(TASK_TITLES[task], fontsize=9)
    for a, s in zip(axes[1:], scores):
        m = confusion(s)
        a.imshow(m, cmap="Blues")
        for r in range(2):
            for c in range(2):
                a.text(c, r, str(m[r][c]), ha="center", va="center")
        a.set_xticks([0, 1], ["pred +", "pred −"])
        a.set_yticks([0, 1], ["gold +", "gold −"])
        a.set_title(s.name, fontsize=8)
    fig.suptitle(title(f"{run + ': ' if run else ''}{TASK_TITLES[task]}, F1 ({mode})", [s.name for s in scores]),
                 fontsize=10)
    return fig


def plot_report(report: Report, out: Union[str, Path], mode: str = "corrected") -> list[Path]:
    """One PNG a task (:func:`report_figure`), named for the run and variant of ``out``
    (``<run_dir>/eval/<variant>``)."""
    from .plots import save

    resolved = Path(out).resolve()
    run = f"{resolved.parent.parent.name} · {resolved.name}" if resolved.parent.name == "eval" else resolved.name
    figures = {task: report_figure(report, task, mode, run) for task in ("request", "response", "completion")}
    return [save(fig, Path(out) / f"f1_{task}.png") for task, fig in figures.items() if fig is not None]


def compare(before: Report, after: Report, mode: str = "corrected") -> list[dict]:
    """Per task average and per benchmark: F1 before, after, the change, and the always-positive F1 (the floor a
    guard must beat; it depends on the gold labels only)."""
    def index(report):
        return {(r["task"], r["benchmark"]): r for r in report.table(mode)}

    a, b = index(before), index(after)
    f1 = lambda rows, key: rows[key]["f1"] if key in rows else None  # noqa: E731
    out = []
    for key in dict.fromkeys([*a, *b]):
        x, y = f1(a, key), f1(b, key)
        out.append({"task": key[0], "benchmark": key[1], "before": x, "after": y,
                    "delta": None if x is None or y is None else round(y - x, 2),
                    "always_positive_f1": (b.get(key) or a.get(key))["always_positive_f1"]})
    return out


def compare_figure(rows: list[dict], labels=("before", "after"), run: str = ""):
    """The weighted F1 of each task, before and after, each value on its bar and each task's always-positive floor
    drawn across it; the title names the run and the benchmarks averaged (:mod:`gr_colab.plots`)."""
    from .plots import figure, grouped_bars, title

    avg = [r for r in rows if r["benchmark"] == "weighted average"]
    benches = list(dict.fromkeys(r["benchmark"] for r in rows if r["benchmark"] != "weighted average"))
    fig, (ax,) = figure(7.5, 4.2)
    grouped_bars(ax, [TASK_TITLES.get(r["task"], r["task"]) for r in avg],
                 {labels[0]: [r["before"] for r in avg], labels[1]: [r["after"] for r in avg]},
                 floors=[r.get("always_positive_f1") for r in avg], ylabel="weighted F1", wrap_width=11)
    fig.suptitle(title(f"{run + ': ' if run else ''}{labels[0]} vs {labels[1]}, weighted F1 per task", benches,
                       width=80), fontsize=10)
    return fig


def plot_compare(rows: list[dict], path: Union[str, Path], labels=("before", "after"),
                 run: Optional[str] = None) -> Path:
    """:func:`compare_figure` saved to ``path``; the run is ``run``, else the run folder of
    ``<run_dir>/eval/compare_*.png``."""
    from .plots import save

    return save(compare_figure(rows, labels, run or Path(path).resolve().parent.parent.name), path)


def holdout_check(config: GRConfig, loaded, rows: list, name: str, progress: bool = True) -> dict:
    """On training-format rows kept out of R-SFT: the share of outputs that parse strictly, and how often each
    parsed answer matches the gold label. What R-SFT teaches first is the format; this measures it, on a seeded
    sample of ``config.holdout_check_limit`` rows (the same rows for every variant)."""
    from .generate import GenerationSettings, run_predictions
    from .traces import parse_trace

    items = [{"id": i, "input": r["input"], "instruction": r.get("instruction"), "label": r["output"]}
             for i, r in enumerate(rows)]
    limit = config.holdout_check_limit
    if limit is not None and len(items) > limit:
        import random

        keep = set(random.Random(config.seed).sample(range(len(items)), limit))
        print(f"held-out check of {name}: a seeded sample of {limit} of the {len(items)} held-out rows "
              "(holdout_check_limit)")
        items = [it for it in items if it["id"] in keep]
    path = config.layout.eval_dir(name) / "holdout" / "generated_predictions.jsonl"
    preds = run_predictions(loaded, items, path, GenerationSettings.greedy(config), config.prompt_format,
                            progress=progress)
    verdicts = [parse_trace(p["predict"]) for p in preds]
    golds = [parse_trace(p["label"]) for p in preds]
    n = len(preds)
    out = {"items": n, "parse_rate": sum(v.complete for v in verdicts) / n if n else 0.0,
           "any_answer_rate": sum(v.status != "unparsed" for v in verdicts) / n if n else 0.0}
    for task in ("request", "completion", "response"):
        pairs = [(g.labels[task], v.labels[task]) for g, v in zip(golds, verdicts) if g.labels[task] is not None]
        out[f"{task}_accuracy"] = sum(a == b for a, b in pairs) / len(pairs) if pairs else 0.0
    atomic_write_json(path.parent / "summary.json", out)
    return out
