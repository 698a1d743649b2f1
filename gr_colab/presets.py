"""The presets: a working starting point per machine, as plain field values of :class:`gr_colab.config.GRConfig`.

One dict per preset; the chapters' values are kept in their own blocks below, so a chapter's counts per machine
read together. A preset is a starting point: a notebook's config cell or ``--set field=value`` changes any field.
"""
from __future__ import annotations

TWIN = "twin"  # model_name of the CPU twin: built locally by gr_colab.twin, never downloaded
GEMMA_270M = "gemma-3-270m-pypi"  # model_name of the real-model lane: built by gr_colab.real_lane from PyPI
AUTO = "auto"  # the notebooks' default preset: t4-270m on a GPU, cpu-tiny without one


def resolve_preset(name: str) -> str:
    """``auto`` → ``t4-270m`` when a CUDA GPU is visible (a Colab T4), else ``cpu-tiny``; any other name as is."""
    if name != AUTO:
        return name
    try:
        import torch

        gpu = torch.cuda.is_available()
    except ImportError:
        gpu = False
    return "t4-270m" if gpu else "cpu-tiny"


def _t4(**kw) -> dict:
    """What the free T4 wants: 4-bit, 8-bit Adam, gradient checkpointing, batch 2 x 4 (Unsloth's defaults); the float
    type from the GPU (:mod:`gr_colab.precision`: fp16 on a T4, float32 for Gemma 3 there, bf16 on Ampere+)."""
    base = dict(backend="auto", load_in_4bit=True, dtype="auto", max_seq_length=2048, optim="adamw_8bit",
                gradient_checkpointing=True, rsft_batch_size=2, rsft_grad_accum=4, rsft_learning_rate=2e-4,
                rsft_epochs=1.0, rsft_warmup_steps=10, max_new_tokens=1024, gen_batch_size=16, eval_limit=200,
                train_files=["hf://yueliu1999/GuardReasonerTrain"], train_limit=2000, save_steps=100,
                logging_steps=10, hsdpo_batch_size=1, hsdpo_grad_accum=8, mine_limit=1000)
    base.update(kw)
    return base


PRESETS: dict[str, dict] = {
    # The CPU twin: a tiny Llama built on the spot; the whole pipeline in minutes on 2 cores.
    "cpu-tiny": dict(preset="cpu-tiny", run_dir="runs/cpu-tiny", model_name=TWIN, backend="transformers",
                     dtype="float32", max_seq_length=1024, rsft_batch_size=8, rsft_grad_accum=1,
                     rsft_learning_rate=3e-3, rsft_max_steps=100, rsft_scheduler="constant", lora_r=16,
                     modules_to_save=["embed_tokens", "lm_head"],  # random embeddings must learn too
                     lora_alpha=32, save_steps=20, logging_steps=5, max_new_tokens=320, gen_batch_size=16,
                     eval_limit=8, mine_k=4, mine_limit=64, mine_temperature=1.0, hsdpo_learning_rate=1e-3,
                     hsdpo_epochs=3.0, hsdpo_batch_size=4, hsdpo_grad_accum=1, hsdpo_beta=0.1,
                     gguf_types=["f16", "q8_0", "q4_k_m"]),
    # The real-model lane: Gemma 3 270M (base) with its real tokenizer and Gemma 3 IT's chat template, on the CPU,
    # offline (gr_colab.real_lane). Slow (seconds a step): for the truth about templates, stop tokens and GGUF.
    "cpu-270m": dict(preset="cpu-270m", run_dir="runs/cpu-270m", model_name=GEMMA_270M, backend="transformers",
                     dtype="float32", max_seq_length=512, rsft_batch_size=2, rsft_grad_accum=1,
                     rsft_learning_rate=5e-4, rsft_max_steps=12, rsft_scheduler="constant", lora_r=16,
                     lora_alpha=32, save_steps=6, logging_steps=2, max_new_tokens=64, gen_batch_size=8,
                     trainable_tokens=["<end_of_turn>"],  # a base model: this row was never trained (a near-
                     # duplicate of <unusedNNN>), so it could not end its turn; <start_of_turn> was (issue 23)
                     eval_limit=4, mine_k=2, mine_limit=6, mine_temperature=1.0, hsdpo_learning_rate=5e-5,
                     hsdpo_epochs=1.0, hsdpo_batch_size=2, hsdpo_grad_accum=1, hsdpo_max_steps=2,
                     hsdpo_beta=0.1, gguf_types=["f16", "q8_0", "q4_k_m"]),
    # The workshop fast lane: minutes on a T4, a GGUF of about 250 MB. Small enough for 16-bit LoRA.
    "t4-270m": _t4(preset="t4-270m", run_dir="runs/t4-270m", model_name="unsloth/gemma-3-270m-it",
                   load_in_4bit=False, rsft_batch_size=2, rsft_grad_accum=8, train_limit=3000),  # batch 2: Gemma's
    # 262k-word vocabulary makes the logits the biggest tensor (batch 8 needs ~16 GB: `gr-colab plan`)
    "t4-1b": _t4(preset="t4-1b", run_dir="runs/t4-1b", model_name="unsloth/Llama-3.2-1B-Instruct",
                 gguf_types=["q8_0", "q4_k_m"]),  # what is kept on Drive (15 GB free); f16 is scratch
    "t4-3b": _t4(preset="t4-3b", run_dir="runs/t4-3b", model_name="unsloth/Llama-3.2-3B-Instruct",
                 rsft_batch_size=1, rsft_grad_accum=8, gen_batch_size=8, train_limit=1000, gguf_types=["q4_k_m"]),
    "a100-8b": _t4(preset="a100-8b", run_dir="runs/a100-8b", model_name="unsloth/Meta-Llama-3.1-8B-Instruct",
                   dtype="bfloat16", optim="adamw_torch", rsft_batch_size=8, rsft_grad_accum=4,
                   train_limit=None, eval_limit=None, max_new_tokens=2048, gen_batch_size=32,
                   hsdpo_batch_size=2, hsdpo_grad_accum=16),
}


# --- the paper's scale: a multi-GPU node, launched by accelerate (configs/accelerate/, docs/scale.md) ----------------
def _node(**kw) -> dict:
    """GuardReasoner's recipe on one node of 4 x A100 80 GB: all four GuardReasonerTrain splits (127K rows), 3 epochs
    of R-SFT at the paper's effective batch 384, HS-DPO at beta 0.01, lr 5e-6, SFT weight 2.0, 2 epochs, effective
    batch 256, mining k = 4 at T 0.7 / top_p 0.95, evaluation greedy up to 2,048 tokens, generation on vLLM. The
    effective batches are targets: the accumulation follows the number of processes of the launch."""
    base = dict(backend="transformers", load_in_4bit=False, dtype="bfloat16", max_seq_length=2048,
                optim="adamw_torch", gradient_checkpointing=True, train_files=["hf://yueliu1999/GuardReasonerTrain"],
                train_limit=None, holdout_fraction=0.01, eval_limit=None, rsft_epochs=3.0, rsft_batch_size=6,
                rsft_effective_batch=384, rsft_scheduler="cosine", rsft_warmup_steps=0, save_steps=200,
                logging_steps=10, max_new_tokens=2048, gen_batch_size=64, generation_backend="vllm",
                tensor_parallel_size=1, mine_k=4, mine_temperature=0.7, mine_top_p=0.95, mine_limit=None,
                hsdpo_beta=0.01, hsdpo_learning_rate=5e-6, hsdpo_sft_weight=2.0, hsdpo_epochs=2.0,
                hsdpo_batch_size=1, hsdpo_effective_batch=256, gguf_types=["q8_0", "q4_k_m"])
    base.update(kw)
    return base


PRESETS.update({
    # LoRA on Llama 3.1 8B under DDP (configs/accelerate/multi_gpu.yaml): every GPU holds the bf16 base (16 GB).
    "multi-gpu-8b": _node(preset="multi-gpu-8b", run_dir="runs/multi-gpu-8b",
                          model_name="unsloth/Meta-Llama-3.1-8B-Instruct", lora_r=64, lora_alpha=64,
                          rsft_learning_rate=2e-4),
    # The paper's own setting: a full fine-tune (no LoRA) under DeepSpeed ZeRO-3 (configs/accelerate/
    # deepspeed_zero3.yaml), lr 5e-5; weights, gradients and Adam states sharded over the GPUs.
    "full-8b-zero3": _node(preset="full-8b-zero3", run_dir="runs/full-8b-zero3",
                           model_name="unsloth/Meta-Llama-3.1-8B-Instruct", finetune="full",
                           rsft_learning_rate=5e-5),
})


# --- MODPO (chapter 09): each preset's values, kept in one block -----------------------------------------------------
# The CPU presets train on the bundled sample for a few steps each; the GPU presets on a slice of PKU-SafeRLHF-10K
# (one epoch over 2,000 rows: not measured on a T4 yet); the A100 on all of it, as the paper.
_MODPO_CPU = dict(modpo_data="sample_data/modpo/saferlhf_sample.jsonl", modpo_eval_prompts=6,
                  modpo_learning_rate=1e-3, modpo_max_steps=4, modpo_batch_size=4, modpo_grad_accum=1,
                  modpo_max_new_tokens=16)
_MODPO_PRESETS = {
    "cpu-tiny": _MODPO_CPU,
    "cpu-270m": {**_MODPO_CPU, "modpo_learning_rate": 5e-4, "modpo_max_steps": 4, "modpo_batch_size": 2,
                 "modpo_eval_prompts": 4, "modpo_max_new_tokens": 32},
    "t4-270m": dict(modpo_limit=2000, modpo_epochs=1.0, modpo_eval_prompts=100),
    "t4-1b": dict(modpo_limit=2000, modpo_epochs=1.0, modpo_eval_prompts=100),
    "t4-3b": dict(modpo_limit=1000, modpo_epochs=1.0, modpo_eval_prompts=100),
    "a100-8b": dict(modpo_batch_size=4, modpo_grad_accum=2),
}
for _name, _values in _MODPO_PRESETS.items():
    if _name in PRESETS:
        PRESETS[_name].update(_values)


# --- red-teaming (chapter 08): each preset's counts, kept in one block ----------------------------------------------
# The CPU presets run a couple of minutes (the twin) or tens of minutes (cpu-270m) per run; the GPU presets follow the
# paper's scale more closely (not measured on a T4 yet). The field defaults are the middle ground.
_REDTEAM_PRESETS = {
    "cpu-tiny": dict(redteam_prompts=4, redteam_samples=6, redteam_heldout_prompts=4, redteam_harden_max_steps=12),
    "cpu-270m": dict(redteam_prompts=3, redteam_samples=4, redteam_heldout_prompts=2, redteam_warmup_max_steps=8,
                     redteam_dpo_max_steps=2, redteam_harden_max_steps=2, redteam_max_new_tokens=32),
    "t4-270m": dict(redteam_iterations=3, redteam_prompts=64, redteam_heldout_prompts=32, redteam_warmup_items=2048),
    "t4-1b": dict(redteam_iterations=3, redteam_prompts=64, redteam_heldout_prompts=32, redteam_warmup_items=2048),
    "t4-3b": dict(redteam_iterations=3, redteam_prompts=32, redteam_heldout_prompts=16, redteam_warmup_items=1024),
    "a100-8b": dict(redteam_iterations=3, redteam_prompts=128, redteam_heldout_prompts=64, redteam_warmup_items=4096),
}
for _name, _values in _REDTEAM_PRESETS.items():
    if _name in PRESETS:
        PRESETS[_name].update(_values)
