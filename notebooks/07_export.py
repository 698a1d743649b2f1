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
# **Expected time and memory on a T4:** t4-1b: about 10 min and 6 GB of disk (merged 2.5 GB, f16 2.5 GB, q8_0
# 1.3 GB, q4_k_m 0.8 GB). The CPU twin: under a minute once llama.cpp is installed.

# %% [markdown]
# ## Config — the only cell you edit

# %%
PRESET = "cpu-tiny"  # cpu-tiny (no GPU), t4-270m, t4-1b, t4-3b, a100-8b
OVERRIDES = {}  # any config field, e.g. {"run_dir": "/content/drive/MyDrive/gr-colab/t4-1b"}

# %% [markdown]
# ## Setup

# %%
import subprocess, sys
if "google.colab" in sys.modules:  # Colab: install the kit once per session (pinned, see requirements.txt)
    subprocess.run("test -d gr-colab || git clone -q https://github.com/gr-colab/gr-colab && "
                   "pip install -q -r gr-colab/requirements.txt -e gr-colab", shell=True, check=True)
    sys.path.insert(0, "gr-colab")

from gr_colab import GRConfig, colab
config = GRConfig.load(PRESET, **OVERRIDES)
env = colab.setup(config)

# %% [markdown]
# ## The stage: merge, convert, quantize, verify, write the Modelfile
# llama.cpp's converter and quantizer come from the `llama-cpp-python` package: `bash scripts/install_llamacpp.sh`
# (the kit's setup runs it; on Colab the first time takes about 8 minutes to compile).

# %%
from gr_colab.pipeline import run_stage
for stage in ["prepare", "rsft"]:
    run_stage(config, stage)
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
