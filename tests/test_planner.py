import pytest

from gr_colab.config import GRConfig
from gr_colab.planner import ARCHS, arch_from_hf_config, plan, plan_config

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
    from gr_colab.config import GRConfig
    from gr_colab.models import resolve_model_path
    from gr_colab.pipeline import run_stage
    from gr_colab.planner import arch_of

    folder = resolve_model_path(twin_config)
    cfg = GRConfig.load("cpu-tiny", model_name=folder, run_dir=str(tmp_path / "run"), train_limit=4)
    arch = arch_of(cfg)
    assert (arch.layers, arch.hidden, arch.kv_heads, arch.vocab) == (2, 256, 2, 4096)
    summary = run_stage(cfg, "prepare")
    assert f"rsft of {folder} on a T4" in summary["plan"]
    with pytest.raises(ValueError, match="cannot read its architecture"):
        arch_of(GRConfig.load("cpu-tiny", model_name=str(tmp_path / "no-such-model")))


# --- the time model (issue 22: a plan that holds) --------------------------------------------------------------
def test_a_small_models_decode_step_is_overhead_not_one_over_its_size():
    from gr_colab import timing
    from gr_colab.planner import _weight_bytes

    t4 = timing.DEVICES["T4"]
    small, big = GRConfig.load("t4-270m"), GRConfig.load("t4-1b")
    s = timing.decode_step_s(ARCHS[small.model_name], t4, 16, _weight_bytes(small, ARCHS[small.model_name], "T4"))
    b = timing.decode_step_s(ARCHS[big.model_name], t4, 16, _weight_bytes(big, ARCHS[big.model_name], "T4"))
    assert b == pytest.approx(0.018, rel=0.1)  # the 1B's step, as the planner assumed before
    assert s > 0.8 * b  # not 268M/1236M of it (3.9 ms): a 270M step is mostly per-layer overhead


def test_a_batch_runs_to_its_longest_output_and_a_base_model_to_max_new_tokens():
    from gr_colab import timing
    from gr_colab.planner import plan_generation

    assert timing.longest(400, 1, 1024) == 400 and timing.longest(400, 16, 1024) == pytest.approx(560)
    assert timing.longest(400, 16, 320) == 320  # capped by max_new_tokens
    config = GRConfig.load("t4-270m")
    base = plan_generation(config, variants=("base",)).hours
    trained = plan_generation(config, variants=("rsft",)).hours
    assert base > 1.5 * trained  # 1,024 steps a batch against ~560
    assert plan_generation(config).hours == pytest.approx(base + 2 * trained, rel=1e-6)


def test_the_held_out_check_is_a_sample_whose_size_is_a_config_field():
    from gr_colab.planner import plan_generation, train_rows

    config = GRConfig.load("t4-270m")
    held = round(train_rows(config) / 0.9 * 0.1)
    assert held == 1200  # 3,000 rows x 4 splits, 10 % held out: what evaluation used to generate for, x 3 variants
    sampled = plan_generation(config)
    everything = plan_generation(config.replace(holdout_check_limit=None))
    assert "100 held-out rows" in sampled.notes[0] and f"{held} held-out rows" in everything.notes[0]
    assert everything.hours > sampled.hours * 1.5
    assert GRConfig().holdout_check_limit == 100 and "one session" in GRConfig.__dataclass_fields__[
        "holdout_check_limit"].metadata["help"]


def test_t4_presets_are_planned_in_the_precision_the_kit_picks():
    from gr_colab.planner import precision_of

    assert precision_of("unsloth/gemma-3-270m-it", "T4", "float16").dtype == "float32"  # Gemma 3 on a T4
    assert precision_of("unsloth/Llama-3.2-1B-Instruct", "T4", "float16").dtype == "float16"
    gemma = plan_config(GRConfig.load("t4-270m"))
    assert gemma.breakdown["weights"] == pytest.approx(ARCHS["unsloth/gemma-3-270m-it"].params()["total"] * 4 / 1e9)
    from gr_colab import timing

    arch, t4 = ARCHS["unsloth/gemma-3-270m-it"], timing.DEVICES["T4"]
    assert gemma.hours * 3600 == pytest.approx(timing.train_s(arch, t4, 3000 * 4 * 0.9, 700, 2, 6, fp32=True), rel=0.01)


def test_plan_prints_every_notebook_with_its_setup_and_the_opt_in_ready_guards():
    from gr_colab import timing
    from gr_colab.planner import plan_notebooks, plan_session

    config = GRConfig.load("t4-270m")
    books = plan_notebooks(config)
    assert [name[:2] for name, _, _ in books] == ["00", "01", "02", "03", "04", "05", "06", "07"]
    assert all(parts["setup"] >= sum(timing.SETUP_MIN.values()) for _, _, parts in books)  # a runtime each
    export = dict((n[:2], p) for n, _, p in books)["07"]
    assert export["llama.cpp build"] == timing.LLAMACPP_BUILD_MIN and export["Ollama install"] > 0
    assert "ready guards (opt-in)" not in dict((n[:2], p) for n, _, p in books)["04"]
    opted = dict((n[:2], p) for n, _, p in plan_notebooks(config.replace(compare_ready_guards=True)))["04"]
    assert opted["ready guards (opt-in)"] > 0
    lines = plan_session(config)
    assert lines[3].startswith("03 R-SFT: ≈") and "setup" in lines[3] and "R-SFT" in lines[3]
    total = sum(t for _, t, _ in books) / 60
    assert f"≈ {total:.1f} h" in lines[8] and "disconnect" in lines[8]
    assert total > 2.5  # the old plan said about 0.8 h for this course


def test_cpu_lanes_are_planned_on_the_cpu_from_their_own_counts():
    from gr_colab.planner import plan_notebooks, train_rows

    tiny = GRConfig.load("cpu-tiny")
    assert train_rows(tiny) == round(221 * 0.9)  # the bundled sample files, read
    rsft = plan_config(tiny, gpu="CPU")
    assert rsft.tokens == pytest.approx(tiny.rsft_max_steps * tiny.rsft_batch_size * 700)  # max_steps, not epochs
    books = plan_notebooks(tiny, gpu="CPU")
    assert all("setup" not in parts for _, _, parts in books)  # no Colab runtime to set up
