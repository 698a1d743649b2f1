"""Shared fixtures: the repo's bundled data, one CPU twin built per test session, and one short R-SFT of it per
session, trained into a pristine folder of which each test module gets its own copy (trained_run)."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
PRED_1B = SAMPLE / "predictions" / "guardreasoner-1b"

# The twin and other caches live in the checkout's own .cache (never the user's home) during tests.
os.environ.setdefault("GR_COLAB_CACHE", str(ROOT / ".cache" / "gr_colab"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def twin_config():
    from gr_colab.config import GRConfig

    return GRConfig.load("cpu-tiny")


@pytest.fixture(scope="session")
def twin(twin_config):
    """The CPU twin loaded for inference (base weights, no adapter)."""
    from gr_colab.models import load_model

    return load_model(twin_config, trainable=False)


def tree_digest(folder: Path) -> dict:
    """Every file under ``folder`` (relative path) and the SHA-256 of its bytes: equal digests, unchanged folders."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def pristine_run(tmp_path_factory):
    """A short R-SFT of the twin on the sample data, trained once per session into a folder no test writes to: the
    tests get their module's copy of it (``trained_run``). At the end of the session the folder must be as trained."""
    from gr_colab.config import GRConfig
    from gr_colab.pipeline import run_stage

    cfg = GRConfig.load("cpu-tiny", run_dir=str(tmp_path_factory.mktemp("pristine_run")),
                        eval_limit=2, mine_limit=24)
    run_stage(cfg, "prepare")
    run_stage(cfg, "rsft")
    digest = tree_digest(cfg.path)
    yield cfg
    if tree_digest(cfg.path) != digest:
        pytest.fail(f"a test wrote into the pristine trained run {cfg.path}: use the trained_run fixture's copy")


@pytest.fixture(scope="module")
def trained_run(pristine_run, tmp_path_factory):
    """This module's own copy of the trained run (prepare + R-SFT done): whatever its tests run on it (evaluation,
    export, mining, HS-DPO) stays in the copy, so what a module sees does not depend on which modules ran before."""
    copy = tmp_path_factory.mktemp("run") / "run"
    shutil.copytree(pristine_run.path, copy)
    cfg = pristine_run.replace(run_dir=str(copy))
    for text_file in [copy / "config.yaml", *copy.rglob("complete.json")]:  # paths recorded by the run: the copy's
        text = text_file.read_text()
        if str(pristine_run.path) in text:
            text_file.write_text(text.replace(str(pristine_run.path), str(copy)))
    return cfg
