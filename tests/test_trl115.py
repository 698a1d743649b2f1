"""HS-DPO and MODPO on trl 1.15.0, the top of the range the pinned Unsloth accepts (trl<=1.15.0), while .venv pins
1.14.2: scripts/make_trl115_env.sh makes .venv-trl115 (.venv's packages with trl 1.15.0 first on the path) and the
HS-DPO and MODPO loss tests run there, in a process of their own.

What trl 1.15.0 cannot do on a CPU is TRL's own DPO and SFT losses (their fused LM head's kernel is Triton, GPU
only): the comparisons with TRL's DPO loss skip there, with that reason; test_hsdpo_loss.py::
test_trls_own_loss_cannot_run_on_a_cpu and test_trl_115_sft_loss_cannot_run_on_a_cpu_either show the failure itself.
Everything of the kit's DPO trainers (loss, gradients, metrics, a short training run) runs."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import ROOT

VENV = ROOT / ".venv-trl115"
PY = VENV / "bin" / "python"
LOSS_TESTS = ["tests/test_hsdpo_loss.py", "tests/test_modpo.py"]
# TRL's own DPOTrainer loss, which these compare with: on trl 1.15.0 it needs a GPU
SKIPPED_ON_A_CPU = {"test_unweighted_equals_trl[no-column]", "test_unweighted_equals_trl[all-ones]",
                    "test_weighted_path_matches_trl_numbers", "test_trainer_with_w_one_equals_trls_dpo_loss"}


@pytest.fixture(scope="module")
def trl115():
    """The second environment, made (or found ready) by the repo's script; its python."""
    base = os.environ.get("BASE_VENV") or str(ROOT / ".venv")
    if not os.path.exists(os.path.join(base, "bin", "python")):
        base = os.path.dirname(os.path.dirname(sys.executable))  # the venv running these tests
    done = subprocess.run(["bash", str(ROOT / "scripts" / "make_trl115_env.sh")], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "BASE_VENV": base}, timeout=600)
    assert done.returncode == 0, f"scripts/make_trl115_env.sh failed:\n{done.stdout}\n{done.stderr}"
    return PY


def _in_env(py, code: str) -> str:
    out = subprocess.run([str(py), "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.slow
def test_the_environment_has_trl_115_and_the_kit(trl115):
    got = _in_env(trl115, "import trl, transformers, torch, gr_colab, pathlib; "
                          "print(trl.__version__, transformers.__version__, torch.__version__, "
                          "pathlib.Path(gr_colab.__file__).parent.parent == pathlib.Path.cwd())")
    trl_version, transformers_version, torch_version, kit_here = got.split()
    assert trl_version == "1.15.0" and kit_here == "True"  # this checkout's kit, not a copy
    import torch
    import transformers

    # everything but trl is what the kit's .venv has (requirements-cpu.txt)
    assert (transformers_version, torch_version) == (transformers.__version__, torch.__version__)
    # the fused LM head that replaced `outputs.logits` is really there, and its kernel is not (no Triton on a CPU)
    assert _in_env(trl115, "from trl.trainer import utils as u; "
                           "from trl.trainer.utils import FusedCausalLMOutput as F; "
                           "print('logits' in F.__dataclass_fields__, u._ChunkedLogProbFunction is None)") == \
        "False True"


@pytest.mark.slow
def test_hsdpo_and_modpo_loss_tests_pass_on_trl_115(trl115, tmp_path):
    report = tmp_path / "junit.xml"
    run = subprocess.run([str(trl115), "-m", "pytest", *LOSS_TESTS, "-m", "not slow", "-q", "-p", "no:cacheprovider",
                          "-W", "ignore::FutureWarning", f"--junitxml={report}"], cwd=ROOT, capture_output=True,
                         text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    cases = ET.parse(report).getroot().iter("testcase")
    skipped, passed = {}, set()
    for case in cases:
        skip = case.find("skipped")
        if skip is not None:
            skipped[case.get("name")] = skip.get("message", "")
        elif case.find("failure") is None and case.find("error") is None:
            passed.add(case.get("name"))
    assert set(skipped) == SKIPPED_ON_A_CPU, skipped
    assert all("trl 1.15.0's own DPO loss needs its GPU kernel" in m for m in skipped.values()), skipped
    # the kit's own checks, run on 1.15.0: by hand, gradients, accumulation, a training run, what fails
    for name in ("test_trainer_loss_is_weighted_dpo_of_the_log_probs", "test_weights_change_loss_and_gradients",
                 "test_gradient_accumulation_divides_the_kit_loss", "test_train_hsdpo_short_run",
                 "test_the_trl_calls_the_kit_makes_have_these_signatures", "test_trls_own_loss_cannot_run_on_a_cpu",
                 "test_trainer_loss_is_modpo_of_the_log_probs", "test_trainer_refuses_pairs_without_margins"):
        assert name in passed, f"{name} did not pass on trl 1.15.0 ({sorted(passed)})"


SFT_STEP = """
import sys, tempfile
sys.path.insert(0, "tests")
from datasets import Dataset
from trl import SFTConfig, SFTTrainer
from test_hsdpo_loss import _peft_model, _tokenizer
args = SFTConfig(output_dir=tempfile.mkdtemp(), use_cpu=True, report_to="none", max_length=64,
                 per_device_train_batch_size=2, bf16=False, fp16=False)
trainer = SFTTrainer(model=_peft_model(), args=args, processing_class=_tokenizer(),
                     train_dataset=Dataset.from_dict({"text": ["is this safe: hello", "harmful? a loud noise"]}))
batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
try:
    print("loss", float(trainer.compute_loss(trainer.model, batch)))
except AttributeError as e:
    print("AttributeError:", e)
"""


@pytest.mark.slow
def test_trl_115_sft_loss_cannot_run_on_a_cpu_either(trl115):
    """Why .venv stays on trl 1.14.2 (docs/00): 1.15.0's SFTTrainer computes its loss through the same fused LM head,
    so R-SFT (and the red-team proposer's SFT) cannot train on a CPU with it; the same step runs on 1.14.2."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU runs the fused head's kernel")
    assert _in_env(trl115, SFT_STEP).splitlines()[-1] == "AttributeError: 'NoneType' object has no attribute 'apply'"
    last = _in_env(sys.executable, SFT_STEP).splitlines()[-1]  # the kit's .venv, trl 1.14.2
    assert last.startswith("loss ") and float(last.split()[1]) > 0
