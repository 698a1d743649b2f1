"""trainable_tokens: embedding rows trained beside LoRA (PEFT's trainable_token_indices), on the CPU twin. A base
model's chat turn tokens were never trained (Gemma 3 270M base: cpu-270m), so LoRA alone cannot make it end its turn;
these rows must train, be saved in the adapter and survive the merge the export converts to GGUF."""
from pathlib import Path

import pytest
import torch
from conftest import SAMPLE

from gr_colab.config import ConfigError, GRConfig
from gr_colab.data import load_train
from gr_colab.models import load_model
from gr_colab.stages import STAGES

TOKENS = ["<|start_header_id|>", "<|eot_id|>"]
ROWS = load_train(SAMPLE / "train" / "AegisTrainR.json").rows[:8]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two R-SFT steps of the twin with LoRA and its turn tokens' rows (no modules_to_save: the rows alone)."""
    from gr_colab.rsft import train_rsft

    run = tmp_path_factory.mktemp("tokens")
    cfg = GRConfig.load("cpu-tiny", run_dir=str(run), modules_to_save=[], trainable_tokens=TOKENS, rsft_max_steps=2,
                        rsft_batch_size=2, rsft_learning_rate=5e-2, logging_steps=1, save_steps=50,
                        max_seq_length=512)
    result = train_rsft(cfg, rows=ROWS, out_dir=run / "rsft")
    return cfg, result.adapter_dir


def test_the_rows_train_are_saved_and_survive_the_merge(trained):
    from safetensors.torch import load_file

    cfg, adapter = trained
    base = load_model(cfg, trainable=False)
    ids = [base.tokenizer.convert_tokens_to_ids(t) for t in TOKENS]
    before = base.model.get_input_embeddings().weight.detach().clone()
    head_before = base.model.get_output_embeddings().weight.detach().clone()

    saved = load_file(str(Path(adapter) / "adapter_model.safetensors"))
    rows_keys = [k for k in saved if "trainable_tokens_delta" in k]
    assert rows_keys, f"the adapter saves no token rows: {sorted(saved)[:5]}"
    rows = saved[rows_keys[0]]
    assert rows.shape == (len(ids), before.shape[1])
    assert not any("embed_tokens.weight" in k or "lm_head.weight" in k for k in saved)  # the rows, not the matrix
    for i, token_id in enumerate(sorted(ids)):
        assert not torch.allclose(rows[i], before[token_id]), f"row {token_id} did not train"

    merged = load_model(cfg, adapter=adapter, trainable=False).model.merge_and_unload()
    after = merged.get_input_embeddings().weight.detach()
    assert torch.equal(after[sorted(ids)], rows.to(after.dtype))  # the merged model carries the trained rows
    others = torch.ones(after.shape[0], dtype=torch.bool)
    others[ids] = False
    assert torch.equal(after[others], before[others])  # and no other row moved
    assert torch.equal(merged.get_output_embeddings().weight.detach(), head_before)  # the twin's head is untied


def test_an_unknown_token_is_refused_naming_the_field(twin):
    from gr_colab.training import lora_config

    cfg = GRConfig.load("cpu-tiny", modules_to_save=[], trainable_tokens=["<end_of_turn>"])
    with pytest.raises(ConfigError, match=r"trainable_tokens: \['<end_of_turn>'\] not a token"):
        lora_config(cfg, twin.tokenizer)
    with pytest.raises(ConfigError, match="finetune: full"):
        lora_config(cfg.replace(finetune="full", trainable_tokens=["<|eot_id|>"]), twin.tokenizer)


def test_presets_train_the_turn_tokens_of_the_base_model_only():
    assert GRConfig.load("cpu-270m").trainable_tokens == ["<end_of_turn>"]  # = the real lane's measurement
    assert GRConfig.load("t4-270m").trainable_tokens == []  # an -it model: its turn tokens are trained
    assert "trainable_tokens" in next(s for s in STAGES if s.name == "rsft").fields


def test_an_untrained_turn_token_is_warned_about(twin_config, capsys):
    """The base-model check: the turn-closing token's row with many near-duplicates (as Gemma 3 270M base's
    <end_of_turn>: 4,666) gets a printed warning; the twin's own rows (random, distinct) do not."""
    from gr_colab.models import untrained_template_tokens, warn_untrained_turn_token

    loaded = load_model(twin_config, trainable=False)
    cfg = twin_config.replace(modules_to_save=[])
    assert warn_untrained_turn_token(cfg, loaded.model, loaded.tokenizer) is None
    eot = loaded.tokenizer.convert_tokens_to_ids("<|eot_id|>")
    with torch.no_grad():
        weight = loaded.model.get_input_embeddings().weight
        weight[1000:1200] = weight[eot] * 1.01  # an untrained row: the shared initialisation of many
    message = warn_untrained_turn_token(cfg, loaded.model, loaded.tokenizer)
    assert message and "trainable_tokens: ['<|eot_id|>']" in capsys.readouterr().out  # the one row that needs it
    assert untrained_template_tokens(loaded.model, loaded.tokenizer) == ["<|eot_id|>"]
    assert warn_untrained_turn_token(cfg.replace(trainable_tokens=["<|eot_id|>"]), loaded.model,
                                     loaded.tokenizer) is None


def test_tied_embeddings_train_through_the_wrapped_head(tmp_path):
    """Tied embeddings (Gemma 3 270M): PEFT wraps the output head too, sharing the rows; TRL's default chunked loss
    would read lm_head.weight past the wrapper (an AttributeError on its bias), so R-SFT uses the plain loss; the
    merge writes the rows into the one shared matrix."""
    from peft import get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    from gr_colab.rsft import head_is_wrapped, trainer_args
    from gr_colab.training import lora_config

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=True))
    before = model.get_input_embeddings().weight.detach().clone()
    tok = type("Tok", (), {"get_vocab": lambda self: {"<a>": 3, "<b>": 5}})()
    cfg = GRConfig.load("cpu-tiny", modules_to_save=[], trainable_tokens=["<b>", "<a>"])
    peft_model = get_peft_model(model, lora_config(cfg, tok))
    assert head_is_wrapped(peft_model) and not head_is_wrapped(model.__class__(model.config))
    assert trainer_args(cfg, tmp_path, "cpu", plain_loss=True).loss_type == "nll"
    delta = peft_model.get_input_embeddings().token_adapter.trainable_tokens_delta["default"]
    with torch.no_grad():
        delta.add_(1.0)  # as training would move them
    ids = torch.tensor([[1, 3, 5, 7]])
    out = peft_model(input_ids=ids, labels=ids)
    out.loss.backward()
    assert delta.grad is not None and delta.grad.abs().sum() > 0
    merged = peft_model.merge_and_unload()
    weight = merged.get_input_embeddings().weight
    assert merged.get_output_embeddings().weight is weight  # still tied
    assert torch.equal(weight[[3, 5]], before[[3, 5]] + 1.0) and torch.equal(weight[:3], before[:3])
