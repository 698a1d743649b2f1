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
config, env = colab.start(PRESET, OVERRIDES, notebook="00_setup", needs=[])

# %% [markdown]
# ## The stage: what this session has, and what a run will cost
#
# The Setup cell printed the GPU (a T4 has no bf16: the presets use fp16), whether a Hugging Face token was found
# (add a secret named `HF_TOKEN` with the key icon in Colab's left bar; the kit never prints it) and the run folder.
# `PRESET = "auto"` takes `t4-270m` on a GPU and `cpu-tiny` without one. On Colab the run folder is on Drive
# (`/content/drive/MyDrive/gr-colab/<preset>`, mounted for you): checkpoints survive a disconnect, and every later
# notebook reloads this run's saved config.
#
# The planner estimates peak memory and wall time from parameter and token counts, for every notebook and the
# whole course, and says how the course spans sessions when it does not fit in one. Its assumptions are constants in
# `gr_colab/planner.py`.

# %%
from gr_colab.planner import plan_session
for preset in ["t4-270m", "t4-1b", "t4-3b"]:
    print("\n".join(plan_session(GRConfig.load(preset))), end="\n\n")

# %% [markdown]
# HS-DPO is where a T4 runs out of memory: a pair is two sequences, and the reference forward adds a third pass.

# %%
from gr_colab.planner import plan
print(plan("unsloth/Llama-3.2-3B-Instruct", gpu="T4", stage="hsdpo", samples=2000, batch_size=4).summary())

# %% [markdown]
# ## Results
# The plan for the preset you chose (on the CPU twin there is no T4 plan for a tiny model, so we show t4-1b):

# %%
from gr_colab.planner import plan_config
target = config if not config.is_twin else GRConfig.load("t4-1b")
result = plan_config(target, gpu="T4")
print(result.summary())

# %% [markdown]
# ## Exercise
# With `gr_colab.planner.plan`, find how many R-SFT samples of `unsloth/Llama-3.2-3B-Instruct` (batch 1, one
# epoch, 700 tokens a row) fit in one free 3-hour T4 session.

# %%
ANSWER = None  # your answer here (a whole number)

# %%
from gr_colab.exercises import check_00
check_00(ANSWER)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# from gr_colab.planner import plan
# ANSWER = plan("unsloth/Llama-3.2-3B-Instruct", gpu="T4", samples=100000, batch_size=1).max_samples_in_session
# ```
#
# Ask for more samples than any session holds: the plan then says how many fit before the session ends.
# A number typed by hand from the printed hours is close but not the planner's figure.
# </details>
