"""gr-colab: build a GuardReasoner-style reasoning guard on a free Colab T4, and ship it to Ollama and the Hub.

Layers: formats (prompts, traces, metrics) → data → models → stages (rsft, generate, evaluate, mining, hsdpo,
export, synthesis) → faces (cli, pipeline, report, widgets, notebooks). Importing the package stays light: torch
and transformers load only when a stage needs them.
"""
import importlib.util as _util
import sys as _sys

if _util.find_spec("unsloth") is not None and "unsloth" not in _sys.modules:  # Colab: Unsloth patches trl and
    from .colab import import_unsloth_first  # transformers at import, so it comes before anything imports them

    import_unsloth_first()

from .config import PRESETS, GRConfig  # noqa: E402

__version__ = "0.1.0"
__all__ = ["GRConfig", "PRESETS", "__version__"]
