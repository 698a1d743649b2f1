"""Items per second of the kit's batched generation against a per-item ``model.generate`` loop (the Colab guide's
way), on the CPU twin after R-SFT, greedy, with identical outputs required. Measured side by side in one run.

    python benchmarks/generation.py [--items 48] [--batch-size 16] [--max-new-tokens 320] [--run-dir runs/bench-gen]
"""
import argparse
import time

import torch

from gr_colab.config import GRConfig
from gr_colab.evaluate import benchmark_items, find_benchmarks
from gr_colab.generate import GenerationSettings, _until_stop, encode_text, generate, guard_text
from gr_colab.models import load_model, stop_token_ids
from gr_colab.pipeline import run_stage


def per_item_loop(loaded, texts, max_new_tokens):
    """The baseline: one prompt at a time, no padding, no sorting."""
    tok, model = loaded.tokenizer, loaded.model
    stops = stop_token_ids(tok, model)
    outs = []
    for text in texts:
        ids = torch.tensor([encode_text(tok, text)])
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                 do_sample=False, temperature=None, top_p=None, top_k=None, eos_token_id=stops,
                                 pad_token_id=tok.pad_token_id)
        outs.append([tok.decode(_until_stop(out[0, ids.shape[1]:].tolist(), stops, tok.pad_token_id),
                                skip_special_tokens=True)])
    return outs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=320)
    parser.add_argument("--run-dir", default="runs/bench-gen")
    args = parser.parse_args()
    config = GRConfig.load("cpu-tiny", run_dir=args.run_dir)
    for stage in ("prepare", "rsft"):
        run_stage(config, stage)
    loaded = load_model(config, adapter=config.layout.adapter("rsft"), trainable=False)
    items = []
    for b in find_benchmarks(config.eval_benchmarks):
        items += benchmark_items(b, limit=max(1, args.items // len(config.eval_benchmarks)))
    texts = [guard_text(loaded.tokenizer, it["input"]) for it in items[:args.items]]
    start = time.perf_counter()
    base = per_item_loop(loaded, texts, args.max_new_tokens)
    base_s = time.perf_counter() - start
    start = time.perf_counter()
    batched = generate(loaded, texts, GenerationSettings(max_new_tokens=args.max_new_tokens,
                                                         batch_size=args.batch_size), progress=False)
    kit_s = time.perf_counter() - start
    same = sum(a == b for a, b in zip(base, batched))
    print(f"{len(texts)} items, greedy, max {args.max_new_tokens} new tokens, torch threads {torch.get_num_threads()}")
    print(f"per-item model.generate loop : {len(texts) / base_s:6.2f} items/s ({base_s:.1f} s)")
    print(f"kit batched (batch {args.batch_size:>3})      : {len(texts) / kit_s:6.2f} items/s ({kit_s:.1f} s)")
    print(f"ratio                         : {base_s / kit_s:.2f}x; identical outputs: {same}/{len(texts)}")
    if same != len(texts):
        raise SystemExit("batched outputs differ from the per-item loop")


if __name__ == "__main__":
    main()
