"""The paper's scale as presets (multi-gpu-8b, full-8b-zero3) and the planner's figures for N GPUs."""
import pytest


@pytest.mark.parametrize("name", ["multi-gpu-8b", "full-8b-zero3"])
def test_the_node_presets_hold_the_papers_recipe(name):
    from gr_colab.config import GRConfig

    c = GRConfig.load(name)
    assert c.model_name == "unsloth/Meta-Llama-3.1-8B-Instruct" and c.train_files == [
        "hf://yueliu1999/GuardReasonerTrain"] and c.train_limit is None  # all four splits
    assert (c.rsft_epochs, c.rsft_effective_batch, c.max_seq_length) == (3.0, 384, 2048)
    assert (c.hsdpo_beta, c.hsdpo_learning_rate, c.hsdpo_sft_weight, c.hsdpo_epochs, c.hsdpo_effective_batch) == \
        (0.01, 5e-6, 2.0, 2.0, 256)
    assert (c.mine_k, c.mine_temperature, c.mine_top_p, c.max_new_tokens) == (4, 0.7, 0.95, 2048)
    assert c.generation_backend == "vllm" and not c.load_in_4bit and c.dtype == "bfloat16"
    assert c.finetune == ("full" if name == "full-8b-zero3" else "lora")
    if c.finetune == "full":
        assert c.rsft_learning_rate == 5e-5  # the paper's full fine-tune


def test_a_full_fine_tune_of_a_4bit_base_is_refused():
    from gr_colab.config import ConfigError, GRConfig

    with pytest.raises(ConfigError, match="finetune: 'full'"):
        GRConfig.load("t4-1b", finetune="full")


def test_the_planner_per_gpu_and_for_n_gpus():
    from gr_colab.config import GRConfig
    from gr_colab.node_plan import plan_node

    full, lora = GRConfig.load("full-8b-zero3"), GRConfig.load("multi-gpu-8b")
    f4, f8 = plan_node(full, gpus=4), plan_node(full, gpus=8)
    # ZeRO-3: 16 bytes a parameter (bf16 weights and gradients, fp32 Adam states) split over the GPUs
    assert f4.breakdown["weights+grads+Adam (sharded)"] == pytest.approx(2 * f8.breakdown["weights+grads+Adam "
                                                                                           "(sharded)"])
    assert 8.0e9 * 16 / 4 / 1e9 == pytest.approx(f4.breakdown["weights+grads+Adam (sharded)"], rel=0.01)
    assert f4.hours == pytest.approx(2 * f8.hours) and f4.fits and f4.mode == "full fine-tune, ZeRO-3"
    # DDP: every GPU holds the whole bf16 base, whatever N; only the time divides
    l4, l8 = plan_node(lora, gpus=4), plan_node(lora, gpus=8)
    assert l4.per_gpu_gb == pytest.approx(l8.per_gpu_gb) and l4.breakdown["weights"] == pytest.approx(16.06, 0.01)
    assert l4.hours == pytest.approx(2 * l8.hours)
    hs = plan_node(full, gpus=4, stage="hsdpo")
    assert "reference (sharded)" in hs.breakdown  # TRL's reference copy of a fully trained model
    assert "4 x 80 GB" in f4.summary()
