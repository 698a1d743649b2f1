"""Shared fixtures: the repo's bundled data, and one CPU twin built per test session."""
from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A short R-SFT of the twin on the sample data, shared by the export, mining and HS-DPO tests."""
    from gr_colab.config import GRConfig
    from gr_colab.pipeline import run_stage

    cfg = GRConfig.load("cpu-tiny", run_dir=str(tmp_path_factory.mktemp("run")),
                        eval_limit=2, mine_limit=24)
    run_stage(cfg, "prepare")
    run_stage(cfg, "rsft")
    return cfg
