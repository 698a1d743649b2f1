"""The Colab path, run here under a stand-in ``google.colab`` module: the install cell's commands, the ``auto``
preset, the Drive default, the saved config, a notebook refusing when its prerequisite is missing, Unsloth imported
first, llama.cpp installed by the export when absent. What cannot run here (pip on Colab, Drive, a GPU, compiling
llama.cpp) is replaced by named fakes that record what the kit asks of them."""
import os
import re
import subprocess
import sys
import types

import pytest

from conftest import ROOT
from gr_colab import colab
from gr_colab.config import GRConfig, resolve_preset


@pytest.fixture
def stand_in_colab(monkeypatch, tmp_path):
    """A stand-in ``google.colab`` (drive.mount records its calls; userdata has no secret) and Drive in tmp_path."""
    mounts = []
    google = types.ModuleType("google")
    module = types.ModuleType("google.colab")
    module.drive = types.SimpleNamespace(mount=lambda root: mounts.append(root))
    module.userdata = types.SimpleNamespace(get=lambda key: None)
    google.colab = module
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", module)
    monkeypatch.setattr(colab, "DRIVE_RUNS", str(tmp_path / "drive" / "MyDrive" / "gr-colab"))
    monkeypatch.setattr(colab, "LOCAL_RUNS", str(tmp_path / "content" / "runs"))
    monkeypatch.setattr(colab, "INSTALLED_MARKER", tmp_path / "content" / ".gr_colab_installed")
    (tmp_path / "content").mkdir()
    return mounts


def test_install_cell_keeps_colabs_torch_and_installs_unsloth_without_deps(stand_in_colab, capsys):
    from importlib import metadata

    ran = []  # a fake pip: records the commands (installing on this machine is not the point)
    commands = colab.install(run=ran.append)
    assert commands == ran and len(ran) == 3
    unsloth, rest, kit = ran
    assert unsloth[-3:] == ["--no-deps", "unsloth==2026.10.9", "unsloth_zoo==2026.10.9"] and "-q" in unsloth
    assert not any(re.match(r"torch\b", arg) for arg in rest), "torch is never in the install list"
    constraints = rest[rest.index("-c") + 1]
    assert open(constraints).read() == f"torch=={metadata.version('torch').split('+')[0]}\n"
    assert "trl==1.14.2" in rest and "transformers==5.17.0" in rest
    assert kit[-3:] == ["--no-deps", "-e", str(ROOT)]
    out = capsys.readouterr().out
    assert "keeping torch" in out and "versions: torch" in out
    assert colab.install(run=ran.append) == [] and len(ran) == 3  # once per session


def test_install_does_nothing_off_colab():
    assert colab.install(run=lambda cmd: pytest.fail("ran pip off Colab")) is None


def test_auto_preset_takes_the_fast_lane_on_a_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_preset("auto") == "t4-270m"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_preset("auto") == "cpu-tiny" and GRConfig.load("auto").preset == "cpu-tiny"
    assert resolve_preset("t4-1b") == "t4-1b"


def test_run_folder_defaults_to_drive_and_a_saved_config_is_reloaded(stand_in_colab, capsys):
    config, env = colab.start("auto", {"eval_limit": 3}, notebook="04_evaluation")
    assert stand_in_colab == [colab.DRIVE_ROOT]
    assert config.run_dir == f"{colab.DRIVE_RUNS}/cpu-tiny" and env.colab
    config.replace(max_new_tokens=77).to_yaml(config.path / "config.yaml")  # what notebook 03's prepare saves
    again, _ = colab.start("auto", {"eval_limit": 3}, notebook="04_evaluation")
    assert again.max_new_tokens == 77 and again.eval_limit == 3
    assert "reloaded this run's config" in capsys.readouterr().out


def test_drive_that_cannot_mount_gives_a_local_folder_and_a_warning(stand_in_colab, capsys):
    def refuse(root):
        raise RuntimeError("mount failed: user declined")

    run_dir = colab.drive_run_dir("t4-270m", mount=refuse)
    assert run_dir == f"{colab.LOCAL_RUNS}/t4-270m"
    out = capsys.readouterr().out
    assert "could not be mounted" in out and "a disconnect erases" in out


def test_a_notebook_refuses_when_its_prerequisite_stage_is_missing(tmp_path):
    with pytest.raises(colab.MissingStage, match=r"04_evaluation needs the rsft stage.*run notebooks/03_rsft.ipynb"):
        colab.start("cpu-tiny", {"run_dir": str(tmp_path)}, notebook="04_evaluation", needs=["rsft"])
    from gr_colab.runs import mark_complete

    mark_complete(tmp_path / "rsft")
    colab.start("cpu-tiny", {"run_dir": str(tmp_path)}, notebook="04_evaluation", needs=["rsft"])


@pytest.mark.slow
def test_notebook_04_opened_first_stops_on_one_line_naming_notebook_03(tmp_path):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(ROOT / "notebooks" / "04_evaluation.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError) as err:
        client.execute()
    assert "run notebooks/03_rsft.ipynb first" in str(err.value)
    assert not (tmp_path / "runs" / "cpu-tiny" / "rsft").exists()  # nothing was trained behind the student's back


def test_every_notebook_installs_from_the_one_repository_url():
    for py in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        urls = re.findall(r'KIT = "([^"]+)"', py.read_text())
        assert urls == [colab.REPO_URL], py.name
    readme = (ROOT / "README.md").read_text()
    slug = colab.REPO_URL.split("github.com/")[1]
    links = re.findall(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/", readme)
    assert links and set(links) == {slug}


def test_notebooks_ask_colab_for_a_t4():
    import nbformat

    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        meta = nbformat.read(path, as_version=4).metadata
        assert meta["colab"]["gpuType"] == "T4" and meta["accelerator"] == "GPU", path.name


def test_unsloth_is_imported_before_trl_and_transformers(tmp_path):
    """A stand-in ``unsloth`` package (the real one needs a GPU) records which libraries were already imported
    when the kit imported it."""
    pkg = tmp_path / "unsloth"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "import sys, json\n"
        "json.dump(sorted(m for m in ('trl', 'transformers', 'peft') if m in sys.modules),\n"
        "          open(sys.argv[0] if False else __file__ + '.seen', 'w'))\n")
    code = "import gr_colab; from gr_colab import hsdpo, pipeline; print('ok')"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (pkg / "__init__.py.seen").read_text() == "[]"  # nothing Unsloth patches was imported before it


def test_export_installs_llamacpp_when_it_is_missing_on_colab(stand_in_colab, monkeypatch, tmp_path):
    from gr_colab import llamacpp

    calls = []

    def fake_install(cmd, env):  # a fake for the 8-minute compile: lays out what the script would, records the call
        calls.append((cmd, env[llamacpp.ENV_VAR]))
        dest = tmp_path / "drive" / "MyDrive" / "gr-colab" / f"llama.cpp-{llamacpp.VERSION}"
        (dest / "gguf-py" / "gguf").mkdir(parents=True)
        (dest / llamacpp.CONVERTER).write_text("# stand-in")

    monkeypatch.setenv(llamacpp.ENV_VAR, "")  # unset for the kit, and restored after (ensure_tools sets it)
    monkeypatch.setattr(llamacpp, "REPO_ROOT", tmp_path / "no-checkout")  # no converter anywhere
    monkeypatch.chdir(tmp_path)
    (tmp_path / "drive" / "MyDrive").mkdir(parents=True)  # Drive is mounted
    monkeypatch.setattr("gr_colab.runtime.DRIVE_ROOT", str(tmp_path / "drive"))
    monkeypatch.setattr("gr_colab.runtime.DRIVE_RUNS", str(tmp_path / "drive" / "MyDrive" / "gr-colab"))
    script = llamacpp.ensure_tools(run=fake_install)
    (cmd, dest), = calls
    assert cmd[0] == "bash" and cmd[1].endswith("scripts/install_llamacpp.sh")
    assert dest.startswith(str(tmp_path / "drive" / "MyDrive")), "the build is kept on Drive"
    assert script == (tmp_path / "drive" / "MyDrive" / "gr-colab" / f"llama.cpp-{llamacpp.VERSION}" /
                      llamacpp.CONVERTER).resolve()
    assert os.environ[llamacpp.ENV_VAR] == dest


def test_export_off_colab_names_the_install_command(monkeypatch, tmp_path):
    from gr_colab import llamacpp

    monkeypatch.setenv(llamacpp.ENV_VAR, "")  # unset for the kit, and restored after (ensure_tools sets it)
    monkeypatch.setattr(llamacpp, "REPO_ROOT", tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="install_llamacpp.sh"):
        llamacpp.ensure_tools(run=lambda cmd, env: pytest.fail("installed off Colab"))


def test_every_t4_preset_fits_its_own_planner():
    from gr_colab.budget import plan_config, plan_export, plan_session

    for preset in ("t4-270m", "t4-1b", "t4-3b"):
        config = GRConfig.load(preset)
        for stage in ("rsft", "hsdpo"):
            plan = plan_config(config, stage=stage)
            assert plan.fits_memory, plan.summary()
            if preset == "t4-270m":
                assert not plan.warnings, plan.summary()
        assert plan_export(config).peak_gb < 12.7, preset  # Colab's RAM
    for preset in ("t4-270m", "t4-1b"):  # each notebook fits a session; the course (setup included) does not
        lines = plan_session(GRConfig.load(preset))
        assert not any("alone exceed" in line for line in lines) and any("session 2" in line for line in lines)


def test_stages_record_measured_time_and_memory(tmp_path):
    from gr_colab.pipeline import run_stage

    config = GRConfig.load("cpu-tiny", run_dir=str(tmp_path), train_limit=4)
    summary = run_stage(config, "prepare")
    assert summary["measured"]["seconds"] > 0 and summary["measured"]["peak_gb"] > 0.05
    assert summary["measured"]["memory"] == "process peak RSS"
