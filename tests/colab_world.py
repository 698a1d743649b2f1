"""A Colab world for the notebooks: each notebook runs in a fresh kernel as a fresh Colab runtime.

What a student on free Colab has, and the tests reproduce here:
- a new runtime per notebook: its own ``/content`` (here ``content/``, relocated by the kit's one path seam,
  ``GR_COLAB_CONTENT``), wiped before every notebook with the scratch folder inside it, no install marker, no
  ``ollama`` on the PATH;
- a Drive that persists across runtimes (``drive_store/``), reached only through ``drive.mount``, which the student
  may refuse;
- the kernel Colab runs (``google.colab._kernel.Kernel`` from ``tests/colab_standin``), so ``google.colab`` is
  imported at start and every Colab branch of the kit is taken;
- the kit fetched by the setup cell (``git clone`` of a repository made from the kit's files, as from GitHub).

Fakes, for what cannot run here, each named: ``pip`` (records, installs nothing), ``apt-get`` and ``curl`` (the
Ollama install: the "script" puts the stand-in ``ollama`` on the runtime's PATH). One shortcut: the llama.cpp build
an earlier session would have left is given by ``GR_COLAB_LLAMA_CPP`` (the 8-minute compile is not redone per test).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import nbformat

STANDIN = Path(__file__).resolve().parent / "colab_standin"
COLAB_KERNEL = "--IPKernelApp.kernel_class=google.colab._kernel.Kernel"  # Colab's kernel class (stand-in)
KIT_PATHS = ("gr_colab", "notebooks", "sample_data", "scripts", "requirements.txt", "requirements-cpu.txt",
             "pyproject.toml", "README.md")


def kit_repository(source: Path, dest: Path) -> Path:
    """A git repository of the kit's files from ``source`` (a checkout, committed or not), for the setup cell's
    clone."""
    if dest.exists():
        return dest
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for name in KIT_PATHS:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)
    git = ["git", "-c", "user.name=colab-world", "-c", "user.email=colab-world@localhost",
           "-c", "init.defaultBranch=main"]
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "the kit"]):
        subprocess.run(git + cmd, cwd=dest, check=True, capture_output=True)
    return dest


@dataclass
class Run:
    """One notebook executed in one runtime: the notebook with its outputs, and the error that stopped it."""

    name: str
    nb: object
    error: Optional[BaseException] = None
    seconds: float = 0.0

    @property
    def text(self) -> str:
        out = []
        for cell in self.nb.cells:
            for o in cell.get("outputs", []):
                out.append(o.get("text", "") or "".join(o.get("data", {}).get("text/plain", "")))
                if o.get("output_type") == "error":
                    out.append(f"{o.get('ename')}: {o.get('evalue')}")
        return "\n".join(out)

    @property
    def errors(self) -> list:
        return [f"{o.get('ename')}: {o.get('evalue')}" for c in self.nb.cells for o in c.get("outputs", [])
                if o.get("output_type") == "error"]


@dataclass
class World:
    """Folders of one Colab world under ``root``; ``kit`` is the checkout whose files the runtimes clone."""

    root: Path
    kit: Path
    overrides: dict = field(default_factory=dict)
    secrets: dict = field(default_factory=dict)

    def __post_init__(self):
        self.root = Path(self.root)
        self.content = self.root / "content"  # the runtime's /content: wiped per runtime
        self.vm = self.root / "vm"  # the runtime's system folders (its PATH additions): wiped per runtime
        self.drive_store = self.root / "drive_store"  # Google Drive: persists
        self.state = self.root / "state.json"
        self.pid_file = self.root / "kernel.pid"
        self.pip_log = self.root / "pip.log"
        self.fake_log = self.root / "fakes.log"
        self.repo = kit_repository(Path(self.kit), self.root / "kit.git")

    @property
    def drive_runs(self) -> Path:
        return self.drive_store / "gr-colab"

    # --- the runtime ---------------------------------------------------------------------------------------------
    def _fake_bin(self) -> Path:
        """The runtime's PATH additions: fakes for apt-get and for curl fetching Ollama's install script."""
        bin_dir = self.vm / "fakebin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        runtime_bin = self.vm / "usr-local-bin"
        runtime_bin.mkdir(parents=True, exist_ok=True)
        log = self.fake_log
        (bin_dir / "apt-get").write_text(f"#!/bin/sh\n# fake apt-get (no root, no network here): records\n"
                                         f"echo \"apt-get $*\" >> '{log}'\n")
        install = (f"cat > '{runtime_bin}/ollama' <<'SH'\n#!/bin/sh\nexec '{sys.executable}' "
                   f"'{STANDIN / 'ollama_standin.py'}' \"$@\"\nSH\nchmod +x '{runtime_bin}/ollama'\n"
                   f"echo '>>> stand-in Ollama installed'\n")
        (bin_dir / "curl").write_text(
            "#!/bin/sh\n# fake curl: only Ollama's install script, which puts the stand-in ollama on the PATH\n"
            f"echo \"curl $*\" >> '{log}'\n"
            "case \"$*\" in *ollama.com/install.sh*) cat <<'EOF'\n" + install + "EOF\n;;\n"
            "*) echo 'fake curl: no network' >&2; exit 22;;\nesac\n")
        for f in bin_dir.iterdir():
            f.chmod(0o755)
        return bin_dir

    def new_runtime(self, drive: str = "accept") -> dict:
        """Wipe the runtime's disk (``/content``, scratch, installs) and return the new kernel's environment."""
        for folder in (self.content, self.vm):
            if folder.exists():
                shutil.rmtree(folder)  # a symlink inside (Drive's MyDrive) is removed, never followed
        self.content.mkdir(parents=True)
        self._fake_bin()
        return self.runtime_env(drive)

    def runtime_env(self, drive: str = "accept") -> dict:
        """The kernel's environment in the current runtime (its disk kept: Runtime > Restart session)."""
        self.state.write_text(json.dumps({"drive": drive, "drive_store": str(self.drive_store),
                                          "secrets": self.secrets}))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GR_COLAB_", "COLAB_STANDIN"))}
        env.update({
            "GR_COLAB_CONTENT": str(self.content),
            "GR_COLAB_CACHE": os.environ.get("GR_COLAB_CACHE", str(self.root / "cache")),  # the twin's build
            "COLAB_STANDIN_STATE": str(self.state),
            "COLAB_STANDIN_KERNEL_PID": str(self.pid_file),
            "COLAB_STANDIN_PIP_LOG": str(self.pip_log),
            "PYTHONPATH": os.pathsep.join([str(STANDIN)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])),
            "PATH": os.pathsep.join([str(self.vm / "fakebin"), str(self.vm / "usr-local-bin"), env.get("PATH", "")]),
            "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            "MPLBACKEND": "agg",
        })
        llama = _llama_cpp_build()
        if llama:
            env["GR_COLAB_LLAMA_CPP"] = llama
        return env

    # --- a notebook ----------------------------------------------------------------------------------------------
    def notebook(self, name: str, answers: bool = True, extra_overrides: Optional[dict] = None,
                 kit: Optional[str] = None):
        """The kit's notebook ``name`` as a student opens it: the config cell set (KIT, OVERRIDES) and, with
        ``answers``, the Solution run after the unanswered check, then the check again."""
        nb = nbformat.read(Path(self.kit) / "notebooks" / f"{name}.ipynb", as_version=4)
        overrides = {**self.overrides, **(extra_overrides or {})}
        kit_set = False
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            src = cell.source
            src, n = re.subn(r'^KIT = .*$', f'KIT = {str(kit or self.repo)!r}', src, flags=re.M)
            kit_set = kit_set or bool(n)
            src = re.sub(r'^OVERRIDES = .*$', f'OVERRIDES = {overrides!r}', src, flags=re.M)
            cell.source = src
        assert kit_set, f"{name}: no KIT line to point at the kit"
        if answers:
            solution = solution_code(nb)
            check = next(c.source for c in nb.cells if c.cell_type == "code" and "check_" in c.source
                         and "exercises import" in c.source)
            nb.cells += [nbformat.v4.new_code_cell(solution), nbformat.v4.new_code_cell(check)]
        return nb

    def run(self, name: str, drive: str = "accept", answers: bool = True, timeout: int = 3600,
            extra_overrides: Optional[dict] = None, fresh: bool = True, env: Optional[dict] = None,
            while_running: Optional[Callable[["World"], bool]] = None, kit: Optional[str] = None) -> Run:
        """Execute notebook ``name`` in a new runtime (``fresh``; else the runtime's disk is kept, as after
        Runtime > Restart session). ``while_running(world)`` is polled during the run; when it returns True the
        runtime is killed (SIGKILL to the kernel, by its process id), as a Colab disconnect ends it."""
        from nbclient import NotebookClient

        env = env or (self.new_runtime(drive) if fresh else self.runtime_env(drive))
        nb = self.notebook(name, answers, extra_overrides, kit)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", extra_arguments=[COLAB_KERNEL],
                                resources={"metadata": {"path": str(self.content)}})
        if self.pid_file.exists():
            self.pid_file.unlink()
        result = Run(name, nb)
        start = time.time()

        def execute():
            try:
                client.execute(env=env)  # handed to jupyter_client's KernelManager.start_kernel
            except BaseException as exc:  # noqa: BLE001 - reported by the caller
                result.error = exc

        thread = threading.Thread(target=execute, daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(0.2)
            if while_running is not None and thread.is_alive() and while_running(self):
                self.kill_runtime()
                thread.join(120)
                break
        result.seconds = time.time() - start
        return result

    def kill_runtime(self) -> None:
        """SIGKILL the kernel this world started (its id from the stand-in kernel's pid file)."""
        deadline = time.time() + 30
        while not self.pid_file.exists() and time.time() < deadline:
            time.sleep(0.1)
        pid = int(self.pid_file.read_text())
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def solution_code(nb) -> str:
    """The code of a notebook's Solution block (the first ```python fence after "<summary>Solution")."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "<summary>Solution" in cell.source:
            match = re.search(r"```python\n(.*?)```", cell.source, re.S)
            assert match, "a Solution block without code"
            return match.group(1)
    raise AssertionError("no Solution block")


def _llama_cpp_build() -> Optional[str]:
    """The llama.cpp converter this machine's setup installed (what an earlier Colab session leaves on Drive)."""
    from gr_colab import llamacpp

    try:
        return str(llamacpp.find_converter().parent)
    except FileNotFoundError:
        return None
