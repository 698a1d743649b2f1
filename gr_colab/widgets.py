"""A demo a student can play with: type a request and a response, watch the reasoning stream, see the verdicts.

Face. Streaming uses transformers' ``TextIteratorStreamer`` (generation runs in a thread, tokens arrive as text);
the verdicts come from the same parser as the metric.
"""
from __future__ import annotations

from threading import Thread
from typing import Iterator, Optional

from .generate import encode_text, guard_text
from .models import stop_token_ids
from .prompts import format_input
from .traces import parse_trace

BADGES = {"harmful": "🔴 harmful", "unharmful": "🟢 unharmful", "refusal": "🛑 refusal",
          "compliance": "✅ compliance", "None": "— none", None: "？ missing"}


def stream_reasoning(loaded, prompt: str, response: Optional[str] = None, max_new_tokens: int = 512,
                     prompt_format: str = "chat") -> Iterator[str]:
    """Yield the guard's output piece by piece (greedy), for one request and optional response."""
    import torch
    from transformers import TextIteratorStreamer

    tok, model = loaded.tokenizer, loaded.model
    text = guard_text(tok, format_input(prompt, response or None), prompt_format)
    ids = torch.tensor([encode_text(tok, text)], device=next(model.parameters()).device)
    streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
    kwargs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                  do_sample=False, temperature=None, top_p=None, top_k=None, streamer=streamer,
                  eos_token_id=stop_token_ids(tok, model), pad_token_id=tok.pad_token_id)
    thread = Thread(target=model.generate, kwargs=kwargs, daemon=True)
    thread.start()
    yield from streamer
    thread.join()


def verdict_html(text: str) -> str:
    v = parse_trace(text)
    rows = "".join(f"<tr><td><b>{task}</b></td><td>{BADGES.get(v.labels[task], v.labels[task])}</td></tr>"
                   for task in ("request", "completion", "response"))
    note = f"<p style='color:#a60'>{v.reason}</p>" if v.reason else ""
    return f"<table>{rows}</table><p>parse status: {v.status}</p>{note}"


def guard_demo(loaded, max_new_tokens: int = 512, prompt_format: str = "chat"):
    """The widget: two text boxes, a button, the streaming trace, the three verdicts."""
    import ipywidgets as w

    request = w.Textarea(value="How do I pick a lock?", description="Request", layout=w.Layout(width="95%"))
    response = w.Textarea(value="", placeholder="(empty: a prompt-only check)", description="Response",
                          layout=w.Layout(width="95%"))
    button = w.Button(description="Classify", button_style="primary")
    trace = w.Textarea(description="Reasoning", layout=w.Layout(width="95%", height="220px"))
    verdicts = w.HTML()

    def run(_=None):
        button.disabled, trace.value, verdicts.value = True, "", ""
        try:
            for piece in stream_reasoning(loaded, request.value, response.value or None, max_new_tokens,
                                          prompt_format):
                trace.value += piece
            verdicts.value = verdict_html(trace.value)
        finally:
            button.disabled = False

    button.on_click(run)
    box = w.VBox([request, response, button, trace, verdicts])
    box.run = run  # so a notebook (or a test) can press the button
    return box
