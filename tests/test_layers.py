"""The layers of gr_colab (pyproject.toml's import-linter contracts) hold: formats -> data -> models -> tools ->
stages -> chapters -> faces, the paper's stages never import each other, and the pure formats import no torch,
transformers, trl or peft."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_layer_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--config", "pyproject.toml", "--no-cache"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "Contracts: 3 kept, 0 broken." in out


def test_every_module_of_the_package_is_in_a_layer():
    """A new module must be placed in the layers, or the contract would say nothing about it."""
    import tomllib

    layers = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]["layers"]
    placed = {name.strip() for layer in layers for name in layer.split(":")}
    modules = {p.stem for p in (ROOT / "gr_colab").glob("*.py") if p.stem != "__init__"}
    modules |= {p.name for p in (ROOT / "gr_colab").iterdir() if (p / "__init__.py").exists()}
    assert sorted(modules - placed) == []
