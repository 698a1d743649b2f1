"""Every line of the kit that touches Unsloth, and nothing else.

Checked against unsloth 2026.10.9 / unsloth_zoo 2026.10.9 (file:line in each function). ``import unsloth`` patches
transformers and TRL for the whole process (on a machine without a GPU it loads its CPU backend,
``unsloth/__init__.py`` 1652-1663), so it happens only in :func:`gr_colab.models.import_unsloth`, on CUDA, and here
lazily. The tests run these calls on the real Unsloth's CPU backend in processes of their own
(tests/test_unsloth_real.py) and against a stand-in that mirrors the GPU path's checks
(tests/test_unsloth_contract.py). Unsloth's ``PatchDPOTrainer()`` is a no-op in this version
(``unsloth/models/dpo.py`` 28-29): ``import unsloth`` already replaced TRL's DPOTrainer, so the kit does not call it.
"""
from __future__ import annotations

from typing import Any


def load(config, model_path: str, dtype) -> tuple[Any, Any]:
    """The 4-bit (or 16-bit) base with LoRA adapters, the fast way. ``from_pretrained`` (unsloth/models/loader.py
    1241) hands Gemma 3 to ``FastModel`` (1859-1893), whose ``get_peft_model`` takes the same keywords
    (vision.py); ``get_peft_model`` as in llama.py 4569-4593."""
    if config.trainable_tokens:
        raise ValueError(trainable_tokens_refusal())
    from unsloth import FastLanguageModel

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=str(model_path),
        max_seq_length=config.max_seq_length,
        dtype=dtype,  # gr_colab.precision's choice; Unsloth loads Gemma 3 in bf16 storage with float32 compute on
        # a T4 whatever is passed (loader.py 2994-3008)
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


def trainable_tokens_refusal() -> str:
    """Why ``trainable_tokens`` is refused here. ``get_peft_model`` would take ``trainable_token_indices`` (its
    ``**kwargs`` reach PEFT's LoraConfig: llama.py 5046-5072, vision.py 5280-5288), but the merged save the export
    uses rebuilds the weights from the downloaded base plus LoRA factors and ``modules_to_save`` copies
    (unsloth_zoo/saving_utils.py ``create_lora_statistics`` 738-830): PEFT's trainable-token rows are not among them,
    so the GGUF would silently lose the rows that were trained."""
    return ("trainable_tokens: the Unsloth backend cannot carry trained token rows into the merged model the export "
            "converts (unsloth_zoo's merged save writes LoRA and modules_to_save only); use backend: transformers, "
            "or an instruction-tuned model (its turn tokens are trained) with trainable_tokens: []")


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
    """Unsloth's SFT trains on rendered text; this masks everything but the assistant turns (unsloth/chat_templates.py
    41-80 → unsloth_zoo/dataset_utils.py 763-773; it removes a doubled BOS itself) and returns the trainer."""
    from unsloth.chat_templates import train_on_responses_only as _mask

    return _mask(trainer, instruction_part=instruction_part, response_part=response_part)


def save_merged(model, tokenizer, out_dir: str) -> None:
    """16-bit merged weights plus the tokenizer (and its tokenizer.model) (unsloth/save.py 6765-6788, 790-836)."""
    model.save_pretrained_merged(str(out_dir), tokenizer, save_method="merged_16bit")
