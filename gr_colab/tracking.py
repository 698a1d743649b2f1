"""Live training curves: every trainer of the kit logs to trackio when ``report_to: trackio``.

Beside the config (it reads nothing else; trackio is imported only when it is used). trackio is Hugging Face's
local-first tracker: the Trainer's own ``TrackioCallback`` (transformers' ``integrations/integration_utils.py``)
logs each ``on_log`` of the Trainer to a SQLite file per project, and its dashboard reads that file. Why trackio and
not TensorBoard (docs/workshop.md): one ``tracking_space`` name sends every student's run to one Hugging Face Space
an instructor opens (TensorBoard has no shared place since tensorboard.dev closed), it shares the Gradio/Hub stack
the kit already uses, and it installs from PyPI and runs offline here.

Where the logs go: ``<run_dir>/trackio`` (on Colab the run folder is on Drive, so the curves survive a disconnect),
or, instead, the Space named by ``tracking_space`` (trackio logs to a Space in place of the local folder).
``training.finish`` still writes ``curves.csv``/``curves.png`` from the Trainer's ``log_history``, whatever this says.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Optional

FOLDER = "trackio"  # in the run folder


def local_dir(config) -> Path:
    """Where a run's trackio logs are kept on this machine."""
    return config.layout.root / FOLDER


def point_trackio_at(folder) -> Path:
    """Make trackio keep its files in ``folder``. trackio reads ``TRACKIO_DIR`` once, at import, into module
    constants (trackio 0.43.0, ``trackio/utils.py`` lines 205-213: ``TRACKIO_DIR``, ``MEDIA_DIR``, ``ARTIFACTS_DIR``;
    ``sqlite_storage.py`` and others import ``TRACKIO_DIR`` by name), so the variable is set for a trackio imported
    later, and the constants of a trackio already imported (a notebook's second run folder) are re-pointed."""
    folder = Path(folder).resolve()
    os.environ["TRACKIO_DIR"] = str(folder)
    targets = {"TRACKIO_DIR": folder, "MEDIA_DIR": folder / "media", "ARTIFACTS_DIR": folder / "artifacts"}
    for name, module in list(sys.modules.items()):
        if module is not None and (name == "trackio" or name.startswith("trackio.")):
            for attr, value in targets.items():
                if isinstance(getattr(module, attr, None), Path):
                    setattr(module, attr, value)
    return folder


def run_name(config, when: Optional[float] = None) -> str:
    """``<tracking_run or the run folder's name>-<date-time>``: each trainer a run of its own on the dashboard."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    return f"{config.tracking_run or Path(config.run_dir).name}-{stamp}"


def trainer_args(config) -> dict:
    """The Trainer arguments that choose where the curves go (``training.device_args`` spreads them in)."""
    if config.report_to == "none":
        return {"report_to": "none"}
    if importlib.util.find_spec("trackio") is None:
        raise ImportError("report_to is 'trackio' but trackio is not installed: pip install 'trackio==0.43.0' "
                          "(in requirements.txt), or set report_to: none")
    point_trackio_at(local_dir(config))
    # trackio_static_space_id=False: no frozen copy of the Space per run at the end (TrackioCallback._freeze_space)
    return {"report_to": "trackio", "project": config.tracking_project, "trackio_space_id": config.tracking_space,
            "trackio_static_space_id": False, "run_name": run_name(config)}


def logged(config, run: str) -> list[dict]:
    """What trackio stored for one run of this run folder: one dict a logging step (``train/loss``,
    ``train/global_step``, ...), read by trackio's own storage."""
    point_trackio_at(local_dir(config))
    from trackio.sqlite_storage import SQLiteStorage  # late import: trackio reads its folder when imported

    return SQLiteStorage.get_logs(config.tracking_project, run)


def runs(config) -> list[str]:
    """The runs of this run folder's trackio project, oldest first."""
    point_trackio_at(local_dir(config))
    from trackio.sqlite_storage import SQLiteStorage  # late import: trackio reads its folder when imported

    return SQLiteStorage.get_runs(config.tracking_project)


def dashboard(config, **kwargs):
    """The trackio dashboard of this run, inline in the notebook on Colab (``trackio.show``: in a notebook it embeds
    itself, and on Colab it defaults to a share link, which Colab's output frame can open); elsewhere a line saying
    how to open it (``trackio show``); with ``tracking_space``, the Space's address (the Space is the dashboard).
    ``kwargs`` go to ``trackio.show`` (the tests pass ``share=False``: no tunnel here). Returns what
    ``trackio.show`` returned (its app first: ``.close()`` stops it), or None."""
    from .runtime import in_colab

    if config.report_to == "none":
        print("report_to is 'none': the curves are in curves.png only. Set OVERRIDES = {'report_to': 'trackio'} "
              "in the config cell to watch them live.")
        return None
    if config.tracking_space:  # trackio then logs to the Space instead of the run folder: the Space is the dashboard
        print(f"curves are logged to the Space https://huggingface.co/spaces/{config.tracking_space} (project "
              f"{config.tracking_project!r}, this run: {config.tracking_run or config.path.name}-<date-time>): "
              "open it there")
        return None
    folder = point_trackio_at(local_dir(config))
    if not in_colab():
        print(f"curves are logged to {folder}; open them with: TRACKIO_DIR={folder} trackio show --project "
              f"{config.tracking_project}")
        return None
    import trackio  # late import: trackio reads its folder (point_trackio_at) when imported

    kwargs.setdefault("block_thread", False)
    kwargs.setdefault("open_browser", False)
    return trackio.show(project=config.tracking_project, **kwargs)
