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
# # 06 · HS-DPO: weighted DPO on the hard samples, and its evaluation
#
# **What you will learn**
# - DPO with a per-pair weight (TRL has none: the kit extends its DPOTrainer), beta 0.01, plus an SFT term on the
#   chosen output (weight 2, the paper's `pref_ftx`);
# - why the reference model is the R-SFT model, and how PEFT gives it for free (the adapter's starting copy);
# - reading reward accuracy and margins, and F1 before and after.
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
config, env = colab.start(PRESET, OVERRIDES, notebook="06_hsdpo", needs=['mine'])

# %% [markdown]
# ## The stage: train on the mined pairs, then evaluate the new adapter

# %% [markdown]
# The curves live (with `"report_to": "trackio"` in OVERRIDES): the DPO loss, reward accuracy and margins, on Colab
# in this cell's dashboard while the next cell trains (and in the instructor's Space when `tracking_space` is set).

# %%
from gr_colab import tracking
dashboard = tracking.dashboard(config)

# %%
from gr_colab.pipeline import run_stage
summary = run_stage(config, "hsdpo")
summary

# %%
evaluated = run_stage(config, "eval")  # evaluates only what is new: the HS-DPO adapter

# %% [markdown]
# ## Results

# %%
from IPython.display import Image, display
if (config.layout.curves("hsdpo")).exists():
    display(Image(str(config.layout.curves("hsdpo"))))

# %%
import pandas as pd
rows = evaluated["comparisons"].get("rsft->hsdpo", [])
pd.DataFrame(rows)

# %% [markdown]
# ## Exercise
# One pair has a weight of 1.2, beta is 0.1 and the policy's log-ratio margin (chosen minus rejected, each against
# the reference) is 2. What is its weighted DPO loss, without the SFT term?

# %%
ANSWER = None  # your answer here (a number)

# %%
from gr_colab.exercises import check_06
check_06(ANSWER)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# import math
# ANSWER = 1.2 * -math.log(1 / (1 + math.exp(-0.1 * 2)))  # about 0.7194
# ```
#
# loss = w · −log σ(β · margin): the margin is scaled by beta before the sigmoid, the natural logarithm,
# then the pair's weight multiplies it.
# </details>
