"""gr-colab: build a GuardReasoner-style reasoning guard on a free Colab T4, and ship it to Ollama and the Hub.

Layers: formats (prompts, traces, metrics) → data → models → stages (rsft, generate, evaluate, mining, hsdpo,
export, synthesis) → faces (cli, pipeline, report, widgets, notebooks). Importing the package stays light: torch
and transformers load only when a stage needs them.
"""
from .config import PRESETS, GRConfig

__version__ = "0.1.0"
__all__ = ["GRConfig", "PRESETS", "__version__"]
