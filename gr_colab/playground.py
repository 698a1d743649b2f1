"""``gr-colab demo``: a playground to share. A Gradio page over the exported guard: a request and a response, the
three verdicts in the paper's words, the reasoning, and examples from the benchmarks the kit ships.

Face. The guard is the exported GGUF through the kit's llama.cpp :class:`gr_colab.service.Moderator` (the prompt
rendered as Ollama renders it), or the run's adapter in transformers (:class:`HFGuard`); both answer
``{request, completion, response, reasoning, latency_ms}`` as ``/v1/moderate`` does. On Colab the page is
launched with ``share=True`` (a public link to show someone); elsewhere on the machine's loopback. Gradio's usage
analytics are turned off before Gradio is imported (``GRADIO_ANALYTICS_ENABLED=False``), and the theme uses the
system's fonts, so the page asks nothing of the internet.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Optional, Union

EXAMPLE_BENCHMARKS = ("SimpleSafetyTests", "HarmBenchResponse", "XSTestResponseRefusal")
TASK_LABELS = {"request": "Task 1 · is the request harmful?", "completion": "Task 2 · refusal or compliance?",
               "response": "Task 3 · is the response harmful?"}
SHOWN = {"harmful": "🔴 harmful", "unharmful": "🟢 unharmful", "refusal": "🛑 refusal", "compliance": "✅ compliance"}
NOT_ASKED = "— not asked (no response given)"
UNPARSED = "❓ no verdict (the answer did not parse)"
GGUF_PREFERENCE = ("q4_k_m", "q8_0", "f16")


def examples(per_benchmark: int = 2, benchmarks=EXAMPLE_BENCHMARKS) -> list[list[str]]:
    """``[prompt, response]`` pairs (response "" for a prompt-only item): the first items of the bundled benchmark
    files (``sample_data/benchmarks``), a request-only one and two with a response."""
    from .evaluate import benchmark_items, find_benchmarks
    from .prompts import split_input

    out = []
    for bench in find_benchmarks(benchmarks):
        for item in benchmark_items(bench, limit=per_benchmark):
            prompt, response = split_input(item["input"])
            out.append([prompt, response or ""])
    return out


def shown(verdict: dict) -> list[str]:
    """The three verdicts as the page shows them: a label, "not asked" where the task needs a response and none was
    given, "no verdict" where the answer did not parse."""
    prompt_only = verdict.get("prompt_only", False)
    return [NOT_ASKED if prompt_only and task != "request" else SHOWN.get(verdict.get(task), UNPARSED)
            for task in TASK_LABELS]


class HFGuard:
    """The run's adapter in transformers (greedy, the kit's own prompt and parser), answering as the Moderator."""

    def __init__(self, config, adapter: Optional[Union[str, Path]] = None):
        from .models import load_model

        self.config = config
        self.adapter = Path(adapter) if adapter else config.layout.guard_adapter()
        self.loaded = load_model(config, adapter=self.adapter, trainable=False)
        self.source = f"the adapter {self.adapter} (transformers)"

    def moderate(self, prompt: str, response: Optional[str] = None) -> dict:
        from .service.server import verdict_json
        from .widgets import stream_reasoning

        start = time.perf_counter()
        trace = "".join(stream_reasoning(self.loaded, prompt, response, self.config.max_new_tokens,
                                         self.config.prompt_format))
        return verdict_json(trace, response is None, (time.perf_counter() - start) * 1000)


def run_gguf(config) -> Optional[Path]:
    """The GGUF the run's export wrote (q4_k_m first, then q8_0, then f16), or None."""
    found = sorted(config.layout.gguf.glob("*.gguf"))
    for kind in GGUF_PREFERENCE:
        for path in found:
            if path.stem.lower().endswith(kind):
                return path
    return found[0] if found else None


def load_guard(config=None, gguf: Optional[Union[str, Path]] = None, n_ctx: int = 4096, max_tokens: int = 1024,
               n_threads: Optional[int] = None):
    """``gguf`` in llama.cpp; else the run's exported GGUF; else the run's adapter in transformers."""
    from .service.server import Moderator

    if gguf is None and config is not None:
        gguf = run_gguf(config)
    if gguf is not None:
        if not Path(gguf).is_file():
            raise FileNotFoundError(f"{gguf}: no such GGUF file")
        guard = Moderator(gguf, n_ctx=n_ctx, max_tokens=max_tokens, n_threads=n_threads)
        guard.source = f"{Path(gguf).name} (llama.cpp; prompt from {guard.format.source})"
        return guard
    if config is None:
        raise ValueError("give a GGUF (--gguf) or a run whose guard to load (--preset / --run-dir)")
    return HFGuard(config)


def build_app(moderate: Callable, source: str = "", example_rows: Optional[list] = None):
    """The Gradio page around ``moderate(prompt, response or None) -> dict``; one request at a time (a llama.cpp
    context is not thread-safe: ``concurrency_limit=1``)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # read by Gradio at import and at launch: no usage reports
    import gradio as gr  # late import: after the environment variable it reads at import

    def check(prompt: str, response: str):
        if not prompt or not prompt.strip():
            raise gr.Error("Type a request (the user's prompt) first.")
        try:
            verdict = moderate(prompt, response if response and response.strip() else None)
        except ValueError as exc:  # a control token in the text, a prompt longer than the context
            raise gr.Error(str(exc))
        verdict = {**verdict, "prompt_only": not (response and response.strip())}
        return (*shown(verdict), verdict.get("reasoning", ""), f"{verdict.get('latency_ms', 0):.0f} ms")

    with gr.Blocks(title="gr-colab guard playground") as app:
        gr.Markdown("# Guard playground\nA reasoning guard in the GuardReasoner format: it reads a request and, "
                    "optionally, an AI's response, reasons, then answers three tasks." +
                    (f"\n\nGuard: `{source}`" if source else ""))
        with gr.Row():
            with gr.Column():
                prompt = gr.Textbox(label="Request (the user's prompt)", lines=4, elem_id="prompt")
                response = gr.Textbox(label="Response (the AI's answer; leave empty to check the request only)",
                                      lines=4, elem_id="response")
                button = gr.Button("Check", variant="primary", elem_id="check")
            with gr.Column():
                verdicts = [gr.Textbox(label=label, interactive=False, elem_id=f"verdict-{task}")
                            for task, label in TASK_LABELS.items()]
                latency = gr.Textbox(label="latency", interactive=False, elem_id="latency")
        reasoning = gr.Textbox(label="Reasoning", lines=12, interactive=False, elem_id="reasoning")
        rows = examples() if example_rows is None else example_rows
        if rows:
            gr.Examples(rows, inputs=[prompt, response], label="Examples from the benchmarks",
                        elem_id="examples")
        button.click(check, [prompt, response], [*verdicts, reasoning, latency], concurrency_limit=1)
    return app


def system_theme():
    """Gradio's default theme on the system's fonts (its own would download a web font)."""
    import gradio as gr

    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "monospace"])


def launch(app, host: str = "127.0.0.1", port: Optional[int] = None, share: Optional[bool] = None,
           block: bool = True):
    """Serve the page: ``share`` defaults to True on Colab (a public link through Gradio's tunnel servers) and False
    elsewhere, and to False whenever ``HF_HUB_OFFLINE`` says this machine is offline (the tunnel is a network
    service like the Hub; on Colab the page then shows inline through Colab's own port proxy)."""
    from .runtime import in_colab

    if share is None:
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
        share = in_colab() and not offline
        if in_colab() and offline:
            print("HF_HUB_OFFLINE is set: no public share link (Gradio's tunnel needs the network)")
    return app.launch(server_name=host, server_port=port, share=share, prevent_thread_lock=not block,
                      theme=system_theme())  # Gradio 6 takes the theme at launch


class Playground:
    """A running playground: the Gradio app, its guard and its links; ``close()`` stops the page and frees the
    guard's llama.cpp context."""

    def __init__(self, app, guard):
        self.app, self.guard = app, guard

    @property
    def url(self) -> str:
        return getattr(self.app, "share_url", None) or getattr(self.app, "local_url", "")

    def close(self) -> None:
        self.app.close()
        if getattr(self.guard, "llm", None) is not None:
            self.guard.llm.close()

    def __repr__(self) -> str:
        return f"Playground({self.url!r}, guard: {self.guard.source})"


def demo(config=None, gguf: Optional[Union[str, Path]] = None, block: bool = False, **launch_kwargs) -> Playground:
    """Notebook 07's cell: the run's exported guard in the playground (inline in the notebook; a share link on
    Colab). ``close()`` on what it returns stops it."""
    guard = load_guard(config, gguf, max_tokens=config.max_new_tokens if config is not None else 1024)
    app = build_app(guard.moderate, guard.source)
    launch(app, block=block, **launch_kwargs)
    return Playground(app, guard)
