"""R-SFT and HS-DPO on the twin in 2 processes (gloo on the CPU, set up as accelerate's ``debug_launcher`` does),
against the same stage in 1 process at the same effective batch: world size 2 seen by the Trainer, a different shard on
each rank, the marker, adapter and report written by rank 0 only, HS-DPO's weights and SFT term in the loss on both
ranks, and the same losses and weights as the 1-process run (float tolerance).

Nothing here is faked: the real Trainer, accelerate and torch.distributed run; the spies below only record what the
kit's own functions were called with (in the forked workers) and call the real function.
"""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

EFFECTIVE = 4  # pairs / sequences per optimizer step, in both runs
PER_DEVICE = 2  # 1 process: 2 x 1 x 2 accumulation; 2 processes: 2 x 2 x 1


def _config(run_dir, **kw):
    from gr_colab.config import GRConfig

    return GRConfig.load("cpu-tiny", run_dir=str(run_dir), train_limit=6, max_seq_length=256, group_by_length=False,
                         rsft_batch_size=PER_DEVICE, rsft_effective_batch=EFFECTIVE, rsft_max_steps=2,
                         logging_steps=1, save_steps=100, hsdpo_batch_size=PER_DEVICE,
                         hsdpo_effective_batch=EFFECTIVE, hsdpo_max_steps=2, hsdpo_sft_weight=2.0, **kw)


def _pairs(rows: list) -> list:
    """Preference pairs from the prepared rows: the row's own trace chosen, another row's rejected, weights spread
    over [0.8, 1.2] so a dropped weight changes the loss."""
    n = 8
    return [{"input": rows[i]["input"], "instruction": rows[i].get("instruction"), "chosen": rows[i]["output"],
             "rejected": rows[(i + 1) % len(rows)]["output"], "sample_weight": 0.8 + 0.4 * i / (n - 1)}
            for i in range(n)]


def _worker(stage: str, run_dir: str, out_dir: str) -> None:
    """One rank of the 2-process run: the real stage and report, with spies recording what each rank did."""
    from gr_colab import dist, hsdpo, report, rsft, runs
    from gr_colab.pipeline import run_stage

    cfg = _config(run_dir)
    seen: dict = {"marker_writes": [], "report_writes": [], "losses": []}
    real_json, real_text = runs.atomic_write_json, report.atomic_write_text

    def marker_spy(path, data):
        seen["marker_writes"].append(str(path))
        return real_json(path, data)

    def report_spy(path, text):
        seen["report_writes"].append(str(path))
        return real_text(path, text)

    runs.atomic_write_json, report.atomic_write_text = marker_spy, report_spy
    if stage == "rsft":
        real_build = rsft.build_trainer

        def build_spy(*args, **kwargs):
            seen["trainer"] = real_build(*args, **kwargs)
            return seen["trainer"]

        rsft.build_trainer = build_spy
    else:
        real_loss, real_trainer = hsdpo.weighted_dpo_loss, hsdpo.WeightedDPOTrainer

        def loss_spy(*args, **kwargs):
            seen["losses"].append({"weights": [round(float(w), 6) for w in args[4]],
                                   "sft_weight": kwargs.get("sft_weight")})
            return real_loss(*args, **kwargs)

        class TrainerSpy(real_trainer):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                seen["trainer"] = self

        hsdpo.weighted_dpo_loss, hsdpo.WeightedDPOTrainer = loss_spy, TrainerSpy
    run_stage(cfg, stage)
    report.write_report(cfg)
    assert "trainer" in seen, f"{stage} built no trainer on rank {dist.rank()} (skipped? see its output)"
    trainer = seen.pop("trainer")
    first = next(iter(trainer.get_train_dataloader()))
    seen.update(rank=dist.rank(), world_size=trainer.args.world_size, parallel_mode=trainer.args.parallel_mode.value,
                accumulation=trainer.args.gradient_accumulation_steps,
                first_batch=first["input_ids"].tolist())
    Path(out_dir, f"rank{dist.rank()}.json").write_text(json.dumps(seen))


def _losses(stage_dir: Path) -> list:
    with (stage_dir / "curves.csv").open() as f:
        return [float(r["loss"]) for r in csv.DictReader(f) if r.get("loss")]


def _weights(adapter: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(adapter / "adapter_model.safetensors"))


def _two_processes(stage: str, run_dir: Path, out_dir: Path, worker=_worker) -> list:
    """accelerate's ``debug_launcher`` (MULTI_CPU on gloo, the rendezvous in a file, no port), with its workers
    started by spawn instead of fork: a process forked after torch ran its thread pool (any earlier test in this
    session) hangs in its first parallel op. ``worker(stage, run_dir, out_dir)`` (a module-level function: spawn
    pickles it by name) runs on each rank and writes ``out_dir/rank<r>.json``."""
    from accelerate.utils import patch_environment
    from accelerate.utils.launch import PrepareForLaunch
    from torch.multiprocessing import start_processes

    out_dir.mkdir()
    # the same environment accelerate.launchers.debug_launcher sets (accelerate 1.15, launchers.py:312-320)
    # (the rendezvous file in the test's folder: torch's FileStore deletes it when the processes are done)
    with patch_environment(world_size=2, master_addr="127.0.0.1", master_port="29500",
                           accelerate_mixed_precision="no", accelerate_debug_rdv_file=str(out_dir / "rendezvous"),
                           accelerate_use_cpu="yes", gloo_socket_ifname="lo"):
        start_processes(PrepareForLaunch(worker, debug=True), args=(stage, str(run_dir), str(out_dir)), nprocs=2,
                        start_method="spawn")
    return [json.loads((out_dir / f"rank{r}.json").read_text()) for r in (0, 1)]


def _check_launch(ranks: list, run_dir: Path, stage: str) -> None:
    r0, r1 = ranks
    assert (r0["rank"], r1["rank"]) == (0, 1)
    assert r0["world_size"] == r1["world_size"] == 2 and r0["parallel_mode"] == "distributed"
    assert r0["accumulation"] == 1  # the effective batch 4 reached by 2 per device x 2 processes
    assert r0["first_batch"] != r1["first_batch"]  # each rank trains on its own shard
    # rank 0 wrote the stage's and the adapter's markers and the report; rank 1 wrote none of them
    assert {Path(p).parent.name for p in r0["marker_writes"]} >= {stage, "adapter"}
    assert r1["marker_writes"] == [] and r1["report_writes"] == []
    assert sorted(Path(p).name for p in r0["report_writes"]) == ["report.html", "report.md"]
    marker = json.loads((run_dir / stage / "adapter" / "complete.json").read_text())
    assert marker["processes"] == 2
    assert not list(run_dir.rglob("*.partial"))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    from gr_colab.pipeline import run_stage

    run = tmp_path_factory.mktemp("dist") / "one"
    run_stage(_config(run), "prepare")
    return run


@pytest.mark.slow
def test_rsft_two_processes_match_one_process(prepared, tmp_path):
    from gr_colab.pipeline import run_stage

    two = tmp_path / "two"
    shutil.copytree(prepared / "prepare", two / "prepare")
    ranks = _two_processes("rsft", two, tmp_path / "ranks")
    _check_launch(ranks, two, "rsft")

    one = run_stage(_config(prepared), "rsft")  # the same stage in this process: 2 per device x 2 accumulation
    assert one["steps"] == 2
    l1, l2 = _losses(prepared / "rsft"), _losses(two / "rsft")
    assert len(l1) == len(l2) == 2
    assert l1 == pytest.approx(l2, rel=1e-4, abs=1e-5)
    w1, w2 = _weights(prepared / "rsft" / "adapter"), _weights(two / "rsft" / "adapter")
    assert w1.keys() == w2.keys()
    for name in w1:
        assert (w1[name] - w2[name]).abs().max().item() < 1e-4, name


@pytest.mark.slow
def test_hsdpo_two_processes_match_one_process(prepared, tmp_path):
    from gr_colab.pipeline import run_stage
    from gr_colab.runs import mark_complete
    from gr_colab.runtime import read_jsonl, write_jsonl

    if not (prepared / "rsft" / "complete.json").exists():
        run_stage(_config(prepared), "rsft")
    pairs = _pairs(read_jsonl(prepared / "prepare" / "train.jsonl"))
    runs = {}
    for name in ("one", "two"):
        runs[name] = tmp_path / name
        for part in ("prepare", "rsft"):
            shutil.copytree(prepared / part, runs[name] / part)
        write_jsonl(runs[name] / "mine" / "pairs.jsonl", pairs)
        # these pairs stand for a mining run: its marker, or HS-DPO would run mining first (pipeline._bring_inputs)
        mark_complete(runs[name] / "mine", {"stage": "mine", "pairs": len(pairs)})
    ranks = _two_processes("hsdpo", runs["two"], tmp_path / "ranks")
    _check_launch(ranks, runs["two"], "hsdpo")
    # every rank's loss saw its own pairs' weights and the SFT term
    by_rank = [[w for call in r["losses"] for w in call["weights"]] for r in ranks]
    expected = sorted(round(p["sample_weight"], 6) for p in pairs[:EFFECTIVE * 2])
    assert sorted(by_rank[0] + by_rank[1]) == pytest.approx(expected)
    assert set(by_rank[0]).isdisjoint(by_rank[1])
    assert all(call["sft_weight"] == 2.0 for r in ranks for call in r["losses"])

    run_stage(_config(runs["one"]), "hsdpo")
    l1, l2 = _losses(runs["one"] / "hsdpo"), _losses(runs["two"] / "hsdpo")
    assert len(l1) == len(l2) == 2
    assert l1 == pytest.approx(l2, rel=1e-4, abs=1e-5)
    w1, w2 = _weights(runs["one"] / "hsdpo" / "adapter"), _weights(runs["two"] / "hsdpo" / "adapter")
    for name in w1:
        assert (w1[name] - w2[name]).abs().max().item() < 1e-4, name


def test_effective_batch_follows_the_processes(monkeypatch, capsys):
    from gr_colab.training import grad_accum

    monkeypatch.setenv("WORLD_SIZE", "1")
    assert grad_accum(6, 16, None, "R-SFT") == 16  # no target: as set
    assert grad_accum(6, 16, 384, "R-SFT") == 64
    monkeypatch.setenv("WORLD_SIZE", "4")  # the paper's node: 6 x 4 x 16 = 384
    assert grad_accum(6, 1, 384, "R-SFT") == 16
    monkeypatch.setenv("WORLD_SIZE", "5")
    assert grad_accum(6, 1, 384, "R-SFT") == 13  # 390: rounded up, and said
    assert "effective batch 390, not the target 384" in capsys.readouterr().out


def test_only_the_main_process_writes_a_marker(monkeypatch, tmp_path):
    from gr_colab.runs import is_complete, mark_complete

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    info = mark_complete(tmp_path / "a", {"x": 1})
    assert info["x"] == 1 and not is_complete(tmp_path / "a")
    monkeypatch.setenv("RANK", "0")
    mark_complete(tmp_path / "a", {"x": 1})
    assert is_complete(tmp_path / "a")


@pytest.mark.slow
def test_the_rsft_command_under_torchrun_runs_in_two_processes(prepared, tmp_path):
    """`python -m gr_colab rsft` as a launcher starts it: ACCELERATE_USE_CPU=true torchrun --nproc_per_node 2 (what
    `accelerate launch --config_file configs/accelerate/multi_gpu.yaml` does on GPUs; on the CPU accelerate's own
    launcher starts one process, see docs/scale.md)."""
    import os
    import subprocess
    import sys

    run = tmp_path / "cli"
    shutil.copytree(prepared / "prepare", run / "prepare")
    sets = ["train_limit=6", "max_seq_length=256", "group_by_length=false", "rsft_batch_size=2",
            "rsft_effective_batch=4", "rsft_max_steps=1", "logging_steps=1", "save_steps=100"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "gr_colab",
           "rsft", "--preset", "cpu-tiny", "--run-dir", str(run)] + [a for s in sets for a in ("--set", s)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "effective batch 4 = 2 per device x 2 process(es) x 1 accumulation (distributed, MULTI_CPU)" in out.stdout
    assert out.stdout.count("effective batch") == 1  # printed by the main process only
    assert json.loads((run / "rsft" / "adapter" / "complete.json").read_text())["processes"] == 2
    assert json.loads((run / "rsft" / "complete.json").read_text())["steps"] == 1


@pytest.mark.parametrize("name,kind", [("multi_gpu", "MULTI_GPU"), ("deepspeed_zero2", "DEEPSPEED"),
                                       ("deepspeed_zero3", "DEEPSPEED"), ("fsdp", "FSDP")])
def test_the_accelerate_configs_load(root, name, kind):
    """Each file is one `accelerate launch --config_file` takes: accelerate's own loader reads it."""
    from accelerate.commands.config.config_args import load_config_from_file

    cfg = load_config_from_file(str(root / "configs" / "accelerate" / f"{name}.yaml"))
    assert cfg.distributed_type.value == kind and cfg.num_processes == 4 and str(cfg.mixed_precision) == "bf16"
    if name.startswith("deepspeed"):
        assert cfg.deepspeed_config["zero_stage"] == int(name[-1])
    if name == "fsdp":
        assert cfg.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"


@pytest.mark.slow
def test_a_full_fine_tune_under_deepspeed_zero3_with_the_repos_config(prepared, tmp_path, root):
    """`accelerate launch --config_file configs/accelerate/deepspeed_zero3.yaml -m gr_colab rsft` with finetune: full,
    on the CPU (DeepSpeed's CPU accelerator, gloo; its shared-memory op compiled on first use): ZeRO-3 sharding the
    twin over 2 processes, the gathered model written whole by the Trainer, read back by the next stage."""
    import os
    import subprocess
    import sys

    pytest.importorskip("deepspeed")
    from safetensors.torch import load_file

    from gr_colab.config import GRConfig
    from gr_colab.models import is_full_model, load_model, resolve_model_path

    run = tmp_path / "zero3"
    shutil.copytree(prepared / "prepare", run / "prepare")
    sets = ["finetune=full", "modules_to_save=[]", "train_limit=6", "max_seq_length=256", "group_by_length=false",
            "rsft_batch_size=2", "rsft_max_steps=2", "logging_steps=1", "save_steps=100"]
    accelerate = Path(sys.executable).with_name("accelerate")
    cmd = [str(accelerate), "launch", "--config_file", str(root / "configs" / "accelerate" / "deepspeed_zero3.yaml"),
           "--num_processes", "2", "--mixed_precision", "no", "-m", "gr_colab", "rsft", "--preset", "cpu-tiny",
           "--run-dir", str(run)] + [a for s in sets for a in ("--set", s)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                         env={**os.environ, "DS_ACCELERATOR": "cpu", "OMP_NUM_THREADS": "1",
                              # DeepSpeed compiles its shared-memory op once (a minute or two): kept in the checkout
                              "TORCH_EXTENSIONS_DIR": str(root / ".cache" / "torch_extensions")})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "effective batch 4 = 2 per device x 2 process(es) x 1 accumulation (distributed, DEEPSPEED ZeRO-3)" \
        in out.stdout
    folder = run / "rsft" / "adapter"
    assert is_full_model(folder) and json.loads((folder / "complete.json").read_text())["processes"] == 2
    trained = load_file(str(folder / "model.safetensors"))
    base = load_file(str(next(Path(resolve_model_path(GRConfig.load("cpu-tiny"))).glob("*.safetensors"))))
    # gathered, not ZeRO shards: every tensor whole; and trained: the weights moved
    assert {k: v.shape for k, v in trained.items()} == {k: v.shape for k, v in base.items() if k in trained}
    assert any((trained[k] - base[k]).abs().max() > 0 for k in trained)
    loaded = load_model(GRConfig.load("cpu-tiny", finetune="full"), adapter=folder, trainable=False)
    assert not hasattr(loaded.model, "peft_config") and loaded.model_path == str(folder)


def test_only_the_main_process_sets_aside_a_cut_off_checkpoint(monkeypatch, tmp_path):
    """Two ranks renaming one cut-off checkpoint would race: rank 1 waits and resumes from what rank 0 left."""
    from gr_colab import dist
    from gr_colab.runs import mark_complete
    from gr_colab.training import resume_point

    waits = []
    monkeypatch.setattr(dist, "wait_for_everyone", lambda: waits.append(dist.rank()))
    mark_complete(tmp_path / "checkpoint-2", {"global_step": 2})
    (tmp_path / "checkpoint-4").mkdir()  # cut off mid-save: no marker
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert resume_point(tmp_path).endswith("checkpoint-2")
    assert (tmp_path / "checkpoint-4").is_dir()  # rank 1 left it where it was
    monkeypatch.setenv("RANK", "0")
    assert resume_point(tmp_path).endswith("checkpoint-2")
    assert not (tmp_path / "checkpoint-4").exists() and (tmp_path / "checkpoint-4.incomplete").is_dir()
    assert waits == [1, 0]  # each rank waited before reading the checkpoints
