"""The run's report, in Markdown and HTML, from the stage files: what was trained, what it scored, what it shipped.

Face. Reads only the run folder, so it can be rebuilt at any time (``gr-colab report``).
"""
from __future__ import annotations

import html
from pathlib import Path

from .config import GRConfig
from .dist import is_main, wait_for_everyone
from .evaluate import TASK_TITLES
from .redteam.report import report_blocks
from .runs import read_marker
from .runtime import atomic_write_text
from .stages import NAMES


def sections(config: GRConfig) -> list[tuple[str, list]]:
    """[(title, [blocks])], a block being ("p", text), ("table", rows as dicts) or ("img", relative path)."""
    layout = config.layout
    run = layout.root
    out = []
    prep = read_marker(layout.stage("prepare"))
    out.append(("Setup", [("p", f"Preset `{config.preset}`, model `{config.model_name}`, prompt format "
                                f"`{config.prompt_format}`."),
                          ("p", prep.get("data_report", "(data not prepared)")),
                          ("p", f"{prep.get('train_rows', '?')} training rows, {prep.get('holdout_rows', '?')} "
                                "held out to measure R-SFT.")]))
    rs = read_marker(layout.stage("rsft"))
    blocks = [("p", f"{rs.get('steps', '?')} steps; loss {_num(rs.get('first_loss'))} → "
                    f"{_num(rs.get('last_loss'))}.")] if rs else [("p", "(not run)")]
    if layout.curves("rsft").exists():
        blocks.append(("img", "rsft/curves.png"))
    out.append(("R-SFT", blocks))

    ev = read_marker(layout.stage("eval")).get("variants", {})
    if ev:
        hold = [{"model": n, "parse rate": f"{v['holdout']['parse_rate']:.0%}",
                 "request acc.": f"{v['holdout']['request_accuracy']:.0%}", "items": v["holdout"]["items"]}
                for n, v in ev.items()]
        f1 = []
        for n, v in ev.items():
            row = {"model": n}
            for task, title in TASK_TITLES.items():
                row[f"{title} (corrected)"] = v["averages"].get(task)
                row[f"{title} (official)"] = v["official"].get(task)
            f1.append(row)
        blocks = [("p", "Held-out training-format items: does the model write a trace whose answers parse?"),
                  ("table", hold), ("p", f"Benchmark F1, row-weighted task averages ({config.eval_limit or 'all'} "
                                         "items per benchmark):"), ("table", f1)]
        blocks += [("img", p.relative_to(run).as_posix()) for p in sorted((run / "eval").glob("compare_*.png"))]
        blocks += [("img", p.relative_to(run).as_posix()) for p in sorted((run / "eval").glob("*/f1_*.png"))]
        out.append(("Evaluation", blocks))
    mined = read_marker(layout.stage("mine"))
    if mined:
        out.append(("Hard-sample mining", [
            ("p", f"{mined.get('pairs', 0)} hard samples from {mined.get('items', '?')} items "
                  f"({mined.get('no-parse', 0)} items had no parsable sample, {mined.get('not-mixed', 0)} were "
                  "not mixed)."),
            ("table", [{"task": k, "pairs": v} for k, v in mined.get("by_task", {}).items()]),
            ("table", [{"weight": k, "pairs": v} for k, v in mined.get("weights", {}).items()])]))
    dpo = read_marker(layout.stage("hsdpo"))
    if dpo:
        blocks = [("p", dpo.get("skipped") and f"Skipped: {dpo['skipped']}." or
                   f"{dpo.get('pairs')} pairs; reward accuracy {_num(dpo.get('reward_accuracy_first'))} → "
                   f"{_num(dpo.get('reward_accuracy_last'))} (logged means over the run).")]
        if layout.curves("hsdpo").exists():
            blocks.append(("img", "hsdpo/curves.png"))
        out.append(("HS-DPO", blocks))
    ex = read_marker(layout.stage("export"))
    if ex:
        out.append(("Export", [("p", f"Merged model: `{ex['merged']}`."),
                               ("table", [{k: c[k] for k in ("kind", "size_mb", "seconds", "loads", "same_tokens",
                                                             "agreement", "max_logit_diff", "template_matches",
                                                             "tokenizer_matches")} for c in ex.get("checks", [])]),
                               ("p", "Ollama: `" + "` then `".join(ex["commands"].values()) + "`.")]))
    measured = []
    for stage in NAMES:
        m = read_marker(layout.stage(stage)).get("measured")
        if m:
            measured.append({"stage": stage, "minutes": round(m["seconds"] / 60, 1), "peak GB": m["peak_gb"],
                             "memory": m["memory"]})
    if measured:
        out.append(("Measured", [("p", "Wall time and peak memory of each stage's last run on this machine (a "
                                       "skipped stage keeps the figures of the run that made it)."),
                                 ("table", measured)]))
    redteam = report_blocks(run)  # chapter 08; [] when the run was not red-teamed
    if redteam:
        out.append(("Red-teaming (ReverseGen)", redteam))
    return out


def _num(x) -> str:
    return f"{x:.3f}" if isinstance(x, (int, float)) else str(x)


def _md_table(rows: list) -> str:
    if not rows:
        return "(none)"
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def _html_table(rows: list) -> str:
    if not rows:
        return "<p>(none)</p>"
    keys = list(rows[0])
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r.get(k, '')))}</td>" for k in keys) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(config: GRConfig) -> Path:
    """``report.md`` and ``report.html`` in the run folder; images are linked relative to it."""
    secs = sections(config)
    md = [f"# gr-colab run report: {config.preset}", ""]
    page = [f"<!doctype html><meta charset='utf-8'><title>gr-colab {html.escape(config.preset)}</title>",
            "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 8px}img{max-width:100%}</style>",
            f"<h1>gr-colab run report: {html.escape(config.preset)}</h1>"]
    for title, blocks in secs:
        md += [f"## {title}", ""]
        page.append(f"<h2>{html.escape(title)}</h2>")
        for kind, value in blocks:
            if kind == "p":
                md += [str(value), ""]
                page.append(f"<p>{html.escape(str(value))}</p>")
            elif kind == "table":
                md += [_md_table(value), ""]
                page.append(_html_table(value))
            elif kind == "img":
                md += [f"![{value}]({value})", ""]
                page.append(f"<img src='{html.escape(value)}' alt='{html.escape(value)}'>")
    layout = config.layout
    if is_main():  # under a launcher: one writer, the others wait until it is there
        atomic_write_text(layout.report("md"), "\n".join(md))
        atomic_write_text(layout.report("html"), "\n".join(page))
        print(f"report: {layout.report('md')} and {layout.report('html')}")
    wait_for_everyone()
    return layout.report("md")
