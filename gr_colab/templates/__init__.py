"""Real chat templates, kept as files so the tests render exactly what a real model's tokenizer renders.

Formats layer (plain text, no torch). ``gemma-3-it.jinja`` is the ``chat_template`` of ``google/gemma-3-270m-it``
(Gemma terms); ``llama-3.1-instruct.jinja`` and ``llama-3.2-instruct.jinja`` are llama.cpp's copies of Meta's
Llama 3.1 8B and 3.2 3B Instruct templates (``models/templates/`` in llama.cpp, MIT; Llama community licence). See
README.md beside them.
"""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATES = {"gemma-3": "gemma-3-it.jinja", "llama-3.1": "llama-3.1-instruct.jinja",
             "llama-3.2": "llama-3.2-instruct.jinja"}

# Llama 3.x templates open every conversation with a system block that says "Today Date: <date>", taken from
# ``strftime_now`` when the renderer has it (transformers does) and "26 Jul 2024" when it does not. A guard trained
# on Monday and queried on Tuesday would read two different prompts, so the kit fixes the date to the template's
# own fallback: every renderer (transformers, Ollama's TEMPLATE, llama.cpp's Jinja) then writes the same text.
FIXED_DATE = "26 Jul 2024"
_PIN = '{%- set date_string = "' + FIXED_DATE + '" %}'


def chat_template(name: str) -> str:
    if name not in TEMPLATES:
        raise ValueError(f"no chat template {name!r}; the kit ships {', '.join(TEMPLATES)}")
    return (HERE / TEMPLATES[name]).read_text(encoding="utf-8")


def pin_date(template):
    """The template with its date fixed to :data:`FIXED_DATE` (unchanged when it has no date); idempotent."""
    if not isinstance(template, str) or "date_string" not in template or template.startswith(_PIN):
        return template
    return _PIN + template
