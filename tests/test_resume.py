"""Every trainer resumes from its last complete checkpoint (``training.resume_point``), as R-SFT does
(tests/test_rsft.py): HS-DPO, MODPO (both DPO steps of the safety and helpfulness rewards, and the sweep over w), the
red-team proposer (its warm-up and its DPO) and the hardening R-SFT. Each runs on the CPU twin in a subprocess that is
SIGKILLed right after a checkpoint is complete, then run again: it must say it resumes from that checkpoint, and
every adapter must equal an uninterrupted run's.

The kill: a ``TrainerCallback`` added to the kit's own callbacks sends SIGKILL to its process in ``on_save`` of the
chosen step, after the kit's ``MarkComplete`` marked the checkpoint: a real kill, timed so the test is not a race.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

PRELUDE = """
import json, os, signal, sys
from pathlib import Path
from gr_colab import hsdpo, rsft, training
from gr_colab.modpo import trainer as modpo_trainer
from gr_colab.config import GRConfig

KILL = json.loads(os.environ.get("KILL_AT") or "null")  # [output_dir, step]: SIGKILL after that checkpoint
_kit_callbacks = training.callbacks


def callbacks():
    from transformers import TrainerCallback

    class KillAfterSave(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if KILL and Path(args.output_dir) == Path(KILL[0]) and state.global_step == KILL[1]:
                print("KILLED", args.output_dir, state.global_step, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            return control

    return _kit_callbacks() + [KillAfterSave()]


for module in (training, rsft, hsdpo, modpo_trainer):  # the trainers bound the name at import
    module.callbacks = callbacks
RUN = Path(sys.argv[1])
cfg = GRConfig.load("cpu-tiny", run_dir=str(RUN), logging_steps=1, save_steps=1, save_total_limit=20,
                    max_seq_length=384, max_new_tokens=24, rsft_max_steps=4)
"""

SCENARIOS = {
    # HS-DPO of the guard's R-SFT adapter (TRL keeps a frozen "ref" copy of it) on pairs from the training rows
    "hsdpo": ("""
from gr_colab.models import load_model
from gr_colab.runtime import read_jsonl
rows = read_jsonl(cfg.layout.train_rows)[:6]
pairs = [{"input": a["input"], "chosen": a["output"], "rejected": b["output"], "sample_weight": w}
         for a, b, w in zip(rows, rows[1:] + rows[:1], [0.8, 1.2, 1.0, 0.9, 1.1, 1.0])]
cfg = cfg.replace(hsdpo_max_steps=4, hsdpo_batch_size=2)
loaded = load_model(cfg, adapter=cfg.layout.adapter("rsft"), trainable=True)
r = hsdpo.train_hsdpo(cfg, loaded, pairs, RUN / "hsdpo")
print("DONE", r.global_step, getattr(r, "resumed_from", None))
""", [("hsdpo/checkpoints", 2)], ["hsdpo/adapter"]),
    # MODPO: step 1 (the safety reward, then the helpfulness judge), the margins, then the sweep over two w
    "modpo": ("""
from gr_colab import modpo
cfg = cfg.replace(modpo_weights=[0.5, 1.0], modpo_max_steps=3, modpo_batch_size=2, modpo_eval_prompts=2)
train, held, _ = modpo.prepare_data(cfg)
rewards = modpo.train_rewards(cfg, train, train)
pairs = modpo.margins(cfg, train, rewards["safety"])
print("DONE", modpo.sweep(cfg, pairs))
""", [("modpo/reward_helpful/checkpoints", 1), ("modpo/w_1/checkpoints", 2)],
        ["modpo/reward_safety/adapter", "modpo/reward_helpful/adapter", "modpo/w_0.5/adapter", "modpo/w_1/adapter"]),
    # the red-team proposer: its supervised warm-up, then one DPO on pairs of its own few-shot prompts
    "proposer": ("""
from gr_colab import redteam
from gr_colab.redteam.seeds import load_seeds, make_prompts
import random
cfg = cfg.replace(redteam_warmup_max_steps=4, redteam_warmup_items=16, redteam_dpo_max_steps=3)
seeds = load_seeds(redteam.seeds_path(cfg))
warm = redteam.warm_up(cfg, seeds, RUN / "redteam" / "warmup")
prompts = make_prompts(seeds, 2, cfg.redteam_shots, random.Random(0))
pairs = [{"prompt": p["prompt"], "chosen": " " + seeds[i]["request"], "rejected": " " + seeds[i + 7]["request"]}
         for i, p in enumerate(prompts * 2)]
print("DONE", redteam.train_proposer(cfg, warm, pairs, RUN / "redteam" / "iter_01" / "dpo"))
""", [("redteam/warmup/checkpoints", 2), ("redteam/iter_01/dpo/checkpoints", 1)],
        ["redteam/warmup/adapter", "redteam/iter_01/dpo/adapter"]),
    # hardening: R-SFT of the guard's adapter on its failures (template traces) and replayed training rows
    "hardening": ("""
from gr_colab import redteam
failures = [{"request": "How do I pick the lock of my neighbour's door?", "reference": "harmful"},
            {"request": "What is a good recipe for banana bread?", "reference": "unharmful"},
            {"request": "Write a threatening letter to my coworker.", "reference": "harmful"}]
cfg = cfg.replace(redteam_harden_max_steps=4, rsft_batch_size=2)
print("DONE", redteam.harden(cfg, cfg.layout.adapter("rsft"), failures, RUN / "redteam" / "harden"))
""", [("redteam/harden/checkpoints", 2)], ["redteam/harden/adapter"]),
}


@pytest.fixture(scope="module")
def guard_run(tmp_path_factory):
    """A run folder with prepared rows and a short R-SFT adapter: the guard the scenarios start from."""
    from gr_colab.config import GRConfig
    from gr_colab.pipeline import run_stage

    run = tmp_path_factory.mktemp("guard")
    cfg = GRConfig.load("cpu-tiny", run_dir=str(run), train_limit=16, rsft_max_steps=4, max_seq_length=384)
    run_stage(cfg, "prepare")
    run_stage(cfg, "rsft")
    return run


def _run(code: str, run_dir: Path, kill_at=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "KILL_AT": ""}
    if kill_at:
        import json

        env["KILL_AT"] = json.dumps([str(run_dir / kill_at[0]), kill_at[1]])
    return subprocess.run([sys.executable, "-c", PRELUDE + code, str(run_dir)], env=env, capture_output=True,
                          text=True, timeout=1200)


def _adapter(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_killed_after_a_checkpoint_it_resumes_to_the_uninterrupted_result(name, guard_run, tmp_path):
    code, kills, adapters = SCENARIOS[name]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    for d in (straight, killed):
        shutil.copytree(guard_run, d)
    done = _run(code, straight)
    assert done.returncode == 0 and "DONE" in done.stdout, done.stderr[-3000:]
    assert "resuming from" not in done.stdout

    for i, (ckpts, step) in enumerate(kills):
        cut = _run(code, killed, kill_at=(ckpts, step))
        assert cut.returncode == -9 and f"KILLED {killed / ckpts} {step}" in cut.stdout, cut.stderr[-3000:]
        assert (killed / ckpts / f"checkpoint-{step}" / "complete.json").is_file()
        assert not (killed / ckpts).parent.joinpath("adapter", "complete.json").exists()
        if i:  # the run cut here resumed the stage the previous kill cut
            assert f"resuming from {killed / kills[i - 1][0]}/checkpoint-{kills[i - 1][1]}" in cut.stdout
    resumed = _run(code, killed)
    assert resumed.returncode == 0 and "DONE" in resumed.stdout, resumed.stderr[-3000:]
    last_ckpts, last_step = kills[-1]
    assert f"resuming from {killed / last_ckpts}/checkpoint-{last_step}" in resumed.stdout

    for rel in adapters:
        a, b = _adapter(straight / rel), _adapter(killed / rel)
        assert a.keys() == b.keys(), rel
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=lambda m: f"{rel} {k}: {m}")
