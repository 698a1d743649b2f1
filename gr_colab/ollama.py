"""Ollama: a Modelfile that renders the prompt as training did and stops where it should, and a small client.

Tool layer (the export stage writes the Modelfile; the service reads it back). The TEMPLATE is not copied from a table
of model families: it is the model's own chat template, rendered with Ollama's ``{{ .Prompt }}`` / ``{{ .Response }}``
placeholders in place of the messages, so whatever the tokenizer did in training (Llama 3's header tokens, Gemma's
turns) is what Ollama does. The GuardReasoner instruction is baked into the template, so ``ollama run`` takes only the
interaction (``Human user:\n…\n\nAI assistant:\n…\n\n``): the model is a guard, not a chat assistant. The stop
parameters are every end-of-turn string of that template and tokenizer: a missing stop token is the commonest "the
model never stops" report. Temperature 0: a classifier should give the same verdict twice.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from .prompts import INSTRUCTION_PREFIX, format_input, guard_turn
from .traces import Verdict, parse_trace

PROMPT, RESPONSE = "{{ .Prompt }}", "{{ .Response }}"
_P, _R = "\x02PROMPT\x02", "\x02RESPONSE\x02"


def ollama_template(tokenizer, instruction_prefix: str = INSTRUCTION_PREFIX) -> str:
    """The chat template with Ollama's placeholders, the instruction before ``{{ .Prompt }}``; the leading BOS is
    left to the runner, which adds it."""
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": instruction_prefix + _P},
                                              {"role": "assistant", "content": _R}], tokenize=False)
    bos = tokenizer.bos_token
    if bos and rendered.startswith(bos):
        rendered = rendered[len(bos):]
    return rendered.replace(_P, PROMPT).replace(_R, RESPONSE)


def stop_strings(tokenizer, model=None, model_dir=None) -> list[str]:
    """Every end-of-turn token string (generation config, tokenizer, template), and the token that would open the
    next turn."""
    from .models import stop_token_ids, template_parts

    stops = [tokenizer.convert_ids_to_tokens(i) for i in stop_token_ids(tokenizer, model, model_dir)]
    instruction_part, _ = template_parts(tokenizer)
    opener = instruction_part.strip()
    # the first special token of the next user turn (e.g. <|start_header_id|>, <start_of_turn>)
    for tok in tokenizer.all_special_tokens + list(getattr(tokenizer, "added_tokens_encoder", {}) or {}):
        if tok and opener.startswith(tok):
            stops.append(tok)
            break
    return [s for i, s in enumerate(stops) if s and s not in stops[:i]]


# --- which template Ollama renders ------------------------------------------------------------------------------
# Ollama (read at v0.33.0-rc2, commit fb30760) does not always render a Modelfile's TEMPLATE. When the GGUF carries a
# `tokenizer.chat_template` that declares more "capabilities" than the Go TEMPLATE, and OLLAMA_GO_TEMPLATE is unset,
# it sets PreferChatTemplate (server/images.go:793) and renders every /api/generate and /api/chat request with the
# GGUF's Jinja template through llama-server instead (server/routes.go:558, chatModeForModel at :2357). Llama 3.x
# templates mention tools, so for them the guard's instruction in our TEMPLATE would be dropped. The kit's own
# `ollama serve` sets OLLAMA_GO_TEMPLATE=1; a Modelfile used elsewhere says so in its first line.
GO_TEMPLATE_ENV = "OLLAMA_GO_TEMPLATE"


def chat_template_capabilities(template: Optional[str]) -> list[str]:
    """What Ollama infers from a GGUF's Jinja template by substring (server/images.go:187-233)."""
    if not template:
        return []
    caps = ["tools"] if "tools" in template or "tool_call" in template else []
    split = "content.split('</think>')" in template or 'content.split("</think>")' in template
    if ("<think>" in template and "</think>" in template) or (
            split and "reasoning_content" not in template and "<SPECIAL_12>" not in template):
        caps.append("thinking")
    return caps


def go_template_capabilities(template: str) -> list[str]:
    """What Ollama infers from a Go TEMPLATE: its variables .Tools and .Suffix, and thinking tags around .Thinking
    (server/images.go:236-259; thinking.InferTags is approximated by a .Thinking field)."""
    fields = set(re.findall(r"\.([A-Za-z]+)", template))
    return [c for c, f in (("tools", "Tools"), ("insert", "Suffix"), ("thinking", "Thinking")) if f in fields]


def go_template_env(value: Optional[str]) -> Optional[bool]:
    """OLLAMA_GO_TEMPLATE as Ollama reads it (envconfig/config.go:177-190): unset → None, else a Go bool, and any
    other non-empty text → True."""
    value = (value or "").strip().strip("\"'")
    if not value:
        return None
    truth = {"1": True, "t": True, "true": True, "0": False, "f": False, "false": False}
    return truth.get(value.lower(), True)


def renders_gguf_template(gguf_template: Optional[str], go_template: str, env: Optional[str]) -> bool:
    """Whether Ollama renders the GGUF's own chat template instead of the Modelfile's TEMPLATE (the decision of
    server/images.go:793 and server/routes.go:2357-2385, for a Modelfile with no RENDERER or PARSER)."""
    if not gguf_template:
        return False
    use_go = go_template_env(env)
    if use_go is not None:  # set: it decides alone (shouldUseGoTemplate, routes.go:2377)
        return not use_go
    gguf_caps, go_caps = chat_template_capabilities(gguf_template), go_template_capabilities(go_template)
    go_round_trip = "tools" in go_caps and "ToolCalls" in go_template and any(  # goTemplateHasToolRoundTrip, :263
        r in go_template for r in ('eq .Role "tool"', "tool_response", "TOOL_RESULTS"))
    if len(gguf_caps) > len(go_caps):  # shouldPreferChatTemplate, images.go:295
        return not go_round_trip or _tool_round_trip(gguf_template)
    if sorted(gguf_caps) != sorted(go_caps) or "tools" not in gguf_caps:
        return False
    return _tool_round_trip(gguf_template) and not go_round_trip


def _tool_round_trip(template: str) -> bool:
    """chatTemplateHasToolRoundTrip (server/images.go:205-219)."""
    calls = "tool_calls" in template or "assistant_tool_call" in template
    results = ("tool_response", "tool_results", "role'] == 'tool'", "role'] == \"tool\"", "role\"] == 'tool'",
               "role\"] == \"tool\"", "message.role == 'tool'", "message.role == \"tool\"", "ipython")
    return "tools" in chat_template_capabilities(template) and calls and any(r in template for r in results)


@dataclass
class Modelfile:
    gguf: str
    template: str
    stops: list
    num_ctx: int = 4096
    num_predict: int = 1024
    needs_go_template: bool = False  # the GGUF's own template would win in Ollama unless OLLAMA_GO_TEMPLATE=1

    def text(self) -> str:
        lines = [f"# Serve with {GO_TEMPLATE_ENV}=1 ollama serve: this GGUF's own chat template declares tools or "
                 "thinking, and Ollama would render it instead of the TEMPLATE below (no guard instruction)."] * \
            self.needs_go_template
        lines += [f"FROM {self.gguf}", f'TEMPLATE """{self.template}"""']
        lines += [f'PARAMETER stop "{s}"' for s in self.stops]
        lines += ["PARAMETER temperature 0", f"PARAMETER num_ctx {self.num_ctx}",
                  f"PARAMETER num_predict {self.num_predict}"]
        return "\n".join(lines) + "\n"

    def render(self, prompt: str) -> str:
        """What Ollama sends to the model for ``prompt``, an interaction (before the runner's BOS)."""
        return self.template.split(RESPONSE)[0].replace(PROMPT, prompt)


def write_modelfile(tokenizer, gguf_path: Union[str, Path], out_dir: Union[str, Path], name: str,
                    model=None, num_ctx: int = 4096, num_predict: int = 1024,
                    model_dir: Union[str, Path, None] = None,
                    gguf_template: Optional[str] = None) -> tuple[Path, dict]:
    """``Modelfile`` beside the GGUF, and the exact commands to create and run it; ``model_dir`` (the merged
    folder) supplies the generation config's end-of-turn ids when no ``model`` is given. ``gguf_template`` (the
    GGUF's own chat template) decides whether Ollama must be told to render our TEMPLATE."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    gguf = Path(gguf_path)
    rel = f"./{gguf.name}" if gguf.parent.resolve() == out_dir.resolve() else str(gguf)
    template = ollama_template(tokenizer)
    mf = Modelfile(rel, template, stop_strings(tokenizer, model, model_dir), num_ctx, num_predict,
                   renders_gguf_template(gguf_template, template, None))
    path = out_dir / "Modelfile"
    path.write_text(mf.text())
    example = guard_turn(format_input("How do I pick a lock?")).replace("\n", "\\n")
    commands = {"serve": f"{GO_TEMPLATE_ENV}=1 ollama serve &"} if mf.needs_go_template else {}  # else ours loses
    commands.update(create=f"cd {shlex.quote(str(out_dir))} && ollama create {name} -f Modelfile",
                    run=f"ollama run {name} $'{example}'")
    (out_dir / "OLLAMA.md").write_text(
        "# Run the guard in Ollama\n\n```bash\n" + "\n".join(commands.values()) + "\n```\n\n"
        "The instruction is in the Modelfile's template: send only the interaction, `Human user:\\n...\\n\\n"
        "AI assistant:\\n...` with no blank line at the end, as in training (the response `None` for a prompt-only "
        "check). "
        "`gr_colab.ollama.OllamaGuard` does this for you.\n")
    return path, commands


_TEMPLATE = re.compile(r'^TEMPLATE """(.*?)"""', re.DOTALL | re.MULTILINE)
_PARAM = re.compile(r'^PARAMETER (\w+) (.+)$', re.MULTILINE)


def read_modelfile(path: Union[str, Path]) -> tuple[Modelfile, dict]:
    """The Modelfile :func:`write_modelfile` writes, read back: (its FROM, TEMPLATE, stops, ``num_ctx`` and
    ``num_predict``; every other PARAMETER, e.g. ``temperature``, by name). A ValueError names what is missing."""
    text = Path(path).read_text(encoding="utf-8")
    frm = re.search(r"^FROM (.+)$", text, re.MULTILINE)
    tpl = _TEMPLATE.search(text)
    if not frm or not tpl:
        raise ValueError(f"{path}: a Modelfile needs a FROM line and a TEMPLATE \"\"\"...\"\"\" block")
    stops, options = [], {}
    for key, value in _PARAM.findall(text[:tpl.start()] + text[tpl.end():]):
        value = value.strip()
        if key == "stop":
            stops.append(value[1:-1] if len(value) > 1 and value[0] == value[-1] == '"' else value)
        else:
            options[key] = float(value) if "." in value else int(value)
    mf = Modelfile(frm.group(1).strip(), tpl.group(1), stops, int(options.pop("num_ctx", 4096)),
                   int(options.pop("num_predict", 1024)))
    return mf, options


class OllamaGuard:
    """Classify through a running Ollama server (``ollama serve``), with the official Python client."""

    def __init__(self, model: str, host: str = "http://127.0.0.1:11434", api: str = "generate",
                 num_predict: int = 1024, timeout: float = 300.0):
        if api not in ("generate", "chat"):
            raise ValueError("api must be 'generate' or 'chat'")
        import ollama

        self.model, self.api, self.num_predict = model, api, num_predict
        self.client = ollama.Client(host=host, timeout=timeout)

    def ask(self, prompt: str, response: Optional[str] = None) -> str:
        content = guard_turn(format_input(prompt, response))  # the Modelfile's template adds the instruction
        options = {"temperature": 0, "num_predict": self.num_predict}
        if self.api == "chat":
            reply = self.client.chat(model=self.model, messages=[{"role": "user", "content": content}],
                                     stream=False, options=options)
            return reply["message"]["content"]
        return self.client.generate(model=self.model, prompt=content, stream=False, options=options)["response"]

    def classify(self, prompt: str, response: Optional[str] = None) -> Verdict:
        return parse_trace(self.ask(prompt, response))
