"""The plan checked on a real GPU: the t4-270m preset through every stage at small counts, with the real Unsloth
(or ``--backend transformers``), printing per stage the measured time and peak GPU memory beside the plan's, and the
weighted F1 before (base) and after (R-SFT, HS-DPO).

    python benchmarks/gpu_smoke.py [--backend unsloth|transformers] [--run-dir runs/gpu-smoke]

Needs a CUDA GPU and the internet (the model from the Hub; the training rows are the bundled sample, so no dataset
download). Without CUDA it says so and exits 0: nobody on the kit's CPU machines can run it, and CI checks exactly
that. The plan is ``gr_colab.planner``'s for a T4 (for an A100 when the GPU is one); its GPU constants are
assumptions until this script has been run (``gr_colab.timing``).
"""
import argparse
import shutil
import sys
from pathlib import Path

# small counts: every stage runs in minutes on a T4
SMALL = dict(train_files=["sample_data/train/WildGuardTrainR.json", "sample_data/train/AegisTrainR.json",
                          "sample_data/train/BeaverTailsTrainR.json", "sample_data/train/ToxicChatTrainR.json"],
             train_limit=40, rsft_max_steps=20, eval_limit=16, holdout_check_limit=16, mine_limit=16,
             hsdpo_max_steps=8, gguf_types=["q8_0", "q4_k_m"], save_steps=10)


def cuda_device():
    """(name, capability) of the first CUDA device, or None (no torch, no CUDA)."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(0), tuple(torch.cuda.get_device_capability(0))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="unsloth", choices=("unsloth", "transformers"))
    parser.add_argument("--run-dir", default="runs/gpu-smoke")
    args = parser.parse_args(argv)
    device = cuda_device()
    if device is None:
        print("gpu_smoke: no CUDA GPU here, so nothing is measured (this script checks the T4 plan on a GPU: "
              "run it on Colab or any CUDA machine). Exiting 0.")
        return 0
    from gr_colab.config import GRConfig
    from gr_colab.evaluate import benchmark_sizes
    from gr_colab.pipeline import RUN_ORDER, run_stage
    from gr_colab.planner import plan_config, plan_export, plan_generation, plan_stages

    name, capability = device
    gpu = "A100" if capability[0] >= 8 else "T4"
    run_dir = Path(args.run_dir) / args.backend
    shutil.rmtree(run_dir, ignore_errors=True)
    config = GRConfig.load("t4-270m", run_dir=str(run_dir), backend=args.backend, **SMALL)
    sizes = benchmark_sizes(config.eval_benchmarks)
    print(f"gpu_smoke: {name} (compute capability {capability[0]}.{capability[1]}), backend {args.backend}, "
          f"planned as a {gpu}")
    peaks = {"rsft": plan_config(config, gpu, "rsft").peak_gb, "hsdpo": plan_config(config, gpu, "hsdpo").peak_gb,
             "eval": plan_generation(config, gpu=gpu, sizes=sizes).peak_gb,
             "mine": plan_generation(config, "mine", gpu).peak_gb, "export": plan_export(config, gpu).peak_gb}
    peaks["eval (hsdpo)"] = peaks["eval"]
    measured, planned, evals, variants = {}, {}, 0, {}
    for stage in RUN_ORDER:
        summary = run_stage(config, stage)
        key = stage
        if stage == "eval":
            evals += 1
            key = "eval" if evals == 1 else "eval (hsdpo)"
        measured[key] = summary["measured"]
        if stage == "eval":
            variants = summary.get("variants", {})
        if stage == "prepare":
            planned = plan_stages(config, gpu, sizes, mean_tokens=summary.get("mean_tokens"))
    print("| stage | planned min | measured min | measured / planned | planned peak GB | measured peak GB |")
    print("|---|---|---|---|---|---|")
    for key, m in measured.items():
        plan, real = planned.get(key), m["seconds"] / 60
        ratio = f"{real / plan:.2f}" if plan else "–"
        print(f"| {key} | {plan if plan is None else round(plan, 2)} | {real:.2f} | {ratio} | "
              f"{round(peaks[key], 1) if key in peaks else '–'} | {m.get('peak_gb')} ({m.get('memory')}) |")
    for variant in ("base", "rsft", "hsdpo"):
        if variant in variants:
            print(f"F1 (corrected, weighted) {variant}: {variants[variant]['averages']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
