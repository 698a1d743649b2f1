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

# %% [markdown]
# ## Setup

# %%
import os, shutil, subprocess, sys
KIT = "https://github.com/gr-colab/gr-colab"  # or a copy on Drive, e.g. "/content/drive/MyDrive/gr-colab-src"
if "google.colab" in sys.modules and not os.path.isdir("gr-colab"):  # Colab: fetch the kit once per session
    if KIT.startswith("/content/drive"):
        from google.colab import drive; drive.mount("/content/drive"); shutil.copytree(KIT, "gr-colab")
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
# ## Results: the Modelfile and the commands

# %%
print((config.path / "export" / "gguf" / "Modelfile").read_text())
print(exported["commands"]["create"]); print(exported["commands"]["run"])

# %% [markdown]
# Pushing to the Hub: a dry run lists the files; set `hub_repo` in the config and call with `dry_run=False` once a
# token is in Colab's secrets.

# %%
from gr_colab.hub import push
card = (config.path / "export" / "README.md").read_text()
files = push("your-name/guardreasoner-demo", {"merged": config.path / "export" / "merged",
                                              "gguf": config.path / "export" / "gguf"}, card, dry_run=True)

# %% [markdown]
# ## Exercise
# Which stop strings must a Modelfile for this tokenizer carry? Give a list of strings.

# %%
ANSWER = None  # your answer here (a list of strings)

# %%
from transformers import AutoTokenizer
from gr_colab.exercises import check_07
check_07(ANSWER, AutoTokenizer.from_pretrained(str(config.path / "export" / "merged")))
