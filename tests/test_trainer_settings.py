"""Each chapter trains with its own settings object: MODPO's and the red-team proposer's DPO trainers get their own
beta and learning rate (read on the TRL config the trainer was built with), the red-team's SFT steps their own
epochs and steps, and the config's hsdpo_*/rsft_* fields stay as they were."""
from types import SimpleNamespace

import pytest
from test_hsdpo_loss import _one_thread, _peft_model, _tokenizer  # noqa: F401  (a fixture, and the tiny model)

from gr_colab import hsdpo, redteam
from gr_colab.config import GRConfig
from gr_colab.modpo import trainer as modpo
from gr_colab.modpo.trainer import MARGIN_CHOSEN, MARGIN_REJECTED

PAIRS = [{"prompt": f"classify item {i}: a request", "chosen": "Request: unharmful", "rejected": "Request: harmful!",
          MARGIN_CHOSEN: 0.1, MARGIN_REJECTED: -0.1} for i in range(2)]


class _Stop(Exception):
    """Raised by the patched ``train``: the trainer was built, its arguments are what the test reads."""


@pytest.fixture
def built(monkeypatch):
    """Every trainer built is recorded and stopped at ``train``; load_model gives the tiny PEFT model."""
    seen = []

    def train(self, *args, **kwargs):
        seen.append(self.args)
        raise _Stop

    monkeypatch.setattr(hsdpo.WeightedDPOTrainer, "train", train)
    monkeypatch.setattr(modpo.MODPOTrainer, "train", train)
    monkeypatch.setattr("gr_colab.models.load_model", lambda *a, **k: SimpleNamespace(
        model=_peft_model(), tokenizer=_tokenizer(), backend="transformers", device="cpu"))
    return seen


def _config(tmp_path, **extra):
    return GRConfig.load("cpu-tiny", run_dir=str(tmp_path), prompt_format="raw", hsdpo_beta=0.01,
                         hsdpo_learning_rate=5e-6, hsdpo_sft_weight=2.0, hsdpo_max_steps=-1, modpo_beta=0.3,
                         modpo_learning_rate=4e-4, modpo_max_steps=3, modpo_batch_size=2, modpo_grad_accum=1,
                         redteam_beta=0.2, redteam_dpo_learning_rate=7e-5, redteam_dpo_max_steps=5, **extra)


def test_modpo_steps_train_with_modpos_beta_and_lr_and_leave_hsdpo_alone(tmp_path, built):
    config = _config(tmp_path)
    before = config.to_dict()
    with pytest.raises(_Stop):
        modpo.train_reward(config, PAIRS, tmp_path / "reward")
    with pytest.raises(_Stop):
        modpo.train_modpo(config, PAIRS, 0.5, tmp_path / "modpo")
    for args in built:
        assert (args.beta, args.learning_rate, args.max_steps) == (0.3, 4e-4, 3)
        assert args.per_device_train_batch_size == 2 and args.gradient_accumulation_steps == 1
        assert args.loss_type == ["sigmoid"]  # no SFT term, whatever hsdpo_sft_weight says
    assert len(built) == 2 and config.to_dict() == before
    assert (config.hsdpo_beta, config.hsdpo_learning_rate, config.hsdpo_sft_weight) == (0.01, 5e-6, 2.0)


def test_the_red_team_proposer_trains_with_its_own_beta_and_lr(tmp_path, built):
    config = _config(tmp_path)
    before = config.to_dict()
    with pytest.raises(_Stop):
        redteam.train_proposer(config, tmp_path / "warm", PAIRS, tmp_path / "dpo")
    (args,) = built
    assert (args.beta, args.learning_rate, args.max_steps, args.loss_type) == (0.2, 7e-5, 5, ["sigmoid"])
    assert args.per_device_train_batch_size == config.hsdpo_batch_size  # the batch is HS-DPO's
    assert config.to_dict() == before and config.hsdpo_settings().beta == 0.01
    no_lr = redteam.trainer_settings(config.replace(redteam_dpo_learning_rate=None), "dpo")
    assert no_lr.learning_rate == config.hsdpo_learning_rate  # None: HS-DPO's learning rate, as documented


def test_the_red_team_sft_steps_take_their_own_epochs_and_steps(tmp_path):
    from gr_colab.rsft import trainer_args

    config = _config(tmp_path, rsft_max_steps=100, rsft_epochs=3.0, redteam_warmup_max_steps=6,
                     redteam_warmup_epochs=1.0, redteam_harden_max_steps=4, redteam_harden_epochs=2.0)
    for step, steps, epochs in (("warmup", 6, 1.0), ("harden", 4, 2.0)):
        args = trainer_args(config, tmp_path / step, "cpu", settings=redteam.trainer_settings(config, step))
        assert (args.max_steps, args.num_train_epochs) == (steps, epochs)
        assert args.learning_rate == config.rsft_learning_rate
    assert (config.rsft_max_steps, config.rsft_epochs) == (100, 3.0)
    assert trainer_args(config, tmp_path / "rsft", "cpu").max_steps == 100  # R-SFT's own, unchanged
