"""Figures worth showing in class: grouped bars with the value on each bar, the always-positive floor drawn on each
group, wrapped labels that do not run into each other, a title that names the run and the benchmarks.

Formats layer (matplotlib only, imported when a figure is made). Every figure is a ``matplotlib.figure.Figure`` made
directly (the object API): no pyplot state and no ``matplotlib.use(...)``, which would switch a notebook's inline
backend for every later cell. ``Figure.savefig`` renders PNG with Agg on its own.
"""
from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Optional, Sequence, Union

FLOOR_LABEL = "always-positive guard (the floor)"
LABEL_BOX = dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.85)
FLOOR_STYLE = dict(colors="black", linestyles="--", linewidth=1.4, zorder=3)  # over the bars


def figure(width: float, height: float, ncols: int = 1, width_ratios: Optional[Sequence[float]] = None):
    """A figure and its row of axes, laid out by matplotlib's constrained layout (titles, labels and legends kept
    apart)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, list(fig.subplots(1, ncols, squeeze=False, width_ratios=width_ratios)[0])


def wrap(label: str, width: int = 12) -> str:
    """A tick label on short lines, so neighbouring labels keep apart: broken at spaces and at the humps of a
    CamelCase name (``SimpleSafetyTests`` → ``SimpleSafety`` / ``Tests``), never inside a word."""
    pieces = [p for word in re.findall(r"[^ ]+ ?", str(label)) for p in re.split(r"(?<=[a-z0-9])(?=[A-Z])", word)]
    lines, line = [], ""
    for piece in pieces:
        if line and len(line.rstrip()) + len(piece.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        line += piece
    lines.append(line.rstrip())
    return "\n".join(lines)


def title(what: str, names: Sequence[str], width: int = 110) -> str:
    """``what`` then the names it covers (the benchmarks), wrapped to the figure's width."""
    return what + ("\n" + "\n".join(textwrap.wrap(", ".join(names), width)) if names else "")


def grouped_bars(ax, groups: Sequence[str], series: dict, floors: Optional[Sequence[Optional[float]]] = None,
                 fmt: str = "{:.1f}", ylabel: str = "", ylim: Optional[tuple] = (0, 100), wrap_width: int = 12,
                 floor_label: str = FLOOR_LABEL) -> None:
    """One cluster of bars per group, one bar per series (``{name: [value per group]}``; None draws no bar and
    writes n/a), each bar's value above it, and each group's floor as a dashed line across its cluster."""
    n = max(1, len(series))
    width = 0.8 / n
    for i, (name, values) in enumerate(series.items()):
        xs = [g - 0.4 + width * (i + 0.5) for g in range(len(groups))]
        bars = ax.bar(xs, [0 if v is None else v for v in values], width, label=name)
        ax.bar_label(bars, labels=["n/a" if v is None else fmt.format(v) for v in values], fontsize=7, padding=2,
                     zorder=4, bbox=LABEL_BOX)  # readable where a floor line crosses it
    if floors is not None:
        drawn = False
        for g, floor in enumerate(floors):
            if floor is None:
                continue
            ax.hlines(floor, g - 0.45, g + 0.45, label=None if drawn else floor_label, **FLOOR_STYLE)
            drawn = True
    ax.set_xticks(range(len(groups)), [wrap(g, wrap_width) for g in groups], fontsize=8)
    if ylim is not None:
        ax.set_ylim(ylim[0], ylim[1] * 1.1)  # room for the values above a full bar
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def save(fig, path: Union[str, Path], dpi: int = 100) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
