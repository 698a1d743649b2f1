import pytest

from gr_colab.config import ConfigError, GRConfig


def test_presets_exist_and_load():
    for name in ["cpu-tiny", "t4-270m", "t4-1b", "t4-3b", "a100-8b"]:
        cfg = GRConfig.load(name)
        assert cfg.preset == name
    assert GRConfig.load("t4-270m").model_name == "unsloth/gemma-3-270m-it"
    assert GRConfig.load("t4-1b").model_name == "unsloth/Llama-3.2-1B-Instruct"
    assert GRConfig.load("t4-3b").model_name == "unsloth/Llama-3.2-3B-Instruct"
    assert GRConfig.load("t4-1b").dtype == "auto"  # decided from the GPU (gr_colab.precision): fp16 on a T4


def test_yaml_round_trip_and_overrides(tmp_path):
    cfg = GRConfig.load("t4-1b", lora_r=32)
    path = tmp_path / "c.yaml"
    cfg.to_yaml(path)
    again = GRConfig.load(path)
    assert again == cfg and again.lora_r == 32


def test_yaml_with_preset_fills_the_rest(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("preset: t4-3b\nrsft_max_steps: 10\n")
    cfg = GRConfig.load(path)
    assert cfg.model_name == "unsloth/Llama-3.2-3B-Instruct" and cfg.rsft_max_steps == 10


@pytest.mark.parametrize("bad, message", [
    ({"lora_rank": 8}, "unknown config field 'lora_rank'.*did you mean 'lora_r'"),
    ({"backend": "vllm"}, "backend: 'vllm' is not allowed; choose one of auto, unsloth, transformers"),
    ({"lora_r": 0}, "lora_r: must be a positive"),
    ({"lora_r": "16"}, "lora_r: expected a int"),
    ({"dtype": "fp8"}, "dtype: 'fp8' is not allowed"),
    ({"gguf_types": ["q2_k"]}, "gguf_types"),
    ({"preset": "t4-7b"}, "preset: 't4-7b' is not a preset"),
    ({"leave_out": "Wild"}, "leave_out: 'Wild' is not a GuardReasonerTrain split"),
    ({"mine_weight_range": [1.2, 0.8]}, "mine_weight_range"),
    ({"hsdpo_weight_range": [1.2, 0.8]}, "mine_weight_range"),  # the old name, checked under the new one
    ({"load_in_4bit": True}, "load_in_4bit: the CPU twin"),
])
def test_invalid_values_name_the_field_and_what_is_allowed(bad, message):
    with pytest.raises(ConfigError, match=message):
        GRConfig.load(bad)


def test_bad_yaml_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("lora_r: [unclosed\n")
    with pytest.raises(ConfigError, match="broken.yaml"):
        GRConfig.load(path)


def test_replace_keeps_validation():
    cfg = GRConfig.load("cpu-tiny")
    assert cfg.replace(seed=3).seed == 3
    with pytest.raises(ConfigError):
        cfg.replace(max_new_tokens=-1)


def test_every_field_is_documented_where_it_is_declared():
    import dataclasses

    from gr_colab.config import field_help

    undocumented = [f.name for f in dataclasses.fields(GRConfig) if len(f.metadata.get("help", "")) < 10]
    assert undocumented == []
    text = field_help("reasoning_budget")
    assert text.startswith("reasoning_budget = 'full': the reasoning budget")
    assert "choices ('full', 'conclusions'" in text
    assert "ge 1" in field_help("mine_k")


def test_the_mining_fields_old_names_still_load(tmp_path, capsys):
    cfg = GRConfig.load("cpu-tiny", hsdpo_k=3, hsdpo_top_p=0.5)
    assert (cfg.mine_k, cfg.mine_top_p) == (3, 0.5)
    path = tmp_path / "old.yaml"
    path.write_text("preset: cpu-tiny\nhsdpo_temperature: 0.3\n")
    assert GRConfig.load(path).mine_temperature == 0.3
    assert "'hsdpo_temperature' is now 'mine_temperature'" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="mine_top_p: must be > 0 and <= 1"):
        GRConfig.load("cpu-tiny", hsdpo_top_p=1.5)


def test_a_run_folder_from_an_earlier_kit_version_still_counts_as_complete(tmp_path):
    from gr_colab.runs import is_complete, mark_complete, read_marker

    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "stage.json").write_text('{"stage": "rsft", "steps": 3}')
    assert is_complete(tmp_path / "old") and read_marker(tmp_path / "old")["steps"] == 3
    assert not is_complete(tmp_path / "new") and read_marker(tmp_path / "new") == {}
    mark_complete(tmp_path / "new", {"steps": 4})
    assert read_marker(tmp_path / "new")["steps"] == 4 and [p.name for p in (tmp_path / "new").iterdir()] == [
        "complete.json"]  # nothing else left behind (the temporary file was renamed)


def test_renamed_fields_old_names_load_from_kwargs_yaml_and_set_and_still_read(tmp_path, capsys):
    from types import SimpleNamespace

    from gr_colab.cli import _config

    cfg = GRConfig.load("cpu-tiny", hsdpo_weight_range=[0.5, 1.5], reasoning="answers")
    assert (cfg.mine_weight_range, cfg.reasoning_budget) == ([0.5, 1.5], "answers")
    assert (cfg.hsdpo_weight_range, cfg.reasoning) == ([0.5, 1.5], "answers")  # old attribute names still read
    assert "hsdpo_weight_range" not in cfg.to_dict() and "reasoning" not in cfg.to_dict()
    path = tmp_path / "old.yaml"
    path.write_text("preset: cpu-tiny\nreasoning: conclusions\nhsdpo_weight_range: [0.9, 1.1]\n")
    loaded = GRConfig.load(path)
    assert (loaded.reasoning_budget, loaded.mine_weight_range) == ("conclusions", [0.9, 1.1])
    cli = _config(SimpleNamespace(set=["reasoning=answers", "hsdpo_weight_range=[0.7, 1.3]"], run_dir=None,
                                  config=None, preset="cpu-tiny"))  # --set with the old names
    assert (cli.reasoning_budget, cli.mine_weight_range) == ("answers", [0.7, 1.3])
    out = capsys.readouterr().out
    assert "'reasoning' is now 'reasoning_budget'" in out and "'hsdpo_weight_range' is now 'mine_weight_range'" in out
    with pytest.raises(AttributeError):
        cfg.no_such_field


def test_trainer_settings_are_built_from_the_flat_fields():
    from gr_colab.trainer_settings import DPOSettings, RSFTSettings

    cfg = GRConfig.load("cpu-tiny", rsft_learning_rate=1e-3, rsft_epochs=2.0, rsft_max_steps=7, rsft_batch_size=3,
                        rsft_grad_accum=5, rsft_effective_batch=30, rsft_warmup_steps=2, rsft_scheduler="linear",
                        rsft_weight_decay=0.1, max_seq_length=256, hsdpo_beta=0.05, hsdpo_learning_rate=2e-6,
                        hsdpo_epochs=1.5, hsdpo_max_steps=9, hsdpo_batch_size=2, hsdpo_grad_accum=4,
                        hsdpo_effective_batch=16, hsdpo_sft_weight=0.5)
    assert cfg.rsft_settings() == RSFTSettings(learning_rate=1e-3, epochs=2.0, max_steps=7, batch_size=3, grad_accum=5,
                                               effective_batch=30, warmup_steps=2, scheduler="linear",
                                               weight_decay=0.1, max_length=256)
    assert cfg.hsdpo_settings() == DPOSettings(beta=0.05, learning_rate=2e-6, epochs=1.5, max_steps=9, batch_size=2,
                                               grad_accum=4, effective_batch=16, sft_weight=0.5, max_length=256)
    with pytest.raises(Exception):  # frozen: a chapter builds its own, it never edits R-SFT's or HS-DPO's
        cfg.hsdpo_settings().beta = 1.0
