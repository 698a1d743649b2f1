"""Invalidation users can trust, on the CPU twin with tiny limits: an unchanged config skips, a changed field or a
redone input runs a stage again (saying why) from fresh files, --force clears what a stage resumes from, and a stage
without its inputs runs them first."""
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

from gr_colab.runs import MARKER, fingerprint, read_marker

TINY = dict(rsft_max_steps=2, max_new_tokens=24, mine_limit=4, mine_k=2, eval_limit=1, holdout_check_limit=2,
            hsdpo_max_steps=1, eval_benchmarks=["SimpleSafetyTests"])


@pytest.fixture
def tiny(tmp_path):
    from gr_colab.config import GRConfig

    return GRConfig.load("cpu-tiny", run_dir=str(tmp_path / "run"), **TINY)


def test_the_registry_is_the_one_list_every_face_reads():
    from gr_colab import colab, pipeline, planner, stages
    from gr_colab.cli import build_parser

    assert pipeline.STAGES == stages.NAMES and stages.RUN_ORDER[:3] == ("prepare", "rsft", "eval")
    assert stages.RUN_ORDER.count("eval") == 2 and stages.RUN_ORDER.index("eval", 3) > stages.RUN_ORDER.index("hsdpo")
    assert colab.MADE_BY["mine"] == "05_mining" and colab.PLANNED["06"] == "06 HS-DPO"
    assert [name for name, _ in planner.plan_parts(__import__("gr_colab.config").config.GRConfig.load("t4-270m"))] \
        == list(colab.PLANNED.values())
    commands = build_parser()._subparsers._group_actions[0].choices
    assert set(stages.NAMES) <= set(commands)
    assert stages.dependants("rsft") == ["eval", "mine", "hsdpo", "export", "push"]


@pytest.mark.slow
def test_a_changed_field_or_a_redone_input_runs_again_and_unchanged_skips(tiny, capsys):
    from gr_colab.pipeline import run_stage

    layout = tiny.layout
    run_stage(tiny, "hsdpo")  # needs rsft and mine, which need prepare: all run first, saying so
    out = capsys.readouterr().out
    assert "hsdpo needs rsft: running rsft first" in out and "rsft needs prepare: running prepare first" in out
    marker = read_marker(layout.stage("mine"))
    assert marker["fields"]["mine_temperature"] == 1.0 and marker["inputs"]["rsft"] == fingerprint(layout.stage("rsft"))
    samples = layout.samples.read_text()
    first = {s: fingerprint(layout.stage(s)) for s in ("prepare", "rsft", "mine", "hsdpo")}

    run_stage(tiny, "hsdpo")  # unchanged: everything skips
    out = capsys.readouterr().out
    assert "== hsdpo: already complete, skipped" in out and "running" not in out
    assert {s: fingerprint(layout.stage(s)) for s in first} == first

    hotter = tiny.replace(mine_temperature=0.3)  # new samples, then a new HS-DPO
    run_stage(hotter, "hsdpo")
    out = capsys.readouterr().out
    assert "mine_temperature changed from 1.0 to 0.3" in out and "cleared mine/samples" in out
    assert "mine was redone" in out  # HS-DPO says why it runs again
    assert layout.samples.read_text() != samples
    assert read_marker(layout.stage("mine"))["fields"]["mine_temperature"] == 0.3
    assert fingerprint(layout.stage("hsdpo")) != first["hsdpo"]
    assert fingerprint(layout.stage("rsft")) == first["rsft"]  # untouched upstream

    run_stage(hotter, "mine", force=True)
    assert "--force: running it again (cleared mine/samples" in capsys.readouterr().out


@pytest.mark.slow
def test_a_retrained_rsft_gets_new_scores_and_base_is_kept(tiny, capsys):
    from gr_colab.pipeline import run_stage

    layout = tiny.layout
    run_stage(tiny, "rsft")
    run_stage(tiny, "eval")
    base_scored = read_marker(layout.eval_dir("base"))
    assert read_marker(layout.eval_dir("rsft"))["input"] == fingerprint(layout.stage("rsft"))
    run_stage(tiny, "eval")
    assert "eval: already complete, skipped" in capsys.readouterr().out

    longer = tiny.replace(rsft_max_steps=3)
    run_stage(longer, "rsft")
    out = capsys.readouterr().out
    assert "rsft_max_steps changed from 2 to 3" in out and "cleared rsft/checkpoints" in out
    assert "rsft ran again: eval read it and will run again when asked" in out
    run_stage(longer, "eval")
    out = capsys.readouterr().out
    assert "rsft was redone" in out and "rsft was retrained since it was scored" in out
    assert read_marker(layout.eval_dir("rsft"))["input"] == fingerprint(layout.stage("rsft"))
    assert read_marker(layout.eval_dir("base")) == base_scored  # base did not change: not scored again
    assert read_marker(layout.stage("eval"))["variants"]["rsft"] == read_marker(layout.eval_dir("rsft"))["scores"]


@pytest.mark.slow
def test_readme_example_rsft_on_a_fresh_run_folder_runs_prepare_first(tmp_path):
    """`gr-colab rsft --preset cpu-tiny --set rsft_max_steps=2` on a fresh run folder: prepare first, no traceback."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    r = subprocess.run([sys.executable, "-m", "gr_colab", "rsft", "--preset", "cpu-tiny", "--set", "rsft_max_steps=2",
                        "--run-dir", str(tmp_path / "run")], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "rsft needs prepare: running prepare first" in r.stdout
    for stage in ("prepare", "rsft"):
        assert (tmp_path / "run" / stage / MARKER).exists()
    assert json.loads((tmp_path / "run" / "rsft" / MARKER).read_text())["steps"] == 2
