"""The guard's prompt as the Ollama export renders it, from the same source: the ``Modelfile`` beside the GGUF (what
``ollama create`` uses), else the merged model folder beside it (its tokenizer), else the chat template and special
tokens in the GGUF's own metadata (:class:`GGUFChatTokenizer`), passed through the same :mod:`gr_colab.ollama`
helpers; nothing is retyped.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from ..ollama import Modelfile, ollama_template, read_modelfile, stop_strings
from ..prompts import format_input, guard_turn


@dataclass
class PromptFormat:
    modelfile: Modelfile  # the template with Ollama's placeholders, and the stop strings
    source: str  # where it was read from, shown at startup and in /health

    def render(self, prompt: str, response: Optional[str] = None) -> str:
        """The text the guard reads (before the runner's BOS), exactly as Ollama renders what OllamaGuard sends."""
        return self.modelfile.render(guard_turn(format_input(prompt, response)))

    @property
    def stops(self) -> list:
        return list(self.modelfile.stops)


class GGUFChatTokenizer:
    """The parts of a tokenizer that :func:`gr_colab.ollama.ollama_template` and :func:`stop_strings` read, taken from
    a GGUF's metadata and vocabulary: its chat template (rendered as transformers renders templates, in a sandboxed
    jinja2 with trim_blocks/lstrip_blocks), its BOS/EOS and its control tokens."""

    def __init__(self, llm):
        import llama_cpp

        from ..templates import pin_date

        meta = llm.metadata or {}
        if not meta.get("tokenizer.chat_template"):
            raise ValueError("the GGUF has no chat template in its metadata, and no Modelfile or merged model folder "
                             "is beside it: serve the GGUF the kit's export wrote (runs/<preset>/export/gguf/)")
        self.chat_template = pin_date(meta["tokenizer.chat_template"])  # a dated template renders as in training
        self._llm = llm
        vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
        self.bos_token_id = llama_cpp.llama_vocab_bos(vocab)
        self.eos_token_id = llama_cpp.llama_vocab_eos(vocab)
        self.bos_token = self._text(self.bos_token_id) if self.bos_token_id >= 0 else None
        self.eos_token = self._text(self.eos_token_id) if self.eos_token_id >= 0 else None
        self._special = control_tokens(llm)
        self.all_special_tokens = list(self._special)
        self.added_tokens_encoder: dict = {}

    def _text(self, token_id: int) -> str:
        return self._llm.detokenize([token_id], special=True).decode("utf-8", errors="replace")

    def convert_ids_to_tokens(self, token_id: int) -> str:
        return self._text(token_id)

    def convert_tokens_to_ids(self, token: str) -> Optional[int]:
        if token in self._special:
            return self._special[token]
        ids = self._llm.tokenize(token.encode("utf-8"), add_bos=False, special=True)
        return ids[0] if len(ids) == 1 else None

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=False, **kwargs) -> str:
        from jinja2.exceptions import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message):
            raise TemplateError(message)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = raise_exception
        env.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)  # as transformers gives it
        return env.from_string(self.chat_template).render(
            messages=messages, add_generation_prompt=add_generation_prompt, bos_token=self.bos_token or "",
            eos_token=self.eos_token or "", **kwargs)


def control_tokens(llm) -> dict:
    """Text → id of every control token of the GGUF's vocabulary (turn markers, BOS/EOS)."""
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
    control = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL
    out = {}
    for i in range(llm.n_vocab()):
        if llama_cpp.llama_vocab_get_attr(vocab, i) & control:
            text = llm.detokenize([i], special=True).decode("utf-8", errors="replace")
            if text:
                out[text] = i
    return out


def prompt_format(gguf: Union[str, Path], llm=None) -> PromptFormat:
    """Modelfile beside the GGUF, else the merged folder beside its folder, else the GGUF's metadata."""
    gguf = Path(gguf)
    beside = gguf.parent / "Modelfile"
    if beside.is_file():
        return PromptFormat(read_modelfile(beside)[0], f"Modelfile ({beside.name} beside the GGUF)")
    merged = gguf.parent.parent / "merged"
    if (merged / "tokenizer_config.json").is_file():
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(merged))
        return PromptFormat(Modelfile(str(gguf), ollama_template(tok), stop_strings(tok, model_dir=merged)),
                            "the merged model folder")
    if llm is None:
        raise ValueError("no Modelfile or merged folder beside the GGUF; pass the loaded model to read its metadata")
    tok = GGUFChatTokenizer(llm)
    return PromptFormat(Modelfile(str(gguf), ollama_template(tok), stop_strings(tok)), "the GGUF's metadata")


