"""Live curves with trackio: the config field reaches the Trainer's arguments, a CPU run of the twin logs to a folder
in its run folder, and the loss trackio stored is the Trainer's own (its log_history); the dashboard cell's Colab
branch serves the real trackio dashboard under the stand-in ``google.colab`` (without the share tunnel: no
internet here)."""
from __future__ import annotations

import csv
import sys
import types

import pytest

from gr_colab import tracking
from gr_colab.config import ConfigError, GRConfig
from gr_colab.training import device_args

pytest.importorskip("trackio")


def test_report_to_reaches_the_trainer_arguments(tmp_path):
    assert device_args(GRConfig.load("cpu-tiny"), "cpu")["report_to"] == "none"
    config = GRConfig.load("cpu-tiny", run_dir=str(tmp_path / "run"), report_to="trackio",
                           tracking_space="class-org/workshop-curves", tracking_run="alice")
    args = device_args(config, "cpu")
    assert args["report_to"] == "trackio" and args["project"] == "gr-colab"
    assert args["trackio_space_id"] == "class-org/workshop-curves" and args["trackio_static_space_id"] is False
    assert args["run_name"].startswith("alice-")
    from trl import SFTConfig  # the arguments are ones TRL's config takes

    sft = SFTConfig(output_dir=str(tmp_path / "out"), **args)
    assert sft.report_to == ["trackio"] and sft.project == "gr-colab"
    with pytest.raises(ConfigError, match="report_to"):
        GRConfig.load("cpu-tiny", report_to="wandb")


def test_point_trackio_at_repoints_an_imported_trackio(tmp_path):
    import trackio.sqlite_storage
    import trackio.utils

    folder = tracking.point_trackio_at(tmp_path / "a")
    assert trackio.utils.TRACKIO_DIR == folder == trackio.sqlite_storage.TRACKIO_DIR
    assert trackio.utils.MEDIA_DIR == folder / "media"
    assert trackio.sqlite_storage.SQLiteStorage.get_project_db_path("p").parent == folder


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory):
    """R-SFT of the twin, a few steps, logging every step to trackio in the run folder."""
    from gr_colab.pipeline import run_stage

    config = GRConfig.load("cpu-tiny", run_dir=str(tmp_path_factory.mktemp("tracked")), report_to="trackio",
                           rsft_max_steps=4, logging_steps=1, save_steps=100, eval_limit=2, rsft_batch_size=1,
                           max_seq_length=256, train_limit=4)
    run_stage(config, "prepare")
    run_stage(config, "rsft")
    return config


@pytest.mark.slow
def test_the_loss_trackio_logged_is_the_trainers(tracked_run):
    config = tracked_run
    assert (config.path / "trackio").is_dir()
    runs = tracking.runs(config)
    assert len(runs) == 1 and runs[0].startswith(config.path.name + "-")
    logged = tracking.logged(config, runs[0])
    from_trackio = {int(row["train/global_step"]): row["train/loss"] for row in logged if "train/loss" in row}
    with (config.path / "rsft" / "curves.csv").open() as f:  # training.finish: the Trainer's log_history
        from_trainer = {int(float(r["step"])): float(r["loss"]) for r in csv.DictReader(f) if r.get("loss")}
    assert len(from_trainer) == 4 and sorted(from_trackio) == sorted(from_trainer)
    for step, loss in from_trainer.items():
        assert from_trackio[step] == pytest.approx(loss, rel=1e-6), step


@pytest.fixture
def stand_in_colab(monkeypatch):
    """The stand-in ``google.colab`` of tests/test_colab.py: the kit's in_colab() sees Colab."""
    google = types.ModuleType("google")
    module = types.ModuleType("google.colab")
    google.colab = module
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", module)


@pytest.mark.slow
def test_the_dashboard_cell_serves_the_runs_on_colab(tracked_run, stand_in_colab):
    import httpx

    shown = tracking.dashboard(tracked_run, share=False)  # on Colab trackio shares by default; no tunnel here
    app, local_url = shown[0], shown[1]
    try:
        page = httpx.get(local_url, timeout=30)
        assert page.status_code == 200 and "<html" in page.text.lower()
        # what the dashboard's page asks its server for (trackio/asgi_app.py: POST /api/{name}): this run's project
        # and its one run, read from <run_dir>/trackio
        api = local_url.rstrip("/") + "/api/"
        projects = httpx.post(api + "get_all_projects", json={}, timeout=30).json()["data"]
        assert projects == ["gr-colab"]
        runs = httpx.post(api + "get_runs_for_project", json={"project": "gr-colab"}, timeout=30).json()["data"]
        assert [r["name"] for r in runs] == tracking.runs(tracked_run)
    finally:
        app.close()


def test_the_dashboard_cell_off_colab_says_where_the_logs_are(tmp_path, capsys):
    config = GRConfig.load("cpu-tiny", run_dir=str(tmp_path / "run"), report_to="trackio")
    assert tracking.dashboard(config) is None
    out = capsys.readouterr().out
    assert f"TRACKIO_DIR={(tmp_path / 'run' / 'trackio').resolve()} trackio show --project gr-colab" in out
    assert tracking.dashboard(config.replace(report_to="none")) is None
    assert "report_to" in capsys.readouterr().out
    assert tracking.dashboard(config.replace(tracking_space="class-org/curves", tracking_run="alice")) is None
    out = capsys.readouterr().out
    assert "https://huggingface.co/spaces/class-org/curves" in out and "alice-<date-time>" in out
