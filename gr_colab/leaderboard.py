"""``gr-colab leaderboard``: where each student's guard stands in the class, beside the guards that were published.

Chapter. The kit's model card (:func:`gr_colab.hub.model_card`) carries the evaluation's F1 as the Hub's
``model-index``; this reads it back with ``huggingface_hub``'s ``ModelCard`` (``card.data.eval_results``) from:

* a folder of cards (``README.md`` in it, in each of its sub-folders, or ``*.md`` files): offline;
* a card file;
* a Hub model id ``owner/name``: its ``README.md`` through ``HfApi.hf_hub_download``;
* a Hub user or organisation: every model of theirs tagged ``gr-colab`` (``HfApi.list_models(author=…)``).

A student's F1 per task is the mean over the benchmarks of that task on the card (the card lists each benchmark's F1,
not its rows). The published guards' figures (``published/guards.json``, from the GuardReasoner paper as
``docs/guards.md`` quotes them: row-weighted over the paper's own benchmarks) stand beside them, marked as such: read
them as what each guard can do, not as the same test. A card that cannot be read or carries no F1 is skipped and
named, never dropped silently. Writes ``leaderboard.csv``, ``leaderboard.md`` and ``leaderboard.png``.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Union

from .runtime import atomic_write_text

TASKS = {"request": "prompt harmfulness", "response": "response harmfulness", "completion": "refusal"}
PUBLISHED = Path(__file__).resolve().parent / "published" / "guards.json"
KIT_TAG = "gr-colab"  # the tag every card of the kit carries (hub.model_card)


@dataclass
class Board:
    """The leaderboard: one row per model, the cards skipped and why, the files written."""

    rows: list
    skipped: list = field(default_factory=list)  # (source, why)
    files: dict = field(default_factory=dict)

    def markdown(self) -> str:
        heads = ["rank", "model", "kind", *TASKS.values(), "benchmarks"]
        lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        for i, r in enumerate(self.rows, 1):
            cells = [str(i) if r["kind"] == "student" else "", r["model"], r["kind"],
                     *[_cell(r.get(t)) for t in TASKS], r.get("benchmarks", "")]
            lines.append("| " + " | ".join(cells) + " |")
        if self.skipped:
            lines += ["", f"Skipped {len(self.skipped)} card(s):"] + [f"- {s}: {why}" for s, why in self.skipped]
        return "\n".join(lines)


def _why(exc: Exception) -> str:
    """An exception on one line (a YAML error spans several)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"


def _cell(v) -> str:
    return "" if v is None else f"{v:.2f}"


# --- the cards ---------------------------------------------------------------------------------------------------
def cards_in_folder(folder: Path) -> list[tuple[str, Path]]:
    """``(name, card path)``: the folder's own README.md, else each sub-folder's, else each ``*.md`` file."""
    if (folder / "README.md").is_file():
        return [(folder.name, folder / "README.md")]
    subs = [(p.name, p / "README.md") for p in sorted(folder.iterdir()) if (p / "README.md").is_file()]
    return subs or [(p.stem, p) for p in sorted(folder.glob("*.md"))]


def hub_ids(source: str, api, token: Optional[str]) -> list[str]:
    """A model id (``owner/name``) as it is, or every ``gr-colab`` model of a user or organisation."""
    if "/" in source:
        return [source]
    return [m.id for m in api.list_models(author=source, filter=KIT_TAG, token=token)]


def load_cards(sources: Iterable[str], api=None, token: Optional[str] = None) -> tuple[list, list]:
    """``([(name, ModelCard)], [(source, why skipped)])`` for every source (see the module's docstring)."""
    from huggingface_hub import ModelCard

    found, skipped = [], []

    def read(name, card_path):
        try:
            found.append((name, ModelCard.load(card_path)))
        except Exception as exc:  # a card whose metadata is not YAML, a file that is not a card
            skipped.append((name, f"not a model card ({_why(exc)})"))

    for source in sources:
        path = Path(source)
        if path.is_dir():
            named = cards_in_folder(path)
            if not named:
                skipped.append((source, "no README.md or *.md card in this folder"))
            for name, card_path in named:
                read(name, card_path)
        elif path.is_file():
            read(path.parent.name if path.name == "README.md" else path.stem, path)
        else:
            if api is None:
                from huggingface_hub import HfApi

                api = HfApi()
            try:
                ids = hub_ids(source, api, token)
            except Exception as exc:  # unknown owner, offline: this source is skipped and named
                skipped.append((source, f"could not be listed on the Hub ({_why(exc)})"))
                continue
            if not ids:
                skipped.append((source, f"no model tagged {KIT_TAG!r} on the Hub under this name"))
            for repo in ids:
                try:
                    card_path = api.hf_hub_download(repo_id=repo, filename="README.md", token=token)
                except Exception as exc:  # no card, gated, private without a token: skipped and named
                    skipped.append((repo, f"its README.md could not be read from the Hub ({_why(exc)})"))
                    continue
                read(repo, card_path)
    return found, skipped


def scores(card, mode: str = "official") -> list[dict]:
    """``[{task, benchmark, f1}]``: the card's F1 results of metric ``F1 (<mode>)``, the task being the dataset's
    config (as :func:`gr_colab.hub.eval_results` writes them)."""
    out = []
    for r in card.data.eval_results or []:
        if r.metric_type == "f1" and r.metric_name == f"F1 ({mode})" and r.dataset_config in TASKS:
            out.append({"task": r.dataset_config, "benchmark": r.dataset_name, "f1": float(r.metric_value)})
    return out


# --- the board -----------------------------------------------------------------------------------------------------
def published() -> list[dict]:
    data = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    return [{"model": g["model"], "kind": "published", **{t: g.get(t) for t in TASKS},
             "benchmarks": "the paper's"} for g in data["guards"]]


def student_row(name: str, results: list[dict]) -> dict:
    row = {"model": name, "kind": "student"}
    for task in TASKS:
        values = [s["f1"] for s in results if s["task"] == task]
        row[task] = round(sum(values) / len(values), 2) if values else None
    row["benchmarks"] = ", ".join(dict.fromkeys(s["benchmark"] for s in results))
    return row


def _mean(row: dict) -> float:
    values = [row[t] for t in TASKS if row.get(t) is not None]
    return sum(values) / len(values) if values else -1.0


def build(sources: Iterable[str], mode: str = "official", api=None, token: Optional[str] = None,
          with_published: bool = True) -> Board:
    """Read the cards, one row per student model (best first: the mean of its task F1), then the published
    guards."""
    cards, skipped = load_cards(sources, api=api, token=token)
    students = []
    for name, card in cards:
        results = scores(card, mode)
        if not results:
            skipped.append((name, f"its model card has no F1 ({mode}) in its model-index (was it evaluated?)"))
            continue
        students.append(student_row(name, results))
    students.sort(key=_mean, reverse=True)
    return Board(students + (published() if with_published else []), skipped)


def to_csv(board: Board) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["model", "kind", *TASKS, "benchmarks"], lineterminator="\n")
    writer.writeheader()
    for r in board.rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in writer.fieldnames})
    return buf.getvalue()


def board_figure(board: Board, title: str = "Class leaderboard"):
    """One panel per task: a horizontal bar per model with its F1 written on it; students in colour, the published
    guards in grey (:mod:`gr_colab.plots`: the Figure API)."""
    from .plots import figure

    rows = board.rows
    fig, axes = figure(15, 1.2 + 0.32 * max(3, len(rows)), ncols=len(TASKS))
    for ax, (task, label) in zip(axes, TASKS.items()):
        names = [r["model"] for r in rows][::-1]  # best student on top
        values = [r.get(task) for r in rows][::-1]
        colors = ["#4C72B0" if r["kind"] == "student" else "#9A9A9A" for r in rows][::-1]
        bars = ax.barh(range(len(rows)), [v or 0 for v in values], color=colors)
        ax.bar_label(bars, labels=["n/a" if v is None else f"{v:.1f}" for v in values], fontsize=7, padding=2)
        ax.set_yticks(range(len(rows)), names if ax is axes[0] else [""] * len(rows), fontsize=8)
        ax.set_xlim(0, 110)
        ax.set_title(f"{label} F1", fontsize=9)
    fig.suptitle(f"{title}: students (blue) beside published guards (grey, the GuardReasoner paper's figures on its "
                 "own benchmarks)", fontsize=10)
    return fig


def plot(board: Board, path: Union[str, Path], title: str = "Class leaderboard") -> Path:
    from .plots import save

    return save(board_figure(board, title), path)


def write(board: Board, out_dir: Union[str, Path], title: str = "Class leaderboard") -> dict:
    out = Path(out_dir)
    board.files = {"csv": atomic_write_text(out / "leaderboard.csv", to_csv(board)),
                   "md": atomic_write_text(out / "leaderboard.md", f"# {title}\n\n" + board.markdown() + "\n"),
                   "png": plot(board, out / "leaderboard.png", title)}
    return board.files
