"""The course as a student takes it on free Colab (tests/colab_world.py): notebooks 00 → 07, then 08 and 09, each
in a fresh kernel as a fresh runtime: the stand-in ``google.colab`` (Drive, secrets, Colab's kernel), a Drive that
persists, ``/content`` and the scratch folder wiped between notebooks, no install marker, every exercise checked
unanswered and with its own Solution. Then Drive refused, a prerequisite missing, and a runtime killed during
R-SFT and during HS-DPO and reopened: it resumes, and the adapter equals the uninterrupted run's.

``GR_COLAB_WORLD_KIT`` points the runtimes at another checkout (e.g. the code before a change) instead of this one.
"""
import os
import shutil
from pathlib import Path

import pytest
from colab_world import World
from conftest import ROOT

pytestmark = pytest.mark.slow

KIT = Path(os.environ.get("GR_COLAB_WORLD_KIT") or ROOT)
CHAIN = ["00_setup", "01_data_and_prompts", "02_synthesis", "03_rsft", "04_evaluation", "05_mining", "06_hsdpo",
         "07_export", "08_redteam", "09_modpo", "99_workshop"]  # the workshop shares the chain's Drive
OVERRIDES = {"eval_limit": 2, "mine_limit": 24}  # the twin's preset (PRESET "auto" without a GPU), fewer items
PRESET_DIR = "cpu-tiny"
SNAPSHOTS: dict = {}  # Drive as the chain left it before a notebook: the kill tests start from there


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("colab_world"), KIT, OVERRIDES)


def _setup_copies_from_drive(name: str) -> bool:
    """Whether the notebook's setup cell takes a kit copy on Drive wherever Drive is mounted (not only /content)."""
    return '"/drive/MyDrive/" in KIT' in (KIT / "notebooks" / f"{name}.py").read_text()


def _adapter(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_the_course_runs_notebook_by_notebook_each_in_a_new_runtime(world, tmp_path_factory):
    snapshots = tmp_path_factory.mktemp("drive_snapshots")
    problems = []  # what is wrong but lets the chain go on (an error in a notebook stops it: the next needs its files)
    for name in CHAIN:
        if name in ("03_rsft", "06_hsdpo"):
            SNAPSHOTS[name] = shutil.copytree(world.drive_store, snapshots / name, symlinks=True)
        pip_before = world.pip_log.read_text().count("\n") if world.pip_log.exists() else 0
        kit = None
        if name == "01_data_and_prompts" and _setup_copies_from_drive(name):  # the setup cell's other branch
            copy = world.drive_store / "gr-colab-src"
            if not copy.exists():
                shutil.copytree(world.repo, copy, ignore=shutil.ignore_patterns(".git"))
            kit = str(world.content / "drive" / "MyDrive" / "gr-colab-src")
        run = world.run(name, kit=kit)
        assert run.error is None, f"{name} stopped after {run.seconds:.0f} s: {run.errors or run.error}"
        text = run.text
        expected = {"the one-runtime note": "This notebook is its own Colab runtime" in text,  # start()'s Colab branch
                    "Drive mounted": "Mounted at" in text or "Drive already mounted" in text,
                    "the unanswered check": "Not answered yet" in text,
                    "the Solution accepted": text.count("✅ Correct!") == 1}
        pip = world.pip_log.read_text().splitlines()[pip_before:]
        expected["the install (pip)"] = len(pip) >= 3 and any("--no-deps" in c and "unsloth" in c for c in pip)
        problems += [f"{name}: {what}" for what, ok in expected.items() if not ok]
    run_dir = world.drive_runs / PRESET_DIR
    for stage in ("prepare", "rsft", "eval", "mine", "hsdpo", "export", "redteam", "modpo"):
        assert (run_dir / stage / "complete.json").is_file(), f"{stage} did not reach Drive"
    assert not (world.root / "content" / "runs").exists()  # nothing was left on a runtime's own disk
    fakes = world.fake_log.read_text()
    assert "ollama.com/install.sh" in fakes  # notebook 07 installed Ollama the Colab way
    assert not problems, problems


def test_drive_refused_stops_and_a_missing_prerequisite_says_where_it_looked(tmp_path):
    w = World(tmp_path, KIT, OVERRIDES)
    refused = w.run("00_setup", drive="refuse", answers=False)
    assert refused.error is not None, "the notebook went on without Drive"
    text = refused.text
    assert "credential propagation was unsuccessful" in text and "accept" in text and "run_dir" in text
    assert not list(w.content.glob("runs/*")), "a run folder was made on the runtime's own disk"

    local = str(w.content / "runs" / PRESET_DIR)  # the student chose the runtime's disk, knowingly
    missing = w.run("04_evaluation", answers=False, extra_overrides={"run_dir": local})
    assert missing.error is not None
    text = missing.text
    assert "run notebooks/03_rsft.ipynb first" in text and f"looked for {local}/rsft/complete.json" in text
    assert "Drive is NOT mounted" in text and "runtime's own disk" in text

    accepted = w.run("00_setup", answers=False, fresh=False)  # the same runtime: the cell run again, prompt accepted
    assert accepted.error is None, accepted.errors
    assert "Mounted at" in accepted.text and (w.drive_runs / PRESET_DIR).is_dir()


@pytest.mark.parametrize("notebook,stage,save_steps", [("03_rsft", "rsft", 20), ("06_hsdpo", "hsdpo", 1)])
def test_a_runtime_killed_during_training_resumes_in_the_next(world, tmp_path, notebook, stage, save_steps):
    if notebook not in SNAPSHOTS or not (world.drive_runs / PRESET_DIR / stage / "adapter").is_dir():
        pytest.fail("the chain test did not reach this notebook: it gives the uninterrupted run")
    w = World(tmp_path, KIT, OVERRIDES)
    shutil.copytree(SNAPSHOTS[notebook], w.drive_store, symlinks=True, dirs_exist_ok=True)
    out = w.drive_runs / PRESET_DIR / stage
    ckpts = out / "checkpoints"

    def saved_one(_):
        return any((p / "complete.json").is_file() for p in ckpts.glob("checkpoint-*"))

    killed = w.run(notebook, answers=False, extra_overrides={"save_steps": save_steps}, while_running=saved_one)
    assert killed.error is not None and saved_one(w), "the runtime was not killed during training"
    assert not (out / "adapter" / "complete.json").exists(), "the kill came after training"

    reopened = w.run(notebook, answers=False, extra_overrides={"save_steps": save_steps})
    assert reopened.error is None, reopened.errors
    # the runtime prints the path as it sees it (the Drive mount, /content/drive/MyDrive/...), not the store behind it
    seen = f"/drive/MyDrive/{ckpts.relative_to(w.drive_store)}/checkpoint-"
    assert "resuming from " in reopened.text and seen in reopened.text, "the new runtime did not resume"
    import torch

    a, b = _adapter(world.drive_runs / PRESET_DIR / stage / "adapter"), _adapter(out / "adapter")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
