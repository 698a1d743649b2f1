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

from gr_colab import colab, runtime
from gr_colab.config import GRConfig, resolve_preset


@pytest.fixture
def stand_in_colab(monkeypatch, tmp_path):
    """A stand-in ``google.colab`` (drive.mount records its calls and makes ``MyDrive``, as the real one; userdata
    has no secret) and Colab's /content, Drive included, in tmp_path."""
    mounts = []
    content = tmp_path / "content"

    def mount(root):
        mounts.append(root)
        os.makedirs(os.path.join(root, "MyDrive"), exist_ok=True)

    google = types.ModuleType("google")
    module = types.ModuleType("google.colab")
    module.drive = types.SimpleNamespace(mount=mount)
    module.userdata = types.SimpleNamespace(get=lambda key: None)
    google.colab = module
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", module)
    for mod in (colab, runtime):  # what GR_COLAB_CONTENT would give, set after import
        monkeypatch.setattr(mod, "DRIVE_ROOT", str(content / "drive"))
        monkeypatch.setattr(mod, "DRIVE_RUNS", str(content / "drive" / "MyDrive" / "gr-colab"))
        monkeypatch.setattr(mod, "LOCAL_RUNS", str(content / "runs"))
    monkeypatch.setattr(colab, "INSTALLED_MARKER", content / ".gr_colab_installed")
    content.mkdir()
    return mounts


def test_install_cell_keeps_colabs_torch_and_installs_unsloth_without_deps(stand_in_colab, capsys):
    from importlib import metadata

    ran = []  # a fake pip: records the commands (installing on this machine is not the point)
    commands = colab.install(run=ran.append)
    assert commands == ran and len(ran) == 3 + len(colab.UNSLOTH_EXTRAS)
    unsloth, rest, *extras, kit = ran
    assert unsloth[-3:] == ["--no-deps", "unsloth==2026.10.9", "unsloth_zoo==2026.10.9"] and "-q" in unsloth
    assert not any(re.match(r"torch\b", arg) for arg in rest), "torch is never in the install list"
    constraints = rest[rest.index("-c") + 1]
    assert open(constraints).read() == f"torch=={metadata.version('torch').split('+')[0]}\n"
    assert "trl==1.14.2" in rest and "transformers==5.17.0" in rest
    for cmd, extra in zip(extras, colab.UNSLOTH_EXTRAS):  # each against Colab's torch (the same constraints)
        assert cmd[-1] == extra and cmd[cmd.index("-c") + 1] == constraints
    assert kit[-3:] == ["--no-deps", "-e", str(ROOT)]
    out = capsys.readouterr().out
    assert "keeping torch" in out and "versions: torch" in out and "Restart session" not in out
    assert colab.install(run=ran.append) == [] and len(ran) == 3 + len(colab.UNSLOTH_EXTRAS)  # once per session


def test_the_torch_range_is_read_from_unsloths_own_metadata():
    from importlib import metadata

    declared = colab.unsloth_torch_range()
    assert declared and all(f"torch{spec}" in " ".join(metadata.requires("unsloth")).replace(" ", "")
                            or spec in " ".join(metadata.requires("unsloth")) for spec in declared.split(",")[:1])
    from packaging.specifiers import SpecifierSet

    assert "2.13.0" in SpecifierSet(declared) and "2.15.0" not in SpecifierSet(declared)


def test_install_stops_when_colabs_torch_is_outside_unslothss_range(stand_in_colab, monkeypatch):
    real_version = colab._version
    monkeypatch.setattr(colab, "_version", lambda n: "2.15.0+cu126" if n == "torch" else real_version(n))
    ran = []
    with pytest.raises(colab.TorchOutOfRange) as stop:
        colab.install(run=ran.append)
    message = str(stop.value)
    assert "torch 2.15.0 is outside the range the pinned Unsloth declares (torch " in message
    assert "<2.15.0" in message and "Runtime version" in message and "Restart session" in message
    assert len(ran) == 1 and "unsloth==2026.10.9" in ran[0]  # stopped before the rest of the install
    assert not colab.INSTALLED_MARKER.exists()


def test_an_extra_without_a_build_is_named_and_the_install_goes_on(stand_in_colab, capsys):
    def pip(cmd):  # a fake pip that finds no xformers wheel for this torch, as pip does with a constraints file
        if cmd[-1] == "xformers":
            raise subprocess.CalledProcessError(1, cmd)

    commands = colab.install(run=pip)
    assert commands[-1][-3:] == ["--no-deps", "-e", str(ROOT)]
    out = capsys.readouterr().out
    assert "⚠ xformers: no build for torch" in out and "SDPA" in out and "cut_cross_entropy" not in out


def test_the_install_says_once_to_restart_when_it_replaced_an_imported_package(stand_in_colab, monkeypatch, capsys):
    import transformers  # noqa: F401  (imported by the kernel before the install, as a notebook might)

    versions = {"transformers": "5.16.0"}
    real_version = colab._version
    monkeypatch.setattr(colab, "_version", lambda n: versions.get(n) or real_version(n))

    def pip(cmd):
        if "transformers==5.17.0" in cmd:
            versions["transformers"] = "5.17.0"  # what pip did to the installed distribution

    colab.install(run=pip)
    out = capsys.readouterr().out
    assert out.count("Restart session") == 1 and "the install replaced transformers" in out


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


def test_drive_that_cannot_mount_stops_with_what_to_do_and_never_falls_back(stand_in_colab, tmp_path):
    def refuse(root):  # what the real mount raises when its pop-up is refused (google.colab._message.MessageError)
        raise RuntimeError("Error: credential propagation was unsuccessful")

    with pytest.raises(colab.DriveNotMounted) as stop:
        colab.drive_run_dir("t4-270m", mount=refuse)
    text = str(stop.value)
    assert "credential propagation was unsuccessful" in text and "nothing was written" in text
    assert "Run this cell again and accept Drive's prompt" in text and '"run_dir"' in text
    assert not (tmp_path / "content" / "runs").exists()


def test_start_mounts_drive_for_a_run_dir_on_drive_and_not_for_a_local_one(stand_in_colab, tmp_path):
    own = f"{colab.DRIVE_ROOT}/MyDrive/elsewhere"
    config, _ = colab.start("cpu-tiny", {"run_dir": own})  # a Drive folder of the student's choice: mounted too
    assert stand_in_colab == [colab.DRIVE_ROOT] and config.run_dir == own
    local = str(tmp_path / "content" / "runs" / "mine")
    config, _ = colab.start("cpu-tiny", {"run_dir": local})  # chosen knowingly: no mount, no stop
    assert config.run_dir == local and len(stand_in_colab) == 1


def test_a_missing_prerequisite_on_colab_names_the_folder_and_the_drive(stand_in_colab, tmp_path):
    local = str(tmp_path / "content" / "runs" / "cpu-tiny")
    with pytest.raises(colab.MissingStage) as stop:
        colab.start("cpu-tiny", {"run_dir": local}, notebook="04_evaluation", needs=["rsft"])
    text = str(stop.value)
    assert f"looked for {local}/rsft/complete.json" in text and "Drive is NOT mounted" in text
    assert "this runtime's own disk" in text
    with pytest.raises(colab.MissingStage) as stop:
        colab.start("cpu-tiny", {}, notebook="04_evaluation", needs=["rsft"])
    assert "Drive is mounted" in str(stop.value) and "the run folder is on Drive" in str(stop.value)


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


def test_unsloth_is_imported_before_trl_and_transformers_on_colab_with_a_gpu_only(tmp_path):
    """A stand-in ``unsloth`` package records which libraries were already imported when the kit imported it. On
    Colab with a GPU (stand-in ``google.colab``, torch's ``is_available`` answering True) it comes first; off Colab,
    or without a GPU, it is never imported (the real one would load its CPU backend and patch TRL)."""
    pkg = tmp_path / "unsloth"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "import sys, json\n"
        "json.dump(sorted(m for m in ('trl', 'transformers', 'peft') if m in sys.modules),\n"
        "          open(__file__ + '.seen', 'w'))\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    # bitsandbytes picks its backend at import: imported before the pretend GPU, as it would find a real one
    colab_gpu = ("import sys, types, torch, bitsandbytes, importlib.machinery as m; "
                 "g = types.ModuleType('google.colab'); "
                 "g.__spec__ = m.ModuleSpec('google.colab', None); sys.modules['google.colab'] = g; "
                 "torch.cuda.is_available = lambda: True; ")
    for prefix, imported in (("", False), (colab_gpu.replace("lambda: True", "lambda: False"), False),
                             (colab_gpu, True)):
        (pkg / "__init__.py.seen").unlink(missing_ok=True)
        code = prefix + "import gr_colab; from gr_colab import hsdpo, pipeline; print('ok')"
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        assert (pkg / "__init__.py.seen").exists() == imported, prefix
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
    from gr_colab.planner import plan_config, plan_export, plan_session

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
