"""Every line of the kit that touches Unsloth, and nothing else.

Written against Unsloth's documented API (FastLanguageModel.from_pretrained / get_peft_model / for_inference,
unsloth.chat_templates.train_on_responses_only, PatchDPOTrainer, save_pretrained_merged). ``import unsloth`` fails on
a machine without a GPU, so it is imported lazily, inside each function; the tests check these calls against a
stand-in module with the same signatures (tests/test_unsloth_contract.py).
"""
from __future__ import annotations

from typing import Any


def load(config, dtype) -> tuple[Any, Any]:
    """The 4-bit (or 16-bit) base with LoRA adapters, the fast way. Unsloth must be imported before transformers
    patches are applied, which importing it here (first) does."""
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=config.model_name,
        max_seq_length=config.max_seq_length,
        dtype=dtype,  # None lets Unsloth pick: float16 on a T4, bfloat16 on Ampere and newer
        load_in_4bit=config.load_in_4bit,
    )
    model = FastLanguageModel.get_peft_model(
        model,
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        bias="none",
        use_gradient_checkpointing="unsloth" if config.gradient_checkpointing else False,
        random_state=config.seed,
    )
    return model, tokenizer


def load_adapter(adapter_dir: str, config, dtype) -> tuple[Any, Any]:
    """A saved LoRA adapter folder loads like a model name: Unsloth reads its adapter_config's base model."""
    from unsloth import FastLanguageModel

    return FastLanguageModel.from_pretrained(
        model_name=str(adapter_dir), max_seq_length=config.max_seq_length, dtype=dtype,
        load_in_4bit=config.load_in_4bit,
    )


def for_inference(model) -> None:
    from unsloth import FastLanguageModel

    FastLanguageModel.for_inference(model)  # Unsloth's 2x faster generation path


def train_on_responses_only(trainer, instruction_part: str, response_part: str):
    """Unsloth does not take TRL's prompt/completion rows; it masks the prompt of rendered text instead."""
    from unsloth.chat_templates import train_on_responses_only as _mask

    return _mask(trainer, instruction_part=instruction_part, response_part=response_part)


def patch_dpo() -> None:
    from unsloth import PatchDPOTrainer

    PatchDPOTrainer()


def save_merged(model, tokenizer, out_dir: str) -> None:
    model.save_pretrained_merged(str(out_dir), tokenizer, save_method="merged_16bit")
