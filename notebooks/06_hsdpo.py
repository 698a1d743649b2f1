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
# **Expected time and memory on a T4:** t4-1b, a few hundred pairs: about 20 min (≈ 8 GB: DPO is where a T4 runs
# out of memory; the preset uses batch 1 x 8). The CPU twin: a few minutes.

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
# ## The stage: train on the mined pairs, then evaluate the new adapter

# %%
from gr_colab.pipeline import run_stage
for stage in ["prepare", "rsft", "eval", "mine", "hsdpo"]:
    summary = run_stage(config, stage)
summary

# %%
evaluated = run_stage(config, "eval")  # evaluates only what is new: the HS-DPO adapter

# %% [markdown]
# ## Results

# %%
from IPython.display import Image, display
if (config.path / "hsdpo" / "curves.png").exists():
    display(Image(str(config.path / "hsdpo" / "curves.png")))

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
