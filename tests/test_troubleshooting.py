"""docs/troubleshooting.md quotes the kit's own messages: each quoted piece must still be in the library's source
(string literals joined across lines as Python joins them), so a reworded message fails here instead of leaving the
page describing text nobody sees."""
import re

import pytest
from conftest import ROOT

DOC = ROOT / "docs" / "troubleshooting.md"

# Literal pieces of the messages the page quotes (between the figures a message fills in).
QUOTED = [
    "or use a smaller model",
    "dtype: bfloat16 needs compute capability 8.0 or newer and this GPU is",
    "(a T4 is 7.5): use dtype: auto or float16",
    "overflows in float16 and",
    "has no native bf16",
    "is outside the range the pinned Unsloth declares (torch",
    "): it would fail at import or in its kernels. Fix:",
    "no build for torch",
    "Unsloth did not import (",
    "the transformers + bitsandbytes path trains the same LoRA, about 2x slower and with more memory for activations",
    "does not import (",
    "). Fix: Runtime > Restart session and run the Setup cell again",
    "which this kernel had already imported: Runtime > Restart session, then run this notebook from the top (the "
    "install is not repeated)",
    "were imported before Unsloth, which then cannot patch them: Runtime > Restart session, and run the Setup cell "
    "first",
    "gr-colab: already installed in this session",
    "a free Colab runtime has",
    "the converter takes a minute; the quantizer compiles once (about 8 minutes on Colab, a progress line every 30 s), "
    "for any x86-64 CPU with AVX2 (not only this VM's), and the build is kept there, with what it was built for, for "
    "the next session.",
    "compiling llama.cpp: about 8 minutes on 2 cores; a progress line every",
    "no build record beside it (built by an earlier kit, maybe with -march=native)",
    "it needs CPU instructions this CPU lacks:",
    "see the lines above. docs/troubleshooting.md has the common causes (disk, cmake).",
    "Free space (delete old checkpoints) or export fewer GGUF types (gguf_types).",
    "is on Drive so that the work outlives this runtime; nothing was written. Run this cell again and accept Drive's "
    "prompt, or set OVERRIDES =",
    "and it is not there (looked for",
    "disk: merged ≈",
    "with gguf-py/ beside it) was not found; looked for",
    "rerun with verbose=True to see its log",
    "has a SentencePiece-style tokenizer.json but no tokenizer.model: the GGUF will tokenize text differently from "
    "transformers",
    "the GGUF's chat template renders the guard prompt differently from training",
    "llama.cpp tokenizes the prompt differently from the HF tokenizer",
    "The end of the server's log",
    "exited with code",
    "=1 ollama serve: this GGUF's own chat template declares tools or thinking",
]


def _squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def source() -> str:
    files = sorted((ROOT / "gr_colab").rglob("*.py")) + sorted((ROOT / "scripts").glob("*.sh"))
    text = "\n".join(f.read_text(encoding="utf-8") for f in files)
    text = re.sub(r"""(["'])\s*\n\s*(?:f|rf|fr)?\1""", "", text)  # "abc " \n f"def" → "abc def"
    return _squash(text.replace("\\'", "'"))


@pytest.mark.parametrize("piece", QUOTED, ids=lambda p: p[:40])
def test_the_page_quotes_what_the_kit_prints(piece, source):
    assert _squash(piece) in _squash(DOC.read_text(encoding="utf-8")), "the page no longer quotes it"
    assert _squash(piece) in source, "the kit no longer prints it: update docs/troubleshooting.md"


def test_the_page_is_linked_from_the_readme_and_every_notebook_page():
    assert "docs/troubleshooting.md" in (ROOT / "README.md").read_text()
    for page in sorted((ROOT / "docs").glob("[0-9][0-9]_*.md")):
        line = next(l for l in page.read_text().splitlines() if l.startswith("**When it fails.**"))
        assert "(troubleshooting.md)" in line, page.name
