"""HS-DPO's weighted DPO on stock TRL: the loss by hand, equality with TRL's own loss when nothing is weighted,
weights move loss and gradients by exactly one pair's share, and a short PEFT run where the weights reach the loss.

Everything runs on a tiny Llama (2 layers, width 64) and a character-level tokenizer built here, in seconds. These
tests also run on trl 1.15.0 (tests/test_trl115.py); there TRL's own DPO loss needs a GPU (its fused LM head's
kernel is Triton), so the comparisons with it are skipped on a CPU and the kit's loss is checked by hand instead."""
import dataclasses
import inspect
import math
import string
from collections import Counter
from types import SimpleNamespace

import pytest
import torch
import trl
from packaging.version import Version

from gr_colab import hsdpo
from gr_colab.config import GRConfig
from gr_colab.hsdpo import WeightedDPOTrainer, dpo_config, train_hsdpo, weighted_dpo_loss
from gr_colab.training import preference_rows

CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# trl >= 1.15 computes its own DPO loss through a fused LM head whose kernel is Triton, GPU only
# (trl/trainer/utils.py ~504-509 and ~1638 of 1.15.0); on a CPU TRL's loss cannot run, the kit's still does.
TRL_FUSED_HEAD = Version(trl.__version__) >= Version("1.15")
needs_trls_own_loss = pytest.mark.skipif(TRL_FUSED_HEAD and not torch.cuda.is_available(),
                                         reason=f"trl {trl.__version__}'s own DPO loss needs its GPU kernel "
                                                "(fused LM head, Triton); the kit's loss is checked by hand here")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Matrices this small gain nothing from threads, and two threads on two busy cores spin for milliseconds per
    matmul (a step went from 0.1 s to 3 s): one thread for these tests, restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- tiny model and tokenizer ------------------------------------------------------------------------------------
def _tokenizer():
    """One token per character (a BPE without merges) plus <pad>, <s>, </s>, <unk>, and a minimal chat template."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    chars = sorted(set(string.printable) - set("\x0b\x0c\r"))
    vocab = {t: i for i, t in enumerate(["<pad>", "<s>", "</s>", "<unk>"] + chars)}
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>")),
                                  pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    tok.chat_template = CHAT_TEMPLATE
    return tok


def _peft_model(seed: int = 0):
    """A PEFT model with a non-zero adapter, as after R-SFT: TRL copies it into a frozen "ref" adapter."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, task_type="CAUSAL_LM", init_lora_weights=False)
    return get_peft_model(LlamaForCausalLM(cfg), lora)


def _move_policy(model, seed: int = 1, scale: float = 0.3):
    """Nudge the trained ("default") adapter away from TRL's "ref" copy, so the log-ratios are not all zero."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".default." in name and "lora_B" in name:
                p.add_(scale * torch.randn(p.shape, generator=gen))


PROMPTS = ["is this safe: hello", "rate: how do I bake bread", "classify: kick the ball", "harm? a loud noise"]
CHOSEN = ["Answers: unharmful", "No.", "Request: unharmful; Response: none"]
REJECTED = ["Answers: harmful, please", "Yes, it is harmful", "harmful"]


def _rows(weights, chat=True):
    rows = []
    for i, w in enumerate(weights):
        p, c, r = PROMPTS[i % len(PROMPTS)], CHOSEN[i % len(CHOSEN)], REJECTED[i % len(REJECTED)]
        row = {"prompt": [{"role": "user", "content": p}], "chosen": [{"role": "assistant", "content": c}],
               "rejected": [{"role": "assistant", "content": r}]} if chat else {"prompt": p, "chosen": c,
                                                                                "rejected": r}
        if w is not None:
            row["sample_weight"] = w
        rows.append(row)
    return rows


def _args(tmp_path, **kw):
    from trl import DPOConfig

    base = dict(output_dir=str(tmp_path / "out"), use_cpu=True, bf16=False, fp16=False, report_to="none",
                beta=0.1, per_device_train_batch_size=3, save_strategy="no", max_length=128)
    return DPOConfig(**{**base, **kw})


def _trainer(cls, tmp_path, weights, **kw):
    from datasets import Dataset

    model = _peft_model()
    trainer = cls(model=model, ref_model=None, args=_args(tmp_path, **kw),
                  train_dataset=Dataset.from_list(_rows(weights)), processing_class=_tokenizer())
    _move_policy(trainer.model)
    trainer.model.train()
    return trainer


def _batch(trainer, idx=None, weights=None):
    """The trainer's own collator on the tokenized rows (what the dataloader hands to compute_loss)."""
    keep = ("prompt_ids", "chosen_ids", "rejected_ids", "sample_weight")
    ds = trainer.train_dataset
    idx = range(len(ds)) if idx is None else idx
    examples = [{k: ds[i][k] for k in keep if k in ds.column_names} for i in idx]
    if weights is not None:
        for ex, w in zip(examples, weights):
            ex["sample_weight"] = w
    return trainer.data_collator(examples)


def _loss_and_grads(trainer, batch):
    trainer.model.zero_grad(set_to_none=True)
    loss = trainer.compute_loss(trainer.model, dict(batch))
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in trainer.model.named_parameters() if p.grad is not None}
    return loss.item(), grads


def _token_logps_by_hand(model, batch, adapter):
    """Completion tokens' log-probs by hand, in float64: log_softmax, gather the next token, keep completion
    positions (independent of TRL's helpers and of the kit's); [2B, L-1], chosen rows first."""
    from trl.trainer.utils import use_adapter

    with torch.no_grad(), use_adapter(model, adapter):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logp = torch.log_softmax(logits[:, :-1].double(), -1).gather(-1, batch["input_ids"][:, 1:, None])[..., 0]
    return logp * batch["completion_mask"][:, 1:]


def _summed_logps(model, batch, adapter):
    """Summed completion log-probs by hand of the chosen and the rejected half."""
    return _token_logps_by_hand(model, batch, adapter).sum(1).chunk(2)


# --- (1) the pure loss by hand -------------------------------------------------------------------------------------
def test_weighted_dpo_loss_by_hand():
    chosen, rejected = torch.tensor([-10.0, -12.0, -8.0]), torch.tensor([-11.0, -10.0, -9.0])
    ref_chosen, ref_rejected = torch.tensor([-10.5, -11.0, -8.5]), torch.tensor([-10.5, -10.5, -8.0])
    weights, beta = [0.8, 1.0, 1.2], 0.1
    # log-ratio margins: (0.5 + 0.5), (-1 - 0.5), (0.5 + 1.0) = 1.0, -1.5, 1.5
    # -log sigmoid(0.1 * m) = log(1 + exp(-0.1 m)): 0.6443966600735709, 0.770957047789532, 0.6209570477895321
    dpo = [math.log1p(math.exp(-0.1 * m)) for m in (1.0, -1.5, 1.5)]
    assert dpo == pytest.approx([0.6443966600735709, 0.770957047789532, 0.6209570477895321])
    expected = (0.8 * dpo[0] + 1.0 * dpo[1] + 1.2 * dpo[2]) / 3  # 0.6772076110652758
    got = weighted_dpo_loss(chosen, rejected, ref_chosen, ref_rejected, weights, beta)
    assert got.item() == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(0.6772076110652758)

    # With the SFT term: both terms weighted per pair, w_i * (dpo_i + 2.0 * nll_i), mean over pairs.
    nll = torch.tensor([2.0, 1.5, 3.0])
    expected_sft = (0.8 * (dpo[0] + 4.0) + 1.0 * (dpo[1] + 3.0) + 1.2 * (dpo[2] + 6.0)) / 3  # 5.143874277731943
    got = weighted_dpo_loss(chosen, rejected, ref_chosen, ref_rejected, torch.tensor(weights), beta,
                            chosen_nll=nll, sft_weight=2.0)
    assert got.item() == pytest.approx(expected_sft, abs=1e-6)
    # No weights: the plain mean; sft_weight 0 ignores chosen_nll.
    plain = weighted_dpo_loss(chosen, rejected, ref_chosen, ref_rejected, None, beta, chosen_nll=nll)
    assert plain.item() == pytest.approx(sum(dpo) / 3, abs=1e-6)

    with pytest.raises(ValueError, match="chosen_nll"):
        weighted_dpo_loss(chosen, rejected, ref_chosen, ref_rejected, weights, beta, sft_weight=2.0)
    with pytest.raises(ValueError, match="one per pair"):
        weighted_dpo_loss(chosen, rejected, ref_chosen, ref_rejected, [1.0, 1.0], beta)


# --- (2) nothing weighted: TRL's own loss --------------------------------------------------------------------------
@needs_trls_own_loss
@pytest.mark.parametrize("weights", [[None] * 3, [1.0] * 3], ids=["no-column", "all-ones"])
def test_unweighted_equals_trl(tmp_path, weights):
    from trl import DPOTrainer

    ours = _trainer(WeightedDPOTrainer, tmp_path, weights)
    trl = _trainer(DPOTrainer, tmp_path, weights)
    assert ours.sft_weight == 0.0
    batch = _batch(ours)
    assert ("sample_weight" in batch) == (weights[0] is not None)
    loss_ours = ours.compute_loss(ours.model, dict(batch)).item()
    loss_trl = trl.compute_loss(trl.model, {k: v for k, v in batch.items() if k != "sample_weight"}).item()
    assert abs(loss_ours - math.log(2)) > 1e-3, "policy and reference must differ for this to test anything"
    assert loss_ours == pytest.approx(loss_trl, abs=1e-6)
    assert ours._metrics["train"]["rewards/accuracies"], "TRL's metrics are still logged"


@needs_trls_own_loss
def test_weighted_path_matches_trl_numbers(tmp_path):
    """The weighted code path (not the shortcut) reproduces TRL: uniform weight 2 doubles TRL's loss, and on one
    pair the per-pair SFT term equals TRL's own "sft" loss (token mean over the batch = that pair's mean)."""
    from trl import DPOTrainer

    ours = _trainer(WeightedDPOTrainer, tmp_path, [1.0, 1.0, 1.0])
    trl = _trainer(DPOTrainer, tmp_path, [1.0, 1.0, 1.0])
    batch = _batch(ours, weights=[2.0, 2.0, 2.0])
    no_w = {k: v for k, v in batch.items() if k != "sample_weight"}
    assert ours.compute_loss(ours.model, dict(batch)).item() == pytest.approx(
        2 * trl.compute_loss(trl.model, dict(no_w)).item(), abs=1e-6)

    kw = dict(loss_type=["sigmoid", "sft"], loss_weights=[1.0, 2.0], per_device_train_batch_size=1)
    ours = _trainer(WeightedDPOTrainer, tmp_path, [1.0, 1.0, 1.0], **kw)
    trl = _trainer(DPOTrainer, tmp_path, [1.0, 1.0, 1.0], **kw)
    assert ours.sft_weight == 2.0
    for i in range(3):
        one = _batch(ours, [i])
        got = ours.compute_loss(ours.model, dict(one)).item()
        want = trl.compute_loss(trl.model, {k: v for k, v in one.items() if k != "sample_weight"}).item()
        assert got == pytest.approx(want, abs=1e-5)


def test_trainer_loss_is_weighted_dpo_of_the_log_probs(tmp_path):
    """The kit's loss against log-probs computed by hand (policy: the trained adapter; reference: TRL's frozen "ref"
    copy), with weights and the SFT term, and TRL's reward metrics logged from them. Runs on every TRL version."""
    w = [0.8, 1.0, 1.2]
    trainer = _trainer(WeightedDPOTrainer, tmp_path, w, loss_type=["sigmoid", "sft"], loss_weights=[1.0, 2.0])
    batch = _batch(trainer, weights=w)
    loss = trainer.compute_loss(trainer.model, dict(batch)).item()
    tokens = _token_logps_by_hand(trainer.model, batch, "default")
    c, r = tokens.sum(1).chunk(2)
    rc, rr = _summed_logps(trainer.model, batch, "ref")
    assert not torch.allclose(c, rc)  # the policy moved: the log-ratios are not all zero
    nll = -tokens.chunk(2)[0].sum(1) / batch["completion_mask"][:, 1:].chunk(2)[0].sum(1)
    margin = 0.1 * ((c - rc) - (r - rr))
    by_hand = sum(wi * (math.log1p(math.exp(-m)) + 2.0 * n) for wi, m, n in zip(w, margin.tolist(), nll.tolist()))
    assert loss == pytest.approx(by_hand / 3, rel=1e-5)
    logged = trainer._metrics["train"]
    assert logged["rewards/accuracies"][-1] == pytest.approx((margin > 0).double().mean().item())
    assert logged["rewards/margins"][-1] == pytest.approx(margin.mean().item(), rel=1e-4)
    assert logged["logps/chosen"][-1] == pytest.approx(c.mean().item(), rel=1e-5)
    assert logged["nll/chosen"][-1] == pytest.approx(nll.mean().item(), rel=1e-5)
    assert logged["sample_weight"][-1] == pytest.approx(1.0)


def test_gradient_accumulation_divides_the_kit_loss(tmp_path):
    """The kit's loss is a batch mean: the Trainer must divide it by the accumulation steps. TRL 1.14 asks for that
    with `model_accepts_loss_kwargs = False`, 1.15 with `loss_is_scaled_for_ga = False`; both are set. With a token
    count passed in (as the Trainer does for batches with labels), only the first one makes transformers 5.17 divide."""
    trainer = _trainer(WeightedDPOTrainer, tmp_path, [0.8, 1.0, 1.2], gradient_accumulation_steps=2)
    assert trainer.model_accepts_loss_kwargs is False and type(trainer).loss_is_scaled_for_ga is False
    batch = _batch(trainer)
    full, grads = _loss_and_grads(trainer, batch)
    trainer.model.zero_grad(set_to_none=True)
    trainer.current_gradient_accumulation_steps = 2  # what the Trainer's loop sets for each accumulation window
    step = trainer.training_step(trainer.model, dict(batch), num_items_in_batch=torch.tensor(6)).item()
    assert step == pytest.approx(full / 2, rel=1e-6)
    stepped = {n: p.grad for n, p in trainer.model.named_parameters() if p.grad is not None}
    assert set(stepped) == set(grads)
    for name, g in grads.items():
        torch.testing.assert_close(stepped[name], g / 2, atol=1e-7, rtol=1e-5)


def test_the_trl_calls_the_kit_makes_have_these_signatures():
    """Every TRL name the kit's DPO trainers use, with the parameters used, on whichever TRL runs this test (1.14.2
    in .venv, 1.15.0 in tests/test_trl115.py)."""
    from trl import DPOConfig, DPOTrainer
    from trl.models.utils import disable_gradient_checkpointing
    from trl.trainer.dpo_trainer import DataCollatorForPreference
    from trl.trainer.utils import selective_log_softmax, use_adapter

    def params(f):
        return list(inspect.signature(f).parameters)

    assert params(DPOTrainer.compute_loss) == ["self", "model", "inputs", "return_outputs", "num_items_in_batch"]
    assert params(selective_log_softmax)[:2] == ["logits", "index"] and "row_mask" in params(selective_log_softmax)
    assert params(use_adapter) == ["model", "adapter_name"]
    assert params(disable_gradient_checkpointing) == ["model", "gradient_checkpointing_kwargs"]
    assert params(DPOTrainer._set_signature_columns_if_needed) == ["self"]
    assert params(DataCollatorForPreference.torch_call) == ["self", "examples"]
    assert "pad_token_id" in {f.name for f in dataclasses.fields(DataCollatorForPreference)}
    config_fields = {f.name for f in dataclasses.fields(DPOConfig)}
    assert {"beta", "loss_type", "loss_weights", "ld_alpha", "use_weighting", "use_liger_kernel", "f_divergence_type",
            "precompute_ref_log_probs", "max_length"} <= config_fields


@pytest.mark.skipif(not TRL_FUSED_HEAD or torch.cuda.is_available(),
                    reason="TRL's own DPO loss runs here (trl < 1.15 builds the logits; or a GPU runs the kernel)")
def test_trls_own_loss_cannot_run_on_a_cpu(tmp_path):
    """What fails on trl 1.15.0 without a GPU, exactly: the fused LM head's Triton kernel is not there
    (`_ChunkedLogProbFunction` is None when `trl.kernels` cannot import triton), so TRL's loss and its
    `compute_ref_log_probs` raise; DPOTrainer's constructor does not."""
    from trl import DPOTrainer
    from trl.trainer import utils as trl_utils

    ours = _trainer(DPOTrainer, tmp_path, [None] * 3)
    batch = _batch(ours)
    assert trl_utils._ChunkedLogProbFunction is None
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'apply'"):
        ours.compute_loss(ours.model, dict(batch))
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'apply'"):
        ours.compute_ref_log_probs(ours.model, dict(batch))


# --- (3) weights move loss and gradients by one pair's share -------------------------------------------------------
def test_weights_change_loss_and_gradients(tmp_path):
    trainer = _trainer(WeightedDPOTrainer, tmp_path, [0.8, 1.0, 1.2], loss_type=["sigmoid", "sft"],
                       loss_weights=[1.0, 2.0])
    w = [0.8, 1.0, 1.2]
    loss, grads = _loss_and_grads(trainer, _batch(trainer, weights=w))
    # Each pair alone, weight 1: its own loss dpo_k + 2 * nll_k and gradient.
    alone = [_loss_and_grads(trainer, _batch(trainer, [k], weights=[1.0])) for k in range(3)]
    assert loss == pytest.approx(sum(wk * lk for wk, (lk, _) in zip(w, alone)) / 3, abs=1e-5)

    k = 1  # double pair 1's weight: the loss and the gradient grow by w_k * (pair k's loss, gradient) / B
    w2 = list(w)
    w2[k] *= 2
    loss2, grads2 = _loss_and_grads(trainer, _batch(trainer, weights=w2))
    assert loss2 - loss == pytest.approx(w[k] * alone[k][0] / 3, abs=1e-5)
    assert loss2 - loss > 1e-3
    assert set(grads) == set(grads2) == set(alone[k][1]) and grads
    assert all(".ref." not in n for n in grads), "the reference adapter must not train"
    for name in grads:
        torch.testing.assert_close(grads2[name] - grads[name], w[k] * alone[k][1][name] / 3, atol=2e-5, rtol=1e-3)


# --- (4) a short PEFT run through the stage ------------------------------------------------------------------------
def test_train_hsdpo_short_run(tmp_path, monkeypatch):
    weights = [0.8, 0.85, 0.9, 0.95, 1.05, 1.1, 1.15, 1.2]
    pairs = [{"prompt": f"classify item {i}: a request", "chosen": "Request: unharmful",
              "rejected": "Request: harmful!!", "sample_weight": w} for i, w in enumerate(weights)]
    seen = []
    real = hsdpo.weighted_dpo_loss

    def spy(*args, **kwargs):
        seen.extend(round(float(x), 4) for x in args[4])
        return real(*args, **kwargs)

    monkeypatch.setattr(hsdpo, "weighted_dpo_loss", spy)
    config = GRConfig.load("cpu-tiny", run_dir=str(tmp_path), hsdpo_max_steps=8, hsdpo_batch_size=2,
                           hsdpo_grad_accum=1, hsdpo_learning_rate=1e-2, hsdpo_beta=0.1, hsdpo_sft_weight=1.0,
                           logging_steps=1, save_steps=100, max_seq_length=128)
    model = _peft_model()
    loaded = SimpleNamespace(model=model, tokenizer=_tokenizer(), backend="transformers", device="cpu")
    result = train_hsdpo(config, loaded, pairs, tmp_path / "hsdpo")

    assert result.global_step == 8
    # 8 steps of 2 pairs = two epochs over the 8 pairs: each dataset weight reached the loss exactly twice.
    assert Counter(seen) == Counter({round(w, 4): 2 for w in weights})
    acc, margins = result.reward_accuracies, result.reward_margins
    assert len(acc) == 8 and acc[0] == 0.0 and margins[0] == 0.0  # step 1: policy == its "ref" copy
    assert acc[-1] == 1.0 and margins[-1] > margins[0]

    adapter = result.adapter_dir
    assert (adapter / "adapter_model.safetensors").exists() and (adapter / "tokenizer.json").exists()
    assert not (adapter / "ref").exists() and "ref" not in model.peft_config
    from safetensors.torch import load_file

    assert not any(".ref." in k for k in load_file(str(adapter / "adapter_model.safetensors")))
    assert (tmp_path / "hsdpo" / "curves.csv").exists()
    assert "rewards/accuracies" in (tmp_path / "hsdpo" / "curves.csv").read_text().splitlines()[0]


# --- small contracts ----------------------------------------------------------------------------------------------
def test_dpo_config_cpu():
    config = GRConfig.load("cpu-tiny")
    args = dpo_config(config, "unused-out", "cpu")
    assert args.use_cpu and not args.bf16 and not args.fp16 and not args.gradient_checkpointing
    assert args.report_to in ("none", [], ["none"]) and args.beta == config.hsdpo_beta
    assert args.loss_type == ["sigmoid", "sft"] and args.loss_weights == [1.0, config.hsdpo_sft_weight]
    assert args.max_length == config.max_seq_length and args.max_steps == config.hsdpo_max_steps
    assert args.per_device_train_batch_size == config.hsdpo_batch_size and args.optim == "adamw_torch"
    assert dpo_config(config.replace(hsdpo_sft_weight=0.0), "unused-out", "cpu").loss_type == ["sigmoid"]


def test_unsupported_settings_refused(tmp_path):
    with pytest.raises(ValueError, match="loss_type"):
        _trainer(WeightedDPOTrainer, tmp_path, [1.0], loss_type=["hinge"])
    with pytest.raises(ValueError, match="ld_alpha"):
        _trainer(WeightedDPOTrainer, tmp_path, [1.0], ld_alpha=0.5)


def test_preference_rows_formats():
    pair = {"prompt": [{"role": "user", "content": "Q"}], "chosen": "good", "rejected": "bad", "sample_weight": 1.1}
    chat = preference_rows([pair], "chat")[0]
    assert chat["chosen"] == [{"role": "assistant", "content": "good"}] and chat["prompt"] == pair["prompt"]
    assert chat["sample_weight"] == 1.1
    raw = preference_rows([{"prompt": "Q\n", "chosen": "good", "rejected": "bad"}], "raw")[0]
    assert raw == {"prompt": "Q\n", "chosen": "good", "rejected": "bad", "sample_weight": 1.0}
    assert preference_rows([{"prompt": "Q", "chosen": "a", "rejected": "b"}], "chat")[0]["prompt"] == [
        {"role": "user", "content": "Q"}]
