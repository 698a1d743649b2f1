"""R-SFT on the CPU twin: the label mask on real rows, training lowers the loss, and a SIGKILL mid-run resumes to
the same adapter an uninterrupted run gives."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import SAMPLE

from gr_colab.config import GRConfig
from gr_colab.data import load_train
from gr_colab.models import load_model
from gr_colab.runs import MARKER

ROWS = (load_train(SAMPLE / "train" / "AegisTrainR.json").rows[:12]
        + load_train(SAMPLE / "train" / "WildGuardTrainR.json").rows[:12])


def test_label_mask_on_real_rows(twin_config):
    from gr_colab.rsft import build_trainer

    loaded = load_model(twin_config)
    tok = loaded.tokenizer
    eot = tok.convert_tokens_to_ids("<|eot_id|>")
    rows = ROWS[:6] + load_train(SAMPLE / "train_sample_real.json").rows
    trainer = build_trainer(twin_config, loaded, rows, Path("unused"))
    for i, row in enumerate(rows):
        batch = trainer.data_collator([trainer.train_dataset[i]])
        ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
        # the chat turn: instruction, newline, the input without its trailing blank line (prompts.user_content)
        turn = {"role": "user", "content": row["instruction"] + "\n" + row["input"].rstrip()}
        prompt = tok.apply_chat_template([turn], tokenize=False, add_generation_prompt=True)
        n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"])
        assert ids[:n_prompt] == tok(prompt, add_special_tokens=False)["input_ids"]
        assert all(l == -100 for l in labels[:n_prompt]), "a prompt token carries loss"
        assert all(l == t for l, t in zip(labels[n_prompt:], ids[n_prompt:])), "a completion token carries no loss"
        assert labels[-1] == eot, "the end-of-turn token must be trained: it is how the model learns to stop"
        assert tok.decode(ids[n_prompt:-1]) == row["output"].rstrip()


def _runner(run_dir: Path, steps: int) -> str:
    return f"""
import json
from gr_colab.config import GRConfig
from gr_colab.data import load_train
from gr_colab.rsft import train_rsft
from pathlib import Path
rows = (load_train({str(SAMPLE / 'train' / 'AegisTrainR.json')!r}).rows[:12]
        + load_train({str(SAMPLE / 'train' / 'WildGuardTrainR.json')!r}).rows[:12])
cfg = GRConfig.load('cpu-tiny', run_dir={str(run_dir)!r}, rsft_max_steps={steps}, save_steps=2, rsft_batch_size=2,
                    logging_steps=1, max_seq_length=512, save_total_limit=3)
r = train_rsft(cfg, rows=rows, out_dir=Path({str(run_dir)!r}))
print("DONE", r.global_step, r.resumed_from)
"""


def _adapter(run_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_equals_an_uninterrupted_run(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    steps = 8
    straight = tmp_path / "straight"
    done = subprocess.run([sys.executable, "-c", _runner(straight, steps)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", _runner(killed, steps)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    marker = killed / "checkpoints" / "checkpoint-4" / MARKER
    deadline = time.time() + 600
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert marker.exists() and not (killed / "adapter").exists(), "the run was not cut off mid-way"
    # a checkpoint cut off mid-save: newer than the last complete one, without the marker, a file missing
    ckpts = killed / "checkpoints"
    latest = max(int(p.name.split("-")[1]) for p in ckpts.glob("checkpoint-*") if (p / MARKER).exists())
    torn = ckpts / f"checkpoint-{latest + 1}"
    torn.mkdir(exist_ok=True)
    (torn / "adapter_model.safetensors").write_bytes(b"\x00" * 100)

    resumed = subprocess.run([sys.executable, "-c", _runner(killed, steps)], env=env, capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"DONE {steps} " in resumed.stdout and "checkpoint-" in resumed.stdout.split("DONE")[1]
    assert "set aside an incomplete checkpoint" in resumed.stdout
    assert (ckpts / f"checkpoint-{latest + 1}.incomplete").exists()  # moved aside, not deleted, not resumed from

    a, b = _adapter(straight), _adapter(killed)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    state = json.loads((ckpts / f"checkpoint-{steps}" / "trainer_state.json").read_text())
    assert state["global_step"] == steps


@pytest.mark.slow
def test_rsft_lowers_the_loss_and_writes_curves(tmp_path):
    from gr_colab.rsft import train_rsft

    cfg = GRConfig.load("cpu-tiny", run_dir=str(tmp_path), rsft_max_steps=12, logging_steps=2, save_steps=50)
    result = train_rsft(cfg, rows=ROWS, out_dir=tmp_path / "rsft")
    assert result.losses[-1] < result.losses[0]
    header = result.curves_csv.read_text().splitlines()[0].split(",")  # the CSV's columns: the logged series
    assert result.curves_png.exists() and {"epoch", "step", "loss"} <= set(header)
    assert (result.adapter_dir / "adapter_model.safetensors").exists()
    assert not list(result.adapter_dir.glob("*.bin"))  # safetensors only


@pytest.mark.parametrize("group_by_length", [False, True])
def test_rsft_rows_come_in_random_order_as_plain_trl_feeds_them(group_by_length, tmp_path):
    """Issue 23. transformers' LengthGroupedSampler sorts every block of 50 batches longest first (then puts the
    longest batch of all first), so a 60-step run at batch 1 on the real traces trained first on the rows cut at
    max_seq_length (no Answers block, no end of turn) and ended on another block's longest rows: the 270M learned to
    write task after task without answering. The kit now feeds rows in random order, TRL's default; grouping by
    length stays an opt-in (``group_by_length: true``). Read from the trainer's own dataloader, on the real traces."""
    import dataclasses

    from trl import SFTConfig

    from gr_colab.config import PRESETS
    from gr_colab.data import load_train_files
    from gr_colab.rsft import build_trainer

    rows = load_train_files([f"sample_data/real_traces/{n}-1B.json" for n in ("AegisSafetyTest", "HarmBenchPrompt")],
                            root=SAMPLE.parent).rows[:200]
    cfg = GRConfig.load("cpu-tiny", run_dir=str(tmp_path), rsft_batch_size=1, rsft_max_steps=60,
                        group_by_length=group_by_length)
    trainer = build_trainer(cfg, load_model(cfg), rows, tmp_path / "ckpt")
    lengths = []
    for i, batch in enumerate(trainer.get_train_dataloader()):
        if i == 50:  # one block of LengthGroupedSampler at batch 1
            break
        lengths.append(int(batch["attention_mask"][0].sum()))
    rises = sum(b > a for a, b in zip(lengths, lengths[1:]))
    if group_by_length:
        assert rises == 0 and lengths[0] == max(lengths), lengths  # the opt-in: longest first, never a longer row
    else:
        trl_default = next(f.default for f in dataclasses.fields(SFTConfig) if f.name == "train_sampling_strategy")
        assert trainer.args.train_sampling_strategy == trl_default == "random"
        assert rises >= 15, lengths  # a random order rises about every other step (24.5 of 49 expected)
        assert all(not GRConfig.load(p).group_by_length for p in PRESETS)  # every preset trains in random order
