"""Plots worth showing: on the released GuardReasoner-1B predictions, the comparison and per-task plots carry the run
and the benchmarks in their title, the value on each bar, the always-positive floor on each task, and tick labels
that do not run into each other; the MODPO front and the leaderboard likewise; and no plot touches pyplot or the
notebook's backend."""
from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys

from conftest import PRED_1B, ROOT

from gr_colab.evaluate import TASK_TITLES, Report, compare, compare_figure, find_benchmarks, report_figure, score_file
from gr_colab.metrics import METRIC_MODES, score_predictions
from gr_colab.runtime import read_jsonl

BENCHES = ["SimpleSafetyTests", "AegisSafetyTest", "HarmBenchPrompt", "XSTestResponseHarmful",
           "XSTestResponseRefusal"]


def released_report() -> Report:
    """The released GuardReasoner-1B outputs on five bundled benchmarks, scored by the kit."""
    scores = []
    for b in find_benchmarks(BENCHES):
        for mode in METRIC_MODES:
            scores.append(score_file(PRED_1B / b.name / "generated_predictions.jsonl", b.task, mode, name=b.name))
    return Report(scores)


def silent_report() -> Report:
    """The same items with every output empty (nothing parses): a 'before' that learned nothing."""
    scores = []
    for b in find_benchmarks(BENCHES):
        rows = [{**r, "predict": ""} for r in read_jsonl(PRED_1B / b.name / "generated_predictions.jsonl")]
        for mode in METRIC_MODES:
            scores.append(score_predictions(rows, b.task, mode, name=b.name))
    return Report(scores)


def overlapping(texts) -> list:
    boxes = [(t.get_text(), t.get_window_extent()) for t in texts if t.get_text()]
    return [(a, b) for (a, ba), (b, bb) in itertools.combinations(boxes, 2) if ba.overlaps(bb)]


def floors(ax) -> list[float]:
    """The y of every horizontal floor segment drawn with hlines."""
    out = []
    for coll in ax.collections:
        for seg in coll.get_segments():
            if len(seg) == 2 and seg[0][1] == seg[1][1]:
                out.append(round(float(seg[0][1]), 2))
    return out


def test_the_comparison_plot_names_its_run_shows_values_floors_and_keeps_labels_apart():
    before, after = silent_report(), released_report()
    rows = compare(before, after)
    avg = [r for r in rows if r["benchmark"] == "weighted average"]
    assert [r["task"] for r in avg] == ["request", "response", "completion"]
    expected_floor = {r["task"]: r["always_positive_f1"] for r in after.table("corrected")
                      if r["benchmark"] == "weighted average"}
    assert {r["task"]: r["always_positive_f1"] for r in avg} == expected_floor
    fig = compare_figure(rows, ("base", "rsft"), run="my-run")
    fig.draw_without_rendering()
    (ax,) = [a for a in fig.axes if a.containers]
    title = fig._suptitle.get_text()
    assert "my-run" in title and "base vs rsft" in title
    for b in find_benchmarks(BENCHES):  # the official names (XSTestReponseHarmful keeps its typo)
        assert b.name in title, b.name
    # the value on each bar, as the F1 of each task before and after
    assert [t.get_text() for t in ax.texts] == [f"{r[k]:.1f}" for k in ("before", "after") for r in avg]
    assert sorted(floors(ax)) == sorted(round(v, 2) for v in expected_floor.values())
    ticks = ax.get_xticklabels()
    assert [t.get_text().replace("\n", " ") for t in ticks] == [TASK_TITLES[r["task"]] for r in avg]
    assert not overlapping(ticks), overlapping(ticks)
    assert not overlapping(ax.texts + [fig._suptitle]), "bar values run into each other or into the title"


def test_the_per_task_plot_draws_each_benchmarks_floor_and_value():
    report = released_report()
    fig = report_figure(report, "request", "corrected", run="my-run · rsft")
    fig.draw_without_rendering()
    ax = fig.axes[0]
    scores = [s for s in report.scores if s.task == "request" and s.mode == "corrected"]
    assert [t.get_text() for t in ax.texts] == [f"{s.f1:.1f}" for s in scores]
    assert floors(ax) == [round(s.always_positive_f1, 2) for s in scores]
    assert "my-run · rsft" in fig._suptitle.get_text() and "prompt harmfulness" in fig._suptitle.get_text()
    assert not overlapping(ax.get_xticklabels())
    assert report_figure(report, "completion", "corrected") is not None
    assert report_figure(Report([]), "request") is None


def test_the_modpo_front_labels_every_point_and_draws_the_reference():
    from gr_colab.modpo import front_figure

    front = [{"w": w, "helpfulness": h, "cost": c, "harmful_rate": r}
             for w, h, c, r in [(0.1, 0.2, 0.30, 0.25), (0.5, 0.25, 0.31, 0.25), (0.9, 0.3, 0.33, 0.5)]]
    result = {"front": front, "reference": {"w": None, "helpfulness": 0.1, "cost": 0.35, "harmful_rate": 0.5,
                                            "answers": 8}, "warnings": []}
    fig = front_figure(result, run="my-run")
    fig.draw_without_rendering()
    assert "my-run" in fig._suptitle.get_text() and "8 held-out prompts" in fig._suptitle.get_text()
    for ax, key in zip(fig.axes, ("harmful_rate", "cost")):
        labels = [t.get_text() for t in ax.texts]
        for p in front:
            assert f"w={p['w']:g}\n({p[key]:.2f}, {p['helpfulness']:.2f})" in labels
        assert not overlapping(ax.texts), overlapping(ax.texts)
        dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
        assert len(dashed) == 2  # the reference's x and y


def test_no_plot_uses_pyplot_or_switches_the_backend():
    """matplotlib.use(...) in a library call switches a notebook's inline backend for every later cell."""
    offenders = [f"{p.relative_to(ROOT)}:{i}" for base in ("gr_colab", "benchmarks")
                 for p in (ROOT / base).rglob("*.py")
                 for i, line in enumerate(p.read_text().splitlines(), 1)
                 if re.match(r"\s*(matplotlib\.use\(|import matplotlib\.pyplot|from matplotlib import pyplot)", line)]
    assert not offenders, offenders
    code = ("import matplotlib, sys; before = matplotlib.get_backend(); "
            "from gr_colab.evaluate import compare, plot_compare; from test_plots import released_report, "
            "silent_report; import tempfile, pathlib; d = pathlib.Path(tempfile.mkdtemp()) / 'run' / 'eval'; "
            "p = plot_compare(compare(silent_report(), released_report()), d / 'compare_base_rsft.png'); "
            "print(p.stat().st_size, 'matplotlib.pyplot' in sys.modules, matplotlib.get_backend() == before)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "tests", capture_output=True, text=True,
                         env={**os.environ, "MPLBACKEND": "module://matplotlib_inline.backend_inline",
                              "PYTHONPATH": str(ROOT)}, timeout=300)
    size, pyplot, same = out.stdout.split()
    assert int(size) > 10_000 and pyplot == "False" and same == "True", out.stderr[-2000:]
