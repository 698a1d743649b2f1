"""The first cell of every notebook: where am I, what GPU, where do files go, and the Hub token.

Face helper. On Colab: installs the kit as Unsloth's notebooks do (:func:`install`), puts the run folder on Drive
(so a disconnect keeps checkpoints), reloads the run's saved config, refuses a notebook whose prerequisite stage is
missing (:func:`start`), reads the ``HF_TOKEN`` secret into the environment for ``huggingface_hub`` (never
printing it), and says which GPU there is. Elsewhere it only reports. Every Colab branch runs in the tests under a
stand-in ``google.colab`` module.
"""
from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .runtime import CONTENT, DRIVE_ROOT, DRIVE_RUNS, LOCAL_RUNS, REPO_ROOT, in_colab, on_drive  # noqa: F401 (re-exported)
from .stages import STAGES, planned_notebooks

REPO_URL = "https://github.com/gr-colab/gr-colab"  # the kit's repository: notebooks, README and install read this
INSTALLED_MARKER = Path(CONTENT) / ".gr_colab_installed"  # one install per Colab session (runtime)
ONE_RUNTIME = ("This notebook is its own Colab runtime (its own VM, install, Drive prompt and T4): disconnect the "
               "previous notebook's (Runtime > Disconnect and delete runtime) so it does not hold a GPU; the run "
               "folder on Drive carries the work from one to the next.")
# Stage → the notebook that makes it (a notebook opened in a fresh runtime names the one to run first), and the
# planner's name for each notebook that trains, generates or exports: both read from the stage registry.
MADE_BY = {s.name: s.notebook for s in STAGES}
PLANNED = planned_notebooks()
CHAPTERS = ("08", "09")  # red-teaming (ReverseGen) and MODPO
WORKSHOP = "99"  # notebooks/99_workshop: 00 → 07's stages in one runtime


@dataclass
class Environment:
    colab: bool
    device: str
    gpu: Optional[str]
    gpu_memory_gb: Optional[float]
    bf16: bool
    hub_token: bool  # whether a token is available (the token itself is never kept here)
    run_dir: str

    def describe(self) -> str:
        where = "Colab" if self.colab else "local machine"
        gpu = f"{self.gpu} ({self.gpu_memory_gb:.1f} GB, bf16 {'yes' if self.bf16 else 'no: fp16'})" if self.gpu \
            else "no GPU: the CPU twin runs everything, slowly but faithfully"
        return (f"{where}; {gpu}; Hugging Face token: {'found' if self.hub_token else 'not set'}; "
                f"run folder: {self.run_dir}")


def setup(config, mount_drive: bool = True) -> Environment:
    """Prepare the session for ``config``; prints what it found (bf16 counts only in hardware: a T4 emulates it, and
    torch's ``is_bf16_supported()`` says True there) and returns it."""
    import torch

    from .precision import gpu_capability, native_bf16

    if in_colab() and mount_drive and str(config.run_dir).startswith(DRIVE_ROOT):
        from google.colab import drive  # type: ignore

        drive.mount(DRIVE_ROOT)
    token_found = load_hub_token()
    cuda = torch.cuda.is_available()
    env = Environment(
        colab=in_colab(), device="cuda" if cuda else "cpu",
        gpu=torch.cuda.get_device_name(0) if cuda else None,
        gpu_memory_gb=torch.cuda.get_device_properties(0).total_memory / 1e9 if cuda else None,
        bf16=native_bf16(gpu_capability()), hub_token=token_found, run_dir=str(config.run_dir))
    Path(config.run_dir).mkdir(parents=True, exist_ok=True)
    print(env.describe())
    if cuda:
        from .models import resolve_precision

        print(f"precision for {config.model_name}: {resolve_precision(config, 'cuda').reason}")
    if not cuda and not config.is_twin:
        print(f"⚠ preset {config.preset!r} wants a GPU. On Colab: Runtime > Change runtime type > T4 GPU. "
              "Here, use PRESET = 'cpu-tiny'.")
    return env


def load_hub_token() -> bool:
    """True when a Hub token is there (:func:`gr_colab.runtime.hub_token`). One found outside the environment (Colab's
    secret) is put into ``HF_TOKEN`` too: a ``!python -m gr_colab`` cell's process has no IPython shell by which
    huggingface_hub would recognise Colab, and some libraries read only the environment."""
    from .runtime import hub_token

    token = hub_token()
    if token and not os.environ.get("HF_TOKEN"):
        os.environ["HF_TOKEN"] = token
    return bool(token)


class MissingStage(SystemExit):
    """A notebook's prerequisite is not in the run folder. A SystemExit, so "Run all" stops on one line instead of
    re-running an earlier stage behind the student's back."""


# What Unsloth's own Colab cell installs beside it (its README's Colab install line: xformers, cut_cross_entropy,
# triton, hf_transfer; unsloth/unsloth_zoo METADATA lists them as dependencies, which --no-deps skips). Each is
# installed against Colab's torch when a build for that torch exists; without them Unsloth runs, slower and with
# more memory for the logits (its imports of them are guarded).
UNSLOTH_EXTRAS = ("xformers", "cut_cross_entropy", "triton", "hf_transfer")
EXTRAS_COST = {"xformers": "attention falls back to PyTorch's SDPA (a little slower)",
               "cut_cross_entropy": "the loss materialises the full logits (more memory at long sequences)",
               "triton": "Unsloth's fused kernels are off (slower training)",
               "hf_transfer": "downloads use the ordinary client (slower)"}


class TorchOutOfRange(SystemExit):
    """Colab's torch is outside the range the pinned Unsloth declares: stop before anything half-works."""


def install(run=None, requirements: Optional[Path] = None, quiet: bool = True) -> Optional[list]:
    """The Colab install, Unsloth-style; elsewhere nothing (the setup script did it). Returns the commands run.

    Colab's own torch is kept: it is never in the install list and a constraints file pins it to the installed
    version, so no package can pull another (several GB, and a restart). Unsloth and unsloth_zoo come with
    ``--no-deps`` (their declared dependencies would re-resolve torch), then Colab's torch is checked against the
    range they declare (read from their metadata) and the install stops when it is outside. Then every other pin of
    requirements.txt, the extras of Unsloth's own Colab cell that this torch supports, the kit itself, the
    versions, a restart notice when a package the kernel had already imported was replaced, and ``import unsloth``
    before anything imports trl or transformers.
    """
    if not in_colab():
        return None
    import subprocess

    run = run or (lambda cmd: subprocess.run(cmd, check=True))
    requirements = Path(requirements or REPO_ROOT / "requirements.txt")
    text = requirements.read_text()
    if INSTALLED_MARKER.exists() and INSTALLED_MARKER.read_text() == text:
        print("gr-colab: already installed in this session")
        return []
    torch_version = _version("torch").split("+")[0]
    pins = [line.split("#")[0].strip() for line in text.splitlines()]
    pins = [p for p in pins if p and not p.startswith("-")]
    torch_bound = next((p for p in pins if _name(p) == "torch"), None)
    no_deps = [p for p in pins if _name(p) in ("unsloth", "unsloth_zoo")]
    rest = [p for p in pins if _name(p) not in ("torch", "unsloth", "unsloth_zoo")]
    before = _imported_versions(pins)
    constraints = Path(tempfile.gettempdir()) / "gr_colab_constraints.txt"
    constraints.write_text(f"torch=={torch_version}\n")
    pip = [sys.executable, "-m", "pip", "install", *(["-q"] if quiet else [])]
    print(f"gr-colab: installing on Colab (keeping torch {torch_version}; {torch_bound or 'no torch bound'}) ...")
    commands = [pip + ["--no-deps", *no_deps]]
    run(commands[-1])
    check_torch_range(torch_version)
    commands.append(pip + ["-c", str(constraints), *rest])
    run(commands[-1])
    skipped = []
    for extra in UNSLOTH_EXTRAS:
        commands.append(pip + ["-c", str(constraints), extra])
        try:
            run(commands[-1])
        except Exception:  # pip found no build of it for this torch: said below, never fatal
            skipped.append(extra)
    for extra in skipped:
        print(f"⚠ {extra}: no build for torch {torch_version}, not installed: {EXTRAS_COST[extra]}")
    commands.append(pip + ["--no-deps", "-e", str(REPO_ROOT)])
    run(commands[-1])
    print("versions: " + ", ".join(f"{n} {_version(n)}" for n in ("torch", "unsloth", "transformers", "trl",
                                                                   "peft", "datasets", "bitsandbytes")))
    INSTALLED_MARKER.write_text(text)
    replaced = sorted(n for n, v in before.items() if _version(n) != v)
    if replaced:
        print(f"⚠ the install replaced {', '.join(replaced)}, which this kernel had already imported: Runtime > "
              "Restart session, then run this notebook from the top (the install is not repeated)")
    import_unsloth_first()
    return commands


def unsloth_torch_range() -> str:
    """The torch range the installed Unsloth and unsloth_zoo declare, read from their metadata (never retyped)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    specs = []
    for dist in ("unsloth", "unsloth_zoo"):
        try:
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            req = Requirement(line)
            if req.name == "torch" and (req.marker is None or req.marker.evaluate({"extra": ""})):
                specs.append(str(req.specifier))
    return ",".join(s for s in specs if s)


def check_torch_range(torch_version: str) -> None:
    """Stop, with both versions and the fix, when Colab's torch is outside the range Unsloth declares."""
    from packaging.specifiers import SpecifierSet

    declared = unsloth_torch_range()
    if not declared or SpecifierSet(declared).contains(torch_version, prereleases=True):
        return
    raise TorchOutOfRange(
        f"Colab's torch {torch_version} is outside the range the pinned Unsloth declares (torch {declared}): it "
        "would fail at import or in its kernels. Fix: Runtime > Change runtime type > Runtime version, pick an "
        "earlier version (an older torch), or install a torch inside the range first: "
        f"!pip install \"torch{declared}\" torchvision torchaudio (about 3 GB), then Runtime > Restart session "
        "and run this cell again")


def _imported_versions(pins: list) -> dict:
    """{distribution: version} of the pinned distributions whose module this kernel has already imported."""
    names = {_name(p) for p in pins} | {"torch", "numpy"}
    return {n: _version(n) for n in names if n in sys.modules}


def _name(pin: str) -> str:
    import re

    return re.split(r"[<>=!~\[ ;]", pin, maxsplit=1)[0].strip().lower().replace("-", "_")


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def import_unsloth_first() -> bool:
    """Import Unsloth before trl and transformers (it patches them at import); True when it loaded. Only with a GPU:
    without one Unsloth 2026.10.9 would load its CPU backend and patch TRL for the whole process
    (unsloth/__init__.py 1652-1663), and the kit takes the transformers path there."""
    import importlib.util

    import torch

    if importlib.util.find_spec("unsloth") is None or not torch.cuda.is_available():
        return False
    late = [m for m in ("trl", "transformers", "peft") if m in sys.modules and "unsloth" not in sys.modules]
    try:
        import unsloth  # noqa: F401
    except Exception as exc:  # a broken install: said; gr_colab.models.choose_backend falls back and says so too
        print(f"Unsloth not loaded ({type(exc).__name__}: {str(exc)[:120]}); the transformers path runs")
        return False
    if late:
        print(f"⚠ {', '.join(late)} were imported before Unsloth, which then cannot patch them: Runtime > Restart "
              "session, and run the Setup cell first")
    return True


class DriveNotMounted(SystemExit):
    """The run folder is meant for Drive and Drive did not mount. A SystemExit, so "Run all" stops here: a fallback
    to the runtime's disk would lose the work with the runtime (the next notebook is a new one)."""


def drive_mounted() -> bool:
    return os.path.isdir(os.path.join(DRIVE_ROOT, "MyDrive"))


def mount_drive(run_dir: str, mount=None) -> str:
    """Mount Drive for ``run_dir`` (a folder on Drive) or stop with what to do; never a silent local fallback."""
    try:
        if mount is not None:
            mount(DRIVE_ROOT)
        else:
            from google.colab import drive  # type: ignore

            drive.mount(DRIVE_ROOT)
    except Exception as exc:
        raise DriveNotMounted(
            f"Google Drive could not be mounted ({type(exc).__name__}: {exc}). The run folder {run_dir} is on Drive "
            "so that the work outlives this runtime; nothing was written. Run this cell again and accept Drive's "
            f"prompt, or set OVERRIDES = {{\"run_dir\": \"{LOCAL_RUNS}/...\"}} to work on this runtime's disk "
            "knowingly "
            "(a disconnect erases it, and the next notebook, a new runtime, will not find it).") from None
    if not drive_mounted():
        raise DriveNotMounted(f"drive.mount returned but {DRIVE_ROOT}/MyDrive is not there; run this cell again")
    return run_dir


def drive_run_dir(preset: str, mount=None) -> str:
    """The run folder on Drive, with Drive mounted; :class:`DriveNotMounted` when it cannot be."""
    return mount_drive(f"{DRIVE_RUNS}/{preset}", mount)


def start(preset: str = "auto", overrides: Optional[dict] = None, notebook: Optional[str] = None,
          needs: tuple = ()):
    """The config for a notebook: ``auto`` resolved, the run folder on Drive on Colab, the run's saved config
    reloaded when an earlier notebook wrote one, the session checked, the planner's estimate for this notebook, and
    the stages it needs checked (:class:`MissingStage` names the notebook to run first). Returns (config, env)."""
    from .config import GRConfig, resolve_preset

    name = resolve_preset(preset)
    overrides = dict(overrides or {})
    if in_colab():
        print(ONE_RUNTIME)
        overrides["run_dir"] = overrides.get("run_dir") or f"{DRIVE_RUNS}/{name}"
        if on_drive(overrides["run_dir"]):
            mount_drive(str(overrides["run_dir"]))
    config = GRConfig.load(name, **overrides)
    saved = config.layout.config_yaml
    if saved.exists():
        config = GRConfig.load(saved, **overrides)
        print(f"reloaded this run's config from {saved} (OVERRIDES applied on top)")
    env = setup(config, mount_drive=False)
    if notebook:
        print(planner_line(config, notebook))
    require(config, needs, notebook)
    return config, env


def require(config, stages, notebook: Optional[str] = None) -> None:
    from .runs import is_complete

    for stage in stages:
        folder = config.layout.stage(stage)
        if not is_complete(folder):
            first = MADE_BY[stage]
            raise MissingStage(f"{notebook or 'this notebook'} needs the {stage} stage of the run in {config.run_dir}, "
                               f"and it is not there (looked for {folder}/complete.json; {_drive_state(config)}): "
                               f"run notebooks/{first}.ipynb first (same PRESET and OVERRIDES)")


def _drive_state(config) -> str:
    """Where the run folder is and whether Drive is mounted: a prerequisite "missing" on Colab is often one written to
    another runtime's disk, or a Drive that is not mounted."""
    if not in_colab():
        return "not on Colab: no Drive involved"
    mounted = f"Drive is {'mounted' if drive_mounted() else 'NOT mounted'} at {DRIVE_ROOT}"
    if on_drive(config.run_dir):
        return f"{mounted}; the run folder is on Drive"
    return (f"{mounted}; the run folder is on this runtime's own disk, which a new runtime does not have: an earlier "
            "notebook's files there went with its runtime")


def planner_line(config, notebook: str) -> str:
    """The planner's time and memory for this notebook's stage on a T4, for the chosen preset."""
    from .evaluate import benchmark_sizes
    from .planner import plan_parts, plan_session

    key = PLANNED.get(notebook[:2])
    if notebook[:2] == WORKSHOP and not config.preset.startswith("cpu-"):
        return "\n".join(plan_session(config))
    if key is None and notebook[:2] == WORKSHOP:
        key = "03 R-SFT to 07 export"
    if key is None and notebook[:2] in CHAPTERS:
        return (f"{notebook}: an advanced chapter that trains several small models; the planner has no model of it "
                f"yet: its page (docs/{notebook}.md) gives the counts per preset")
    if key is None:
        return f"{notebook}: no training or generation here; seconds to minutes"
    if config.preset.startswith("cpu-"):
        return (f"{key}: preset {config.preset} runs on this CPU (the twin: minutes; cpu-270m: much longer); the "
                "planner's T4 figures are for the t4-* presets (`gr-colab plan --preset t4-270m`)")
    sizes = benchmark_sizes(config.eval_benchmarks)
    plan = dict(plan_parts(config, sizes=sizes))[key]
    lines = [f"planner, {key} with {config.preset} on a T4: {plan.summary().splitlines()[0]}"]
    lines += [line for line in plan.summary().splitlines()[1:] if "⚠" in line]
    lines += [line for line in plan_session(config, sizes=sizes)
              if line.startswith((notebook[:2] + " ", "the whole course", "more than one"))]
    return "\n".join(lines)
