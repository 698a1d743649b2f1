"""R-SFT → sampling → mining → weighted DPO on the CPU twin, end to end on the sample data."""
import json

import pytest


@pytest.mark.slow
def test_sampling_mining_and_weighted_dpo_end_to_end(trained_run, capsys):
    from gr_colab.pipeline import run_stage

    mined = run_stage(trained_run, "mine")
    out = capsys.readouterr().out
    assert "mined" in out and "hard samples" in out  # the summary is shown
    assert mined["items"] == 24 and mined["pairs"] > 0
    assert sum(mined["by_task"].values()) == mined["pairs"] == sum(mined["weights"].values())
    pairs = [json.loads(l) for l in (trained_run.path / "mine" / "pairs.jsonl").read_text().splitlines()]
    assert all(0.8 <= p["sample_weight"] <= 1.2 for p in pairs)
    assert all(p["chosen"] != p["rejected"] for p in pairs)
    samples = (trained_run.path / "mine" / "samples" / "generated_predictions.jsonl").read_text().splitlines()
    assert all(len(json.loads(l)["samples"]) == trained_run.mine_k for l in samples)

    trained = run_stage(trained_run, "hsdpo")
    assert trained["pairs"] == len(pairs)
    assert trained["reward_accuracy_last"] > trained["reward_accuracy_first"]
    adapter = trained_run.path / "hsdpo" / "adapter"
    assert (adapter / "adapter_model.safetensors").exists() and (trained_run.path / "hsdpo" / "curves.png").exists()
