"""gr-colab: build a GuardReasoner-style reasoning guard on a free Colab T4, and ship it to Ollama and the Hub.

Layers (pyproject.toml's import-linter contracts; docs/design.md draws them): base → runs → formats → data → training →
models → tools (generate, llamacpp, ollama, planner) → stages (rsft, hsdpo, mining, evaluate, export, hub, synthesis)
→ chapters (redteam, modpo, guards, service, course) → faces (cli, pipeline, colab, report, widgets). Importing the
package stays light: torch and transformers load only when a stage needs them.
"""
import importlib.util as _util
import sys as _sys

# On Colab with a GPU, Unsloth patches trl and transformers at import, so it comes before anything imports them.
# Nowhere else: on a CPU Unsloth loads its CPU backend and patches TRL for the whole process.
from .runtime import in_colab as _in_colab

if _in_colab() and _util.find_spec("unsloth") is not None and "unsloth" not in _sys.modules:
    from .colab import import_unsloth_first

    import_unsloth_first()

from .config import PRESETS, GRConfig  # noqa: E402

__version__ = "0.1.0"
__all__ = ["GRConfig", "PRESETS", "__version__"]
