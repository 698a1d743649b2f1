import pytest

from gr_colab.budget import ARCHS, arch_from_hf_config, plan, plan_config
from gr_colab.config import GRConfig

# published parameter counts of the presets' models
PUBLISHED = {"unsloth/gemma-3-270m-it": 268e6, "unsloth/Llama-3.2-1B-Instruct": 1.236e9,
             "unsloth/Llama-3.2-3B-Instruct": 3.213e9, "unsloth/Meta-Llama-3.1-8B-Instruct": 8.030e9}


@pytest.mark.parametrize("model", sorted(PUBLISHED))
def test_parameter_counts_match_the_published_sizes(model):
    assert ARCHS[model].params()["total"] == pytest.approx(PUBLISHED[model], rel=0.01)


def test_warns_when_a_run_will_not_fit_and_says_how_many_samples_would():
    p = plan("unsloth/Llama-3.2-3B-Instruct", gpu="T4", samples=100_000, batch_size=8, max_seq_length=2048,
             mean_tokens=1500)
    assert not p.fits_memory and not p.fits_session
    assert any("15 GB" in w for w in p.warnings) and any("samples" in w for w in p.warnings)
    assert 0 < p.max_samples_in_session < 100_000
    fitting = plan("unsloth/Llama-3.2-3B-Instruct", gpu="T4", samples=p.max_samples_in_session, batch_size=8,
                   max_seq_length=2048, mean_tokens=1500)
    assert fitting.hours == pytest.approx(3.0, rel=0.02)


def test_memory_and_time_grow_with_what_they_should():
    small = plan("unsloth/Llama-3.2-1B-Instruct", samples=1000)
    assert plan("unsloth/Llama-3.2-3B-Instruct", samples=1000).peak_gb > small.peak_gb
    assert plan("unsloth/Llama-3.2-1B-Instruct", samples=2000).hours == pytest.approx(2 * small.hours)
    assert plan("unsloth/Llama-3.2-1B-Instruct", samples=1000, batch_size=8).peak_gb > small.peak_gb
    assert plan("unsloth/Llama-3.2-1B-Instruct", samples=1000, gpu="A100").hours < small.hours
    dpo = plan("unsloth/Llama-3.2-1B-Instruct", samples=1000, stage="hsdpo")
    assert dpo.peak_gb > small.peak_gb and dpo.hours > small.hours  # two sequences a pair, plus the reference


def test_from_a_config_and_from_an_hf_config(twin):
    p = plan_config(GRConfig.load("t4-1b"))
    assert p.model == "unsloth/Llama-3.2-1B-Instruct" and p.gpu == "T4"
    arch = arch_from_hf_config(twin.model.config)
    assert arch.params()["total"] == sum(p.numel() for p in twin.model.parameters())
    with pytest.raises(ValueError, match="no architecture known"):
        plan("someone/unknown-model")


def test_prepare_plans_a_local_model_folder_from_its_config(tmp_path, twin_config):
    """A local model folder has no row in the planner's table: its architecture is read from its config.json."""
    from gr_colab.budget import arch_of
    from gr_colab.config import GRConfig
    from gr_colab.models import resolve_model_path
    from gr_colab.pipeline import run_stage

    folder = resolve_model_path(twin_config)
    cfg = GRConfig.load("cpu-tiny", model_name=folder, run_dir=str(tmp_path / "run"), train_limit=4)
    arch = arch_of(cfg)
    assert (arch.layers, arch.hidden, arch.kv_heads, arch.vocab) == (2, 256, 2, 4096)
    summary = run_stage(cfg, "prepare")
    assert f"rsft of {folder} on a T4" in summary["budget"]
    with pytest.raises(ValueError, match="cannot read its architecture"):
        arch_of(GRConfig.load("cpu-tiny", model_name=str(tmp_path / "no-such-model")))
