"""The chapters' trainers under a launcher: MODPO's sweep and the red-team loop in 2 processes (gloo on the CPU, set
up as accelerate's ``debug_launcher`` does: :func:`test_distributed._two_processes`).

What is checked: every trainer (MODPO's two rewards and its sweep; the proposer's warm-up and DPO, the hardening
R-SFT) sees world size 2 on both ranks, trains on the same rows on both (a hash of its dataset) and a different shard
on each (the first batch); every step that is no Trainer (generation, labelling, margins, scores, the summary files,
the figures, the markers) ran on rank 0 only, each file written once; the chapter's files are all there and both
ranks return the same figures.

Nothing here is faked: the real Trainer, accelerate and torch.distributed run; the spies only record what the kit's
functions were called with (in the spawned workers) and call the real function.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest
from test_distributed import _two_processes


def _config(run_dir, **kw):
    from gr_colab.config import GRConfig

    return GRConfig.load("cpu-tiny", run_dir=str(run_dir), train_limit=6, max_seq_length=256, group_by_length=False,
                         reasoning_budget="answers", rsft_batch_size=2, rsft_max_steps=30, logging_steps=1,
                         save_steps=100, max_new_tokens=16, **kw)


CHAPTERS = {
    "modpo": dict(modpo_limit=16, modpo_max_steps=2, modpo_batch_size=2, modpo_grad_accum=1, modpo_weights=[0.5],
                  modpo_eval_prompts=2, modpo_max_new_tokens=4, modpo_safety_labels="guard"),
    "redteam": dict(redteam_iterations=1, redteam_warmup_items=8, redteam_warmup_max_steps=2, redteam_prompts=2,
                    redteam_samples=4, redteam_heldout_prompts=1, redteam_max_new_tokens=16,
                    redteam_lexicon_confidence=0.55, redteam_dpo_max_steps=2, redteam_harden_max_steps=2,
                    hsdpo_batch_size=2, hsdpo_effective_batch=None),
}


def _digest(rows) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


def _worker(chapter: str, run_dir: str, out_dir: str) -> None:
    """One rank: the real chapter, with spies recording its trainers, its file writes and its model steps."""
    from gr_colab import dist, generate, hsdpo, plots, rsft, runtime, training
    from gr_colab.modpo import trainer as modpo_trainer

    seen: dict = {"writes": [], "curves": [], "figures": [], "generations": 0, "margins": 0, "trainers": []}
    trainers = []
    real_text, real_curves, real_save = runtime.atomic_write_text, training.save_curves, plots.save

    def text_spy(path, text):  # every JSON and JSONL file the kit writes goes through it (markers included)
        seen["writes"].append(str(path))
        return real_text(path, text)

    def curves_spy(history, out, title):
        seen["curves"].append(str(out))
        return real_curves(history, out, title)

    def save_spy(fig, path, *args, **kwargs):
        seen["figures"].append(str(path))
        return real_save(fig, path, *args, **kwargs)

    runtime.atomic_write_text, training.save_curves, plots.save = text_spy, curves_spy, save_spy

    def counting(module, name, key):
        real = getattr(module, name)

        def spy(*args, **kwargs):
            seen[key] += 1
            return real(*args, **kwargs)

        setattr(module, name, spy)

    counting(generate, "generate", "generations")
    counting(generate, "run_predictions", "generations")
    counting(modpo_trainer, "compute_margins", "margins")

    def spy_class(module, name, kind):
        real = getattr(module, name)

        class Spy(real):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                trainers.append((kind, self))

        setattr(module, name, Spy)

    spy_class(hsdpo, "WeightedDPOTrainer", "dpo")
    spy_class(modpo_trainer, "MODPOTrainer", "modpo")
    real_build = rsft.build_trainer

    def build_spy(*args, **kwargs):
        trainer = real_build(*args, **kwargs)
        trainers.append(("sft", trainer))
        return trainer

    rsft.build_trainer = build_spy

    cfg = _config(run_dir, **CHAPTERS[chapter])
    if chapter == "modpo":
        from gr_colab.modpo import run_modpo

        summary = run_modpo(cfg)
        seen["figures_returned"] = {"front": summary["front"], "reference": summary["reference"]}
    else:
        from gr_colab.redteam import run_redteam, summary_json

        summary = run_redteam(cfg)
        seen["figures_returned"] = summary_json(summary)
    for kind, trainer in trainers:
        first = next(iter(trainer.get_train_dataloader()))
        seen["trainers"].append({"kind": kind, "world_size": trainer.args.world_size,
                                 "parallel_mode": trainer.args.parallel_mode.value,
                                 "data": _digest(trainer.train_dataset.to_list()),
                                 "first_batch": first["input_ids"].tolist()})
    seen["rank"] = dist.rank()
    Path(out_dir, f"rank{dist.rank()}.json").write_text(json.dumps(seen))


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A run with a 30-step R-SFT guard answering with the Answers block alone (trained in this process, about 10 s):
    what both chapters judge with; one that gives verdicts, so the red-team loop finds both failures and passes."""
    from gr_colab.pipeline import run_stage

    run = tmp_path_factory.mktemp("chapters") / "run"
    run_stage(_config(run), "prepare")
    run_stage(_config(run), "rsft")
    return run


def _launch(chapter: str, guarded: Path, tmp_path: Path) -> tuple[Path, list]:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(guarded, run)
    return run, _two_processes(chapter, run, tmp_path / "ranks", worker=_worker)


def _check_ranks(r0: dict, r1: dict, kinds: list) -> None:
    assert (r0["rank"], r1["rank"]) == (0, 1)
    assert [t["kind"] for t in r0["trainers"]] == [t["kind"] for t in r1["trainers"]] == kinds
    for t0, t1 in zip(r0["trainers"], r1["trainers"]):
        assert t0["world_size"] == t1["world_size"] == 2 and t0["parallel_mode"] == "distributed"
        assert t0["data"] == t1["data"], f"{t0['kind']}: the ranks trained on different rows"
        assert t0["first_batch"] != t1["first_batch"], f"{t0['kind']}: both ranks got the same shard"
    # rank 1 trained and read; it wrote nothing, generated nothing, scored nothing
    assert r1["writes"] == r1["curves"] == r1["figures"] == []
    assert r1["generations"] == 0 and r1["margins"] == 0
    assert r0["generations"] > 0
    twice = [p for p, n in Counter(r0["writes"]).items() if n > 1]
    assert not twice, f"written more than once: {twice}"
    assert r0["figures_returned"] == r1["figures_returned"]


@pytest.mark.slow
def test_modpo_sweep_in_two_processes(guarded, tmp_path):
    run, (r0, r1) = _launch("modpo", guarded, tmp_path)
    _check_ranks(r0, r1, ["dpo", "dpo", "modpo"])  # the safety reward, the helpfulness judge, w = 0.5
    out = run / "modpo"
    written = sorted(str(Path(p).relative_to(out)) for p in r0["writes"])
    trained = [f"{name}/{part}/complete.json" for name in ("reward_safety", "reward_helpful", "w_0.5")
               for part in ("adapter", "checkpoints/checkpoint-2")]  # each adapter's and its last checkpoint's
    assert written == sorted(["data/train.jsonl", "data/held.jsonl", "safety_labels/guard_predictions.jsonl",
                              "safety_labels/rows.jsonl", "safety_labels/summary.json", "margins.jsonl",
                              "answers/reference.jsonl", "answers/w_0.5.jsonl", "guard/answers_judged.jsonl",
                              "scores.jsonl", "front.json", "complete.json", *trained])
    assert sorted(Path(p).name for p in r0["curves"]) == ["reward_helpful", "reward_safety", "w_0.5"]
    assert [Path(p).name for p in r0["figures"]] == ["front.png"] and (out / "front.png").stat().st_size > 0
    train = (out / "data" / "train.jsonl").read_text().splitlines()
    assert len((out / "margins.jsonl").read_text().splitlines()) == len(train)
    assert len((out / "scores.jsonl").read_text().splitlines()) == 2 * 2  # (reference, w = 0.5) x 2 prompts
    for name in ("reward_safety", "reward_helpful", "w_0.5"):
        marker = json.loads((out / name / "adapter" / "complete.json").read_text())
        assert marker["processes"] == 2 and marker["global_step"] == 2
    stage = json.loads((out / "complete.json").read_text())
    assert stage["front"] == r0["figures_returned"]["front"] and [e["w"] for e in stage["front"]] == [0.5]
    assert json.loads((out / "front.json").read_text())["front"] == stage["front"]
    assert not list(run.rglob("*.partial"))


@pytest.mark.slow
def test_redteam_loop_in_two_processes(guarded, tmp_path):
    run, (r0, r1) = _launch("redteam", guarded, tmp_path)
    out = run / "redteam"
    stage = json.loads((out / "complete.json").read_text())
    it = stage["iterations"][0]
    kinds = ["sft"] + (["dpo"] if it["dpo"] else []) + (["sft"] if stage["hardening"].get("adapter") else [])
    _check_ranks(r0, r1, kinds)
    # these settings find failures and pairs on the twin (seeded): the proposer's DPO and the hardening both ran
    assert kinds == ["sft", "dpo", "sft"], f"no DPO or no hardening with these settings: {stage}"
    written = Counter(str(Path(p).relative_to(out)) for p in r0["writes"])
    for name in ("warmup/warmup_rows.jsonl", "warmup/adapter/complete.json", "iter_01/candidates.jsonl",
                 "iter_01/labelled.jsonl", "iter_01/pairs.jsonl", "iter_01/filtered.json",
                 "iter_01/dpo/adapter/complete.json", "iter_01/complete.json", "harden/heldout.jsonl",
                 "harden/before.jsonl", "harden/rows.jsonl", "harden/adapter/complete.json", "harden/after.jsonl",
                 "complete.json"):
        assert written[name] == 1, name
    for name in ("warmup", "iter_01/dpo", "harden"):
        assert json.loads((out / name / "adapter" / "complete.json").read_text())["processes"] == 2
    assert sorted(str(Path(p).relative_to(out)) for p in r0["curves"]) == ["harden", "iter_01/dpo", "warmup"]
    assert (out / "metrics.png").stat().st_size > 1000
    labelled = (out / "iter_01" / "labelled.jsonl").read_text().splitlines()
    assert it["kept"] == len(labelled) and it["candidates"] == 2 * 4
    assert it["kept"] + it["duplicates_dropped"] + it["empty"] == it["candidates"]
    assert not list(run.rglob("*.partial"))
