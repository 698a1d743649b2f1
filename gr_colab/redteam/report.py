"""The red-teaming chapter in the run's report: its figure over the iterations and its section."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

PLOTTED = ("failure_rate", "self_bleu", "distinct_1", "distinct_2", "unique_failures", "duplicates_dropped")


def plot_metrics(iterations: list, hardening: dict, path: Union[str, Path]) -> Optional[Path]:
    """Failure rate, diversity, failures and duplicates over the iterations, as one PNG."""
    if not iterations:
        return None
    from matplotlib.figure import Figure  # no pyplot: the notebook's backend stays as it is

    xs = [it["iteration"] for it in iterations]
    get = lambda key: [it.get(key) if it.get(key) is not None else float("nan") for it in iterations]
    fig = Figure(figsize=(13, 3.4))
    axes = fig.subplots(1, 3)
    axes[0].plot(xs, get("failure_rate"), marker="o", label="fresh proposals")
    for key, style in (("failure_rate_before", "--"), ("failure_rate_after", ":")):
        if hardening.get(key) is not None:
            axes[0].axhline(hardening[key], linestyle=style, color="grey", label=f"held-out, {key.split('_')[-1]}")
    axes[0].set_title("failure rate (attack success)")
    axes[0].set_ylim(-0.05, 1.05)
    axes[0].legend(fontsize=7)
    for key in ("self_bleu", "distinct_1", "distinct_2"):
        axes[1].plot(xs, get(key), marker="o", label=key)
    axes[1].set_title("diversity")
    axes[1].legend(fontsize=7)
    width = 0.38
    axes[2].bar([x - width / 2 for x in xs], get("unique_failures"), width, label="unique failures")
    axes[2].bar([x + width / 2 for x in xs], get("duplicates_dropped"), width, label="dropped as duplicates")
    axes[2].set_title("counts")
    axes[2].legend(fontsize=7)
    for ax in axes:
        ax.set_xlabel("iteration")
        ax.set_xticks(xs)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path


def report_blocks(run_dir: Union[str, Path]) -> list:
    """The report's red-teaming section (blocks as :func:`gr_colab.report.sections` takes them); [] if not run."""
    from ..runs import RunLayout, read_marker

    folder = RunLayout(run_dir).stage("redteam")
    s = read_marker(folder)
    if not s:
        return []
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else ("–" if v is None else str(v))
    rows = [{"iteration": it["iteration"], **{k: fmt(it.get(k)) for k in PLOTTED},
             "judged": it.get("judged"), "pairs": it.get("pairs")} for it in s.get("iterations", [])]
    h = s.get("hardening", {})
    blocks = [("p", f"Target: {s.get('target')}; reference: {s.get('reference')}; proposer: {s.get('proposer')}. "
                    "Failure rate = failures / judged requests (the paper's attack success rate)."),
              ("table", rows),
              ("p", f"Hardening: failure rate on {h.get('heldout_judged', '?')} judged held-out proposals "
                    f"{fmt(h.get('failure_rate_before'))} before, {fmt(h.get('failure_rate_after'))} after "
                    f"R-SFT on {h.get('failures', '?')} failures" + (f" ({h['skipped']})" if h.get("skipped") else "")
                    + ".")]
    if (folder / "metrics.png").exists():
        blocks.append(("img", "redteam/metrics.png"))
    return blocks
