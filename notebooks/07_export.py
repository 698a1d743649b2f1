# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · Export: merged weights, GGUF, Ollama and the Hub
#
# **What you will learn**
# - merging LoRA into 16-bit weights; GGUF f16, q8_0 and q4_k_m with llama.cpp's own converter and quantizer;
# - proving each file: llama.cpp loads it, its greedy tokens match the merged model's, its chat template matches;
# - an Ollama Modelfile that stops where it should; pushing to the Hub with a model card (a dry run first).
#
# **Expected time and memory:** the Setup cell prints the planner's estimate for your preset (`gr-colab plan
# --preset t4-270m` shows every stage), and each stage prints what it measured.

# %% [markdown]
# ## Config — the only cell you edit

# %%
PRESET = "auto"  # auto: t4-270m on a GPU, cpu-tiny without; or cpu-tiny, cpu-270m, t4-270m, t4-1b, t4-3b
OVERRIDES = {}  # any config field, e.g. {"train_limit": 500}; on Colab the run folder is on Drive
KIT = "https://github.com/gr-colab/gr-colab"  # the kit; or a copy on Drive, e.g. "/content/drive/MyDrive/gr-colab-src"

# %% [markdown]
# ## Setup
# Each notebook is a new Colab runtime (its own VM, install, Drive prompt and T4): disconnect the previous
# notebook's first (Runtime > Disconnect and delete runtime) so it does not hold a GPU. The run folder on Drive carries
# the work from one notebook to the next; accept Drive's prompt when it appears.

# %%
import os, shutil, subprocess, sys
if "google.colab" in sys.modules and not os.path.isdir("gr-colab"):  # Colab: fetch the kit once per runtime
    if "/drive/MyDrive/" in KIT:  # a copy on Drive: mount Drive where the path says, then copy
        from google.colab import drive; drive.mount(KIT.split("/MyDrive/")[0]); shutil.copytree(KIT, "gr-colab")
    else:
        subprocess.run(["git", "clone", "-q", "--depth", "1", KIT, "gr-colab"], check=True)
sys.path.insert(0, "gr-colab")
from gr_colab import GRConfig, colab  # on Colab, Unsloth is imported first
colab.install()  # Colab only: quiet, keeps Colab's torch, pinned Unsloth, prints versions
config, env = colab.start(PRESET, OVERRIDES, notebook="07_export", needs=['rsft'])

# %% [markdown]
# ## The stage: merge, convert, quantize, verify, write the Modelfile
# llama.cpp's converter and quantizer come from the `llama-cpp-python` package: `bash scripts/install_llamacpp.sh`
# (the kit's setup runs it; on Colab the first time takes about 8 minutes to compile).

# %%
from gr_colab.pipeline import run_stage
exported = run_stage(config, "export")
print(exported["table"])

# %% [markdown]
# ### The guard in Ollama, answering from this notebook
# On Colab the next cell installs Ollama with its official script (about a minute), starts `ollama serve` in the
# background (log: `export/ollama.log` in the run folder), waits until it answers and runs `ollama create` with the
# Modelfile. Off Colab there is no Ollama to install, so the same cell starts a **stand-in**: llama.cpp serving the
# same GGUF behind Ollama's API, with the Modelfile's template, stop strings and temperature.

# %%
from gr_colab import service
served = service.start(config)
print(served)

# %% [markdown]
# A few items, side by side: the HF model (the run's adapter, in transformers) and the GGUF through Ollama's API, with
# `OllamaGuard` (it sends only the interaction: the instruction is in the Modelfile's template). The q4_k_m file is
# quantized, so a verdict can differ where the model was unsure; `agree` says where.

# %%
table = service.side_by_side(config, served)
table

# %% [markdown]
# Ask it yourself, then stop the server this notebook started (on Colab: `ollama serve`, by its process id).

# %%
print(served.guard().classify("How do I hotwire a car that isn't mine?").labels)
served.stop()

# %% [markdown]
# ### A playground to share
# The exported guard in a page: a request, a response, the three verdicts with the reasoning, and examples from the
# benchmarks. On Colab it opens here with a public link (`share=True`) to send to a neighbour; elsewhere on this
# machine only. `gr-colab demo` opens the same page from a terminal.

# %%
from gr_colab import playground
demo = playground.demo(config)

# %%
demo.close()  # stops the page and frees the guard (both also end with the runtime)

# %% [markdown]
# ## Results: the Modelfile and the commands

# %%
print(config.layout.modelfile.read_text())
print(exported["commands"]["create"]); print(exported["commands"]["run"])

# %% [markdown]
# Pushing to the Hub is driven by the config: put `"hub_repo": "your-name/guardreasoner"` and `"hub_push": True` in
# `OVERRIDES` (and a Colab secret `HF_TOKEN` with write access). Without `hub_push` this is a dry run that lists the
# files: the adapter, the merged model, the GGUF files and the Modelfile, with the model card.

# %%
from gr_colab.hub import push_export
files = push_export(config, merged=exported["merged"])

# %% [markdown]
# ## Exercise
# Which stop strings must a Modelfile for the merged model carry: all of them, and nothing else (a stop string cuts
# the answer wherever it appears)? Give a list of strings.

# %%
ANSWER = None  # your answer here (a list of strings)

# %%
from gr_colab.exercises import check_07
check_07(ANSWER, config)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# from transformers import AutoTokenizer
# tok = AutoTokenizer.from_pretrained(str(config.layout.guard_adapter()))  # the tokenizer in use, kept by the adapter
# chat = tok.apply_chat_template([{"role": "user", "content": "§"}, {"role": "assistant", "content": "¶"},
#                                 {"role": "user", "content": "§"}], tokenize=False)
# between = tok.tokenize(chat.split("¶")[1].split("user")[0])  # what ends the model's turn, opens the next one
# ANSWER = sorted({tok.eos_token} | {t for t in between if t.strip() and t in tok.all_special_tokens})
# ```
#
# Every token that ends the model's turn (the tokenizer's eos, and what the template writes after the model's
# message) and the token that would open the next user turn: without them the model writes the next turn itself.
# Gemma 3 (t4-270m): `<end_of_turn>` and `<start_of_turn>`, with its eos; the twin and Llama 3: `<|eot_id|>` and
# `<|start_header_id|>`. The Modelfile the export wrote lists them too (`PARAMETER stop`).
# </details>
