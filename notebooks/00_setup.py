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
# # 00 · Setup: the machine, the Drive, the token, the budget
#
# **What you will learn**
# - how the kit installs on Colab (one pinned set, the same versions the tests run) and what runs without a GPU;
# - where a run's files go (Google Drive survives a disconnect) and how the Hub token is read from Colab secrets;
# - how to tell, before you start, whether a model fits in a T4's 15 GB and in a free session.
#
# **Expected time and memory:** 2–4 minutes on a T4 (the install); no GPU memory.

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
# ## The stage: what this session has, and what a run will cost
#
# `colab.setup` printed the GPU (a T4 has no bf16: the presets use fp16), whether a Hugging Face token was found
# (add a secret named `HF_TOKEN` with the key icon in Colab's left bar; the kit never prints it) and the run folder.
# Put `run_dir` on Drive (`/content/drive/MyDrive/...`) and `setup` mounts it: checkpoints then survive a disconnect.
#
# The budget planner estimates peak memory and wall time from parameter and token counts. Its assumptions are
# constants in `gr_colab/budget.py`.

# %%
from gr_colab.budget import plan
for preset in ["t4-270m", "t4-1b", "t4-3b"]:
    c = GRConfig.load(preset)
    print(plan(c.model_name, gpu="T4", samples=2000, batch_size=c.rsft_batch_size, lora_r=c.lora_r,
               load_in_4bit=c.load_in_4bit).summary(), end="\n\n")

# %% [markdown]
# HS-DPO is where a T4 runs out of memory: a pair is two sequences, and the reference forward adds a third pass.

# %%
print(plan("unsloth/Llama-3.2-3B-Instruct", gpu="T4", stage="hsdpo", samples=2000, batch_size=4).summary())

# %% [markdown]
# ## Results
# The plan for the preset you chose (on the CPU twin there is no T4 plan for a tiny model, so we show t4-1b):

# %%
from gr_colab.budget import plan_config
target = config if not config.is_twin else GRConfig.load("t4-1b")
result = plan_config(target, gpu="T4")
print(result.summary())

# %% [markdown]
# ## Exercise
# With `gr_colab.budget.plan`, find how many R-SFT samples of `unsloth/Llama-3.2-3B-Instruct` (batch 1, one
# epoch, 700 tokens a row) fit in one free 3-hour T4 session.

# %%
ANSWER = None  # your answer here (a whole number)

# %%
from gr_colab.exercises import check_00
check_00(ANSWER)
