"""Does the plan hold? Planned against measured minutes per stage on the CPU lanes (issue 22: goal ±30 %).

cpu-tiny runs end to end with its preset's counts; cpu-270m (the real Gemma 3 270M) runs every stage at small
counts. The plan is the one ``gr-colab plan`` makes (``gr_colab.planner.plan_stages`` on the "CPU" device), with the
mean row length the prepare stage measured. Each lane starts from an empty run folder.

    python benchmarks/plan_accuracy.py [--lanes cpu-tiny cpu-270m] [--run-root runs/bench-plan-accuracy]
    python benchmarks/plan_accuracy.py --calibrate   # the primitive costs the CPU constants come from
    python benchmarks/plan_accuracy.py --replan      # the table again from the saved measurements, today's plan

``--calibrate`` measures what ``gr_colab.timing.DEVICES["CPU"]`` rests on, apart from whole stages: the twin's
decode step (the per-step floor), the 270M's decode step at batch 1 and 8 (weight reads, per-row FLOPs) and LoRA
training steps of both at two lengths (FLOP rate, per-step overhead).

Time is CPU time on ONE thread (``torch.set_num_threads(1)``; the process's user + system time, and its
children's, e.g. llama.cpp's converter): on a shared machine wall time measures the other jobs, while one thread's
CPU time is what an idle core would take. Wall time is printed beside it. The "CPU" device of the planner is that
one core; torch's two threads on an idle 2-core machine make the FLOP-bound parts faster than planned.
"""
import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread, here and in subprocesses (see above)
import torch  # noqa: E402

torch.set_num_threads(1)

from gr_colab.config import GRConfig  # noqa: E402
from gr_colab.evaluate import benchmark_sizes  # noqa: E402
from gr_colab.pipeline import RUN_ORDER, run_stage  # noqa: E402
from gr_colab.planner import plan_stages  # noqa: E402


def cpu_seconds() -> float:
    """User + system time of this process (all its threads) and of its finished children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

# cpu-270m at small counts: every stage runs, in minutes rather than hours
SMALL_270M = dict(rsft_max_steps=4, eval_limit=2, eval_benchmarks=["SimpleSafetyTests", "XSTestResponseRefusal"],
                  holdout_check_limit=4, mine_limit=4, hsdpo_max_steps=2, max_new_tokens=48, gguf_types=["q8_0"])
LANES = {"cpu-tiny": {}, "cpu-270m": SMALL_270M}


def run_lane(preset: str, run_dir: Path) -> dict:
    """The measured minutes of each stage of one lane, run from scratch (saved in ``measured.json``)."""
    shutil.rmtree(run_dir, ignore_errors=True)
    config = GRConfig.load(preset, run_dir=str(run_dir), **LANES[preset])
    measured, wall, evals, mean_tokens = {}, {}, 0, None
    for stage in RUN_ORDER:
        start = cpu_seconds()
        summary = run_stage(config, stage)
        key = stage
        if stage == "eval":
            evals += 1
            key = "eval" if evals == 1 else "eval (hsdpo)"
        measured[key] = (cpu_seconds() - start) / 60
        wall[key] = summary["measured"]["seconds"] / 60
        if stage == "prepare":
            mean_tokens = summary.get("mean_tokens")
        if stage == "mine":
            measured["pairs mined"] = summary.get("pairs")
    saved = {"preset": preset, "overrides": LANES[preset], "mean_tokens": mean_tokens, "minutes": measured,
             "wall_minutes": wall, "threads": torch.get_num_threads(),
             "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_average": os.getloadavg()}
    (run_dir / "measured.json").write_text(json.dumps(saved, indent=2))
    return saved


def rows_of(saved: dict, run_dir: Path) -> list:
    """(stage, planned min, measured min): the plan ``gr-colab plan`` makes for the lane on the "CPU" device, with
    the mean row length the prepare stage measured."""
    config = GRConfig.load(saved["preset"], run_dir=str(run_dir), **saved["overrides"])
    planned = plan_stages(config, "CPU", benchmark_sizes(config.eval_benchmarks), mean_tokens=saved["mean_tokens"])
    return [(k, planned.get(k), v) for k, v in saved["minutes"].items() if k != "pairs mined"]


def table(preset: str, rows: list) -> str:
    lines = [f"## {preset}", "| stage | planned min | measured min (1 thread's CPU time) | measured / planned |",
             "|---|---|---|---|"]
    for stage, plan, real in rows:
        ratio = f"{real / plan:.2f}" if plan else "(not planned)"
        lines.append(f"| {stage} | {plan:.2f} | {real:.2f} | {ratio} |" if plan is not None
                     else f"| {stage} | – | {real:.2f} | {ratio} |")
    planned = sum(p for _, p, _ in rows if p)
    real = sum(r for s, p, r in rows if p)
    lines.append(f"| all planned stages | {planned:.2f} | {real:.2f} | {real / planned:.2f} |")
    return "\n".join(lines)


def _timed(fn, repeat: int = 2) -> float:
    """The least CPU time of ``repeat`` runs after a warm-up (one thread: an idle core's time)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def calibrate(run_root: Path) -> dict:
    """The primitive costs on this machine, and the CPU constants they imply (see gr_colab.timing)."""
    import torch

    from gr_colab.models import load_model
    from gr_colab.planner import arch_of

    torch.manual_seed(0)
    out = {}
    for preset in ("cpu-tiny", "cpu-270m"):
        config = GRConfig.load(preset, run_dir=str(run_root / f"calibrate-{preset}"))
        params = arch_of(config).params()["total"]
        loaded = load_model(config, trainable=False)
        model = loaded.model.eval()

        def decode(model, batch, new):
            ids = torch.randint(10, 1000, (batch, 32))
            with torch.inference_mode():
                model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new,
                               min_new_tokens=new, do_sample=False, temperature=None, top_p=None, top_k=None,
                               pad_token_id=0)

        for batch in (1, 8):
            step = (_timed(lambda: decode(model, batch, 33)) - _timed(lambda: decode(model, batch, 1))) / 32
            out[f"{preset} decode step b={batch} (ms)"] = round(step * 1e3, 2)
        loaded = model = None  # freed before the trainable copy loads
        train = load_model(config, trainable=True).model.train()

        def step(train, tokens):
            ids = torch.randint(10, 1000, (2, tokens))
            loss = train(input_ids=ids, labels=ids).loss
            loss.backward()
            train.zero_grad(set_to_none=True)

        short, long = _timed(lambda: step(train, 64)), _timed(lambda: step(train, 256))
        out[f"{preset} train step b=2 T=64 (s)"] = round(short, 3)
        out[f"{preset} train step b=2 T=256 (s)"] = round(long, 3)
        out[f"{preset} params"] = params
        train = None
    p = out["cpu-270m params"]
    rate = 4 * p * 2 * (256 - 64) / (out["cpu-270m train step b=2 T=256 (s)"] - out["cpu-270m train step b=2 T=64 (s)"])
    overhead = out["cpu-tiny train step b=2 T=64 (s)"] - 4 * out["cpu-tiny params"] * 2 * 64 / rate
    floor = out["cpu-tiny decode step b=1 (ms)"] / 1e3  # 2 layers, tiny weights: the per-step floor
    per_row = (out["cpu-270m decode step b=8 (ms)"] - out["cpu-270m decode step b=1 (ms)"]) / 7 / 1e3
    rest = out["cpu-270m decode step b=1 (ms)"] / 1e3 - floor - 2 * p / rate
    out["implied"] = {"tflops32 (train FLOP rate)": round(rate / 1e12, 4),
                      "train_step_s": round(max(overhead, 0.0), 3),
                      "decode floor s (step_ms + 2 x layer_ms)": round(floor, 4),
                      "decode FLOP rate from per-row cost (TFLOPS)": round(2 * p / per_row / 1e12, 4) if per_row > 0
                      else None,
                      "270M step beyond floor and FLOPs (s): weight reads + 16 more layers' overhead": round(rest, 4)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lanes", nargs="+", default=list(LANES), choices=list(LANES))
    parser.add_argument("--run-root", default="runs/bench-plan-accuracy")
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--replan", action="store_true", help="no runs: the saved measurements against the plan")
    args = parser.parse_args()
    root = Path(args.run_root)
    if args.calibrate:
        print(json.dumps(calibrate(root), indent=2))
        return 0
    report = []
    for preset in args.lanes:
        run_dir = root / preset
        saved = json.loads((run_dir / "measured.json").read_text()) if args.replan else run_lane(preset, run_dir)
        report.append(table(preset, rows_of(saved, run_dir)) + f"\n\nmeasured {saved['when']}, load average "
                      f"{', '.join(f'{x:.1f}' for x in saved['load_average'])} (2 cores, shared); wall minutes "
                      + ", ".join(f"{k} {v:.1f}" for k, v in saved["wall_minutes"].items())
                      + (f"; {saved['minutes'].get('pairs mined')} pairs mined" if 'pairs mined' in saved['minutes']
                         else ""))
        print(report[-1], flush=True)
    (root / "plan_accuracy.md").write_text("\n\n".join(report) + "\n")
    print(f"written: {root / 'plan_accuracy.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
