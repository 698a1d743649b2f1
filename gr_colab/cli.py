"""The command line: ``gr-colab`` (or ``python -m gr_colab``), a subcommand per stage, ``run`` for them all.

Face: parses arguments, calls the stages, turns a user's mistake into one clear line and a non-zero exit.
"""
from __future__ import annotations

import argparse
import errno
import json
import sys
from typing import Optional

import yaml

from .stages import STAGES

EXIT_USER_ERROR = 2


def _config(args):
    from .config import GRConfig

    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects field=value, got {item!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    if args.run_dir:
        overrides["run_dir"] = args.run_dir
    if getattr(args, "push", False):  # --push is hub_push=true, the one switch the export and notebook 07 read
        overrides["hub_push"] = True
    source = args.config or args.preset
    return GRConfig.load(source, **overrides)


def cmd_score(args) -> int:
    """Score prediction files (``{label, predict}`` JSONL) as the paper does."""
    from .evaluate import score_file
    from .guards import score_guard_file

    results = []
    for path in args.files:
        s = score_guard_file(path, args.guard, args.task, args.mode) if args.guard else score_file(path, args.task,
                                                                                                     args.mode)
        print(f"{path}: F1 {s.f1:.2f}  parse rate {s.parse_rate:.1%}  ({s.rows} rows, {s.parse_failures} parse "
              f"failures, {s.dropped} dropped)")
        results.append({"file": path, "f1": round(s.f1, 4), "parse_rate": round(s.parse_rate, 4), "rows": s.rows,
                        "parse_failures": s.parse_failures, "dropped": s.dropped})
    total = sum(r["rows"] for r in results)
    avg = sum(r["f1"] * r["rows"] for r in results) / total if total else 0.0
    print(json.dumps({"task": args.task, "mode": args.mode, "files": results, "weighted_f1": round(avg, 4)}))
    return 0


def cmd_stage(args) -> int:
    """One stage (what it needs and lacks runs first); ``export`` goes on to the Hub step, a dry run unless
    hub_push."""
    from .pipeline import run_stage

    config = _config(args)
    run_stage(config, args.command, force=args.force)
    if args.command == "export":
        run_stage(config, "push")
    return 0


def _guarded_config(args, config_field: str):
    """The config of a chapter that needs a trained guard: without ``config_field`` and without a guard in the run,
    the guard is trained first (R-SFT, and what it needs; complete stages are skipped)."""
    from .pipeline import run_stage
    from .stages import GUARD_STAGES

    config = _config(args)
    _check_device(config)
    if not getattr(config, config_field) and not any(config.layout.has_adapter(s) for s in GUARD_STAGES):
        run_stage(config, "rsft")
    return config


def cmd_modpo(args) -> int:
    """Chapter 09: MODPO's helpful/safe front, cost judged by the run's guard; the last line is the front as JSON."""
    from .modpo import public_json, run_modpo

    config = _guarded_config(args, config_field="modpo_guard_adapter")
    summary = run_modpo(config, force=args.force)
    print(json.dumps(public_json(summary)))
    return 0


def cmd_run(args) -> int:
    from .pipeline import run_all

    config = _config(args)
    _check_device(config)
    report = run_all(config)
    print(f"done: {report}")
    return 0


def cmd_report(args) -> int:
    from .report import write_report

    write_report(_config(args))
    return 0


def cmd_serve(args) -> int:
    """The exported guard behind llama.cpp: /v1/moderate, and /v1/chat/completions in front of --upstream."""
    from .runtime import secret
    from .service.access import API_KEY_ENV
    from .service.server import serve

    if bool(args.gguf) == bool(args.guard_url):
        raise ValueError("serve: give --gguf (the guard in llama.cpp, in this process) or --guard-url (a guard on an "
                         "OpenAI-compatible server, e.g. vllm serve), not both")
    serve(args.gguf, host=args.host, port=args.port, upstream=args.upstream, n_ctx=args.n_ctx,
          max_tokens=args.max_tokens, max_queue=args.max_queue, block_unparsed=args.block_unparsed,
          n_threads=args.threads, api_key=args.api_key or secret(API_KEY_ENV), guard_url=args.guard_url,
          guard_model=args.guard_model)
    return 0


def cmd_demo(args) -> int:
    """The playground: a Gradio page over the exported guard (--gguf, else the run's GGUF, else its adapter)."""
    from .playground import build_app, launch, load_guard

    config = None if args.gguf else _config(args)  # a GGUF needs no run
    guard = load_guard(config, args.gguf, n_ctx=args.n_ctx, max_tokens=args.max_tokens, n_threads=args.threads)
    print(f"gr-colab demo: {guard.source}", flush=True)
    try:
        launch(build_app(guard.moderate, guard.source), host=args.host, port=args.port,
               share=True if args.share else None, block=True)
    finally:
        if getattr(guard, "llm", None) is not None:
            guard.llm.close()  # freed here, not by llama-cpp-python's __del__ at interpreter exit
    return 0


def cmd_leaderboard(args) -> int:
    """The class leaderboard from model cards (folders, files, Hub ids or owners); prints it and saves it."""
    from .leaderboard import build, write
    from .runtime import hub_token

    board = build(args.sources, mode=args.mode, token=hub_token() if not args.offline else None,
                  with_published=not args.no_published)
    for source, why in board.skipped:
        print(f"skipped {source}: {why}", file=sys.stderr)
    if not any(r["kind"] == "student" for r in board.rows):
        raise ValueError("no model card with F1 scores was found in " + ", ".join(args.sources))
    files = write(board, args.out, title=args.title)
    print(board.markdown())
    print(f"saved {files['csv']}, {files['md']} and {files['png']}")
    return 0


def cmd_redteam(args) -> int:
    """Red-team the run's guard (ReverseGen), harden it; the last line printed is the figures as one JSON object."""
    from .redteam import run_redteam, summary_json
    from .report import write_report

    config = _guarded_config(args, config_field="redteam_guard_adapter")
    summary = run_redteam(config, force=args.force)
    write_report(config)
    print(json.dumps(summary_json(summary)))
    return 0


def cmd_fields(args) -> int:
    from .config import field_help

    print(field_help(args.name))
    return 0


def cmd_plan(args) -> int:
    from .evaluate import benchmark_sizes
    from .planner import plan_config, plan_export, plan_generation, plan_session

    config = _config(args)
    sizes = benchmark_sizes(config.eval_benchmarks)
    gpus = ("CPU",) if config.preset.startswith("cpu-") else ("T4", "A100")  # a CPU lane's plan is for a CPU
    if config.dtype == "bfloat16" and gpus != ("CPU",):  # bf16 presets (a100-8b, the node presets): no T4 plan
        gpus = ("A100",)
    for gpu in gpus:
        for stage in ("rsft", "hsdpo"):
            print(plan_config(config, gpu=gpu, stage=stage, samples=args.samples).summary())
    print(plan_generation(config, "eval", gpus[0], sizes=sizes).summary())
    print(plan_generation(config, "mine", gpus[0]).summary())
    print(plan_export(config, gpus[0]).summary())
    print(f"per notebook on a {gpus[0]}:")
    print("\n".join(plan_session(config, gpus[0], sizes=sizes)))
    if args.gpus:  # a multi-GPU node (docs/scale.md)
        from .node_plan import plan_node

        for stage in ("rsft", "hsdpo"):
            print(plan_node(config, gpus=args.gpus, stage=stage, samples=args.samples).summary())
    return 0


def _check_device(config) -> None:
    """A GPU preset on a machine without a GPU: say so before any stage runs (the same rule load_model applies)."""
    from .models import choose_backend

    choose_backend(config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gr-colab", description="Build a GuardReasoner-style guard, stage by stage.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--preset", default="cpu-tiny", help="cpu-tiny, t4-270m, t4-1b, t4-3b or a100-8b")
        p.add_argument("--config", help="a YAML config (overrides --preset)")
        p.add_argument("--run-dir", help="where the run's files go (default: the config's run_dir)")
        p.add_argument("--set", action="append", metavar="FIELD=VALUE", help="override one config field")

    p = sub.add_parser("run", help="every stage in order, skipping complete ones, then the report")
    common(p)
    p.add_argument("--push", action="store_true", help="the same as --set hub_push=true: push to the Hub "
                   "(hub_repo) instead of a dry run")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("modpo", help="chapter 09: MODPO sweep, helpful vs safe judged by your guard; last line: "
                       "the front as JSON")
    common(p)
    p.add_argument("--force", action="store_true", help="rebuild the front even if complete (trained adapters and "
                   "answers are reused: delete the run's modpo folder to start over)")
    p.set_defaults(func=cmd_modpo)
    for stage in STAGES:  # one subcommand per stage of the registry
        p = sub.add_parser(stage.name, help=stage.help + (" (then the Hub step)" if stage.name == "export" else ""))
        common(p)
        p.add_argument("--force", action="store_true", help="run even if the stage is complete and up to date, "
                       "clearing what it would resume from")
        if stage.name in ("export", "push"):
            p.add_argument("--push", action="store_true", help="the same as --set hub_push=true")
        p.set_defaults(func=cmd_stage)
    p = sub.add_parser("redteam", help="red-team the guard (ReverseGen), harden it; last line: the figures as JSON")
    common(p)
    p.add_argument("--force", action="store_true", help="rebuild the summary even if complete (finished iterations "
                   "are reused: delete the run's redteam folder to start over)")
    p.set_defaults(func=cmd_redteam)
    p = sub.add_parser("report", help="rebuild report.md / report.html from the run folder")
    common(p)
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("plan", help="estimate memory and time on a T4 and an A100")
    common(p)
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--gpus", type=int, default=None, help="also plan a node of this many A100 80 GB (per GPU, "
                   "LoRA under DDP or, with finetune: full, ZeRO-3)")
    p.set_defaults(func=cmd_plan)
    p = sub.add_parser("fields", help="the config's fields: default, what each is for, what it allows")
    p.add_argument("name", nargs="?", help="one field (default: all)")
    p.set_defaults(func=cmd_fields)
    p = sub.add_parser("score", help="score prediction files with the paper's metric")
    p.add_argument("files", nargs="+")
    p.add_argument("--task", required=True, choices=["prompt", "response", "refusal"])
    p.add_argument("--mode", default="official", choices=["official", "corrected"])
    p.add_argument("--guard", help="the files hold a ready guard's raw outputs (e.g. qwen3guard-gen-0.6b): read them "
                   "with its parser (gr_colab.guards.parsers)")
    p.set_defaults(func=cmd_score)
    p = sub.add_parser("serve", help="serve an exported GGUF guard over HTTP (llama.cpp)")
    p.add_argument("--gguf", help="the exported guard, e.g. runs/t4-270m/export/gguf/*-q4_k_m.gguf")
    p.add_argument("--guard-url", help="instead of --gguf: a guard on an OpenAI-compatible server (e.g. `vllm serve "
                   "runs/<preset>/export/merged`, continuous batching), its base URL http://host:port/v1; its key, "
                   "if any, from GR_COLAB_GUARD_API_KEY")
    p.add_argument("--guard-model", help="the model name the guard server knows the guard by (default: guard)")
    p.add_argument("--api-key", help="require Authorization: Bearer <key> on /v1 (default: the GR_COLAB_API_KEY "
                   "environment variable or Colab secret, which keeps the key out of the process list); needed to "
                   "listen beyond 127.0.0.1")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--upstream", help="an OpenAI-compatible chat endpoint to screen (e.g. http://127.0.0.1:11434/v1)")
    p.add_argument("--n-ctx", type=int, default=4096, help="llama.cpp context length (tokens)")
    p.add_argument("--max-tokens", type=int, default=1024, help="most tokens the guard may write per verdict")
    p.add_argument("--max-queue", type=int, default=64, help="requests allowed to wait before a 503")
    p.add_argument("--block-unparsed", action="store_true", help="refuse when the guard's verdict does not parse")
    p.add_argument("--threads", type=int, help="llama.cpp threads (default: every core)")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("demo", help="a playground page (Gradio) over the exported guard; share=True on Colab")
    common(p)
    p.add_argument("--gguf", help="the exported guard (default: the run's GGUF, else its adapter in transformers)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true", help="a public link (Gradio's tunnel; the default on Colab)")
    p.add_argument("--n-ctx", type=int, default=4096, help="llama.cpp context length (tokens)")
    p.add_argument("--max-tokens", type=int, default=1024, help="most tokens the guard may write per verdict")
    p.add_argument("--threads", type=int, help="llama.cpp threads (default: every core)")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("leaderboard", help="a class leaderboard from model cards' model-index: folders of cards, "
                       "card files, Hub model ids or Hub users/organisations")
    p.add_argument("sources", nargs="+", metavar="ORG_OR_REPO", help="a folder of cards, a card, owner/name, or owner")
    p.add_argument("--out", default="leaderboard", help="where leaderboard.csv, .md and .png go")
    p.add_argument("--mode", default="official", choices=["official", "corrected"],
                   help="which F1 of the cards (the published figures are the paper's official metric)")
    p.add_argument("--title", default="Class leaderboard")
    p.add_argument("--no-published", action="store_true", help="students only, without the published guards")
    p.add_argument("--offline", action="store_true", help="no Hub token (folders and files only)")
    p.set_defaults(func=cmd_leaderboard)
    return parser


def main(argv: Optional[list] = None) -> int:
    from .config import ConfigError
    from .data import DataError
    from .export import ExportError

    args = build_parser().parse_args(argv)

    try:
        return args.func(args)
    except (ConfigError, DataError, ExportError, FileNotFoundError, ValueError, PermissionError) as exc:
        print(f"gr-colab: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            print(f"gr-colab: error: the disk is full ({exc.filename or ''}); free space and run again: complete "
                  "stages are kept", file=sys.stderr)
            return EXIT_USER_ERROR
        raise
    except KeyboardInterrupt:
        print("gr-colab: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
