"""The kit's Unsloth backend on the real Unsloth 2026.10.9 (its CPU backend), in processes of their own
(tests/unsloth_cpu_lane.py): load, LoRA with the kit's arguments, responses-only masking with the kit's markers on the
real Llama 3.2 and Gemma 3 templates, R-SFT steps, HS-DPO steps of WeightedDPOTrainer on Unsloth-patched TRL (the
twin), the merged save and the kit's GGUF export of it, loaded in llama.cpp.

What the CPU backend does not run (the GPU path's compiled trainers, the precision check, Gemma 3 forced to float32,
``FastModel``) is checked against tests/stand_in_unsloth.py in tests/test_unsloth_contract.py. One HS-DPO step of
Gemma 3 270M takes minutes here (262k-word logits for the policy and the reference), so its lane skips it and says so.
"""
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

LANES = {"llama-3.2 on the twin": ("cpu-tiny", "llama-3.2", []),
         "gemma-3 on Gemma 3 270M": ("cpu-270m", "gemma-3", ["--no-dpo"])}


def run_lane(name, tmp_path_factory) -> dict:
    preset, template, extra = LANES[name]
    out = tmp_path_factory.mktemp(preset)
    env = {k: v for k, v in os.environ.items() if k != "UNSLOTH_DISABLE_CPU_FALLBACK"}
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "unsloth_cpu_lane.py"), preset, template, str(out),
                           *extra], capture_output=True, text=True, env=env, timeout=1800)
    steps = {}
    for line in proc.stdout.splitlines():
        if line.startswith('{"step"'):
            step = json.loads(line)
            steps[step.pop("step")] = step
    assert proc.returncode == 0, f"the lane stopped after {list(steps)}:\n{proc.stderr[-3000:]}"
    steps["stdout"] = proc.stdout
    return steps


@pytest.fixture(scope="module", params=list(LANES))
def lane(request, tmp_path_factory):
    return request.param, run_lane(request.param, tmp_path_factory)


@pytest.mark.slow
@pytest.mark.real
def test_the_real_unsloth_runs_the_kits_backend_end_to_end(lane):
    name, steps = lane
    load = steps["load"]
    assert "Unsloth 2026.10.9: no GPU found, training on CPU" in steps["stdout"]  # the real package, CPU backend
    assert load["model_class"] == "PeftModelForCausalLM" and load["lora_r"] == 16
    assert load["lora_modules"] == sorted(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                           "down_proj"])  # get_peft_model took the kit's target_modules
    assert "unsloth" in load["sft_trainer"].lower() or load["sft_trainer"].startswith("trl.")

    rsft = steps["rsft"]
    assert rsft["global_step"] == 2 and len(rsft["losses"]) == 2
    assert all(0 < loss < 50 for loss in rsft["losses"])

    files = steps["merged"]["files"]
    assert "config.json" in files and any(f.endswith(".safetensors") for f in files)
    check = steps["gguf"]["checks"][0]
    assert check["kind"] == "f16" and check["loads"] and check["tokenizer_matches"] is True
    assert check["template_matches"] is True
    # llama.cpp reads the weights Unsloth saved as transformers does: the first position's logits agree (the bound of
    # tests/test_real_lane.py) and so does the first greedy token. The whole greedy run agrees on the random twin;
    # Gemma 3 after two steps has near-ties that f16 (GGUF) and float32 (HF) break differently further on (seen:
    # the same merged folder agreed 24/24 in one run, 4/24 in another), so its run length is printed, not bound.
    print(f"\n[{name}] GGUF check: {check}")
    assert check["max_logit_diff"] < 0.5 and check["first_divergence"] != 0, check
    if "twin" in name:
        assert check["same_tokens"] and check["agreement"] == 1.0, check


@pytest.mark.slow
@pytest.mark.real
def test_responses_only_masking_trains_the_assistant_turn_and_nothing_of_the_user_turn(lane):
    """``train_on_responses_only`` with the kit's markers (found from the template, not a table): the label mask starts
    right after the assistant header, and no token of the user turn carries loss."""
    name, steps = lane
    mask = steps["mask"]
    print(f"\n[{name}] masked (no loss): ...{mask['masked_prefix'][-160:]!r}\n[{name}] trained: "
          f"{mask['trained'][:160]!r}...")
    if "gemma" in name:
        assert (mask["instruction_part"], mask["response_part"]) == ("<start_of_turn>user\n", "<start_of_turn>model\n")
    else:
        assert (mask["instruction_part"], mask["response_part"]) == (
            "<|start_header_id|>user<|end_header_id|>\n\n", "<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert mask["masked_prefix"].endswith(mask["response_part"])  # masking ends exactly at the assistant header
    assert mask["trained"].startswith(mask["row_output"][:200])  # and training starts with the trace
    user_text = mask["row_input"].split("\n")[1]
    assert user_text in mask["masked_prefix"] and user_text not in mask["trained"]
    assert "You are a classifier" not in mask["trained"]
    assert mask["bos_count"] == 1  # the template's BOS, not a second one from tokenizing again


@pytest.mark.slow
@pytest.mark.real
def test_hsdpo_runs_on_unsloth_patched_trl_imported_as_on_colab(lane):
    name, steps = lane
    dpo = steps["hsdpo"]
    if "skipped" in dpo:
        assert "gemma" in name
        pytest.skip(dpo["skipped"])
    assert dpo["global_step"] == 2 and all(0 < loss < 100 for loss in dpo["losses"])
    # WeightedDPOTrainer subclasses whatever trl.DPOTrainer is after `import unsloth` (on the CPU backend TRL's own:
    # unsloth_zoo/cpu/trainer.py replaces SFTTrainer and patches the configs' post-init only)
    assert dpo["mro"][0] == "gr_colab.hsdpo.WeightedDPOTrainer" and dpo["dpo_trainer"] in dpo["mro"]
