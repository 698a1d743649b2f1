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
# # 03 · R-SFT: teach the model to reason before it answers
#
# **What you will learn**
# - how a GuardReasonerTrain row becomes a prompt/completion pair, rendered by the model's own chat template;
# - why the loss is on the completion only, and how to see which tokens carry it;
# - LoRA on a 4-bit base with Unsloth on a T4; checkpoints on Drive; resuming after a disconnect.
#
# **Expected time and memory on a T4:** t4-270m about 10 min (≈ 5 GB); t4-1b about 25 min for 2,000 rows (≈ 6 GB);
# t4-3b about 60 min (≈ 9 GB). The CPU twin: 1–3 minutes.

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
# ## The stage: prepare the data, look at one example, train
#
# `prepare` validates every row (a bad row names its file, row and field), keeps a held-out slice to measure what
# R-SFT changes, and writes both into the run folder.

# %%
from gr_colab.pipeline import run_stage
prepared = run_stage(config, "prepare")

# %% [markdown]
# One training example as the trainer sees it. Only the completion (the trace, the answers and the end-of-turn
# token) carries loss; the instruction and the input do not.

# %%
from gr_colab.models import load_model
from gr_colab.data import read_jsonl
from gr_colab.rsft import label_preview
row = read_jsonl(config.path / "prepare" / "train.jsonl")[0]
preview = label_preview(config, load_model(config), row)
print(f"{preview['ignored_tokens']} prompt tokens ignored, {preview['trained_tokens']} tokens trained")
print(preview["trained"][:600])

# %% [markdown]
# Train. Checkpoints are written every `save_steps` and marked complete only once every file is on disk; run this
# cell again after a disconnect and it resumes from the last complete one (a finished stage is skipped).

# %%
trained = run_stage(config, "rsft")
trained

# %% [markdown]
# ## Results: the loss, and whether the model now writes parsable traces

# %%
from IPython.display import Image, display
display(Image(str(config.path / "rsft" / "curves.png")))

# %%
from gr_colab.evaluate import holdout_check
held = read_jsonl(config.path / "prepare" / "holdout.jsonl")[:8]
before = holdout_check(config, load_model(config, trainable=False), held, "base")
after = holdout_check(config, load_model(config, adapter=config.path / "rsft" / "adapter", trainable=False), held, "rsft")
print(f"strict parse rate on held-out items: before {before['parse_rate']:.0%}, after {after['parse_rate']:.0%}")

# %% [markdown]
# ## Exercise
# Decode the tokens of `row` that carry loss (hint: `label_preview`) and put the text in `ANSWER`.

# %%
ANSWER = None  # your answer here

# %%
from gr_colab.exercises import check_03
check_03(ANSWER)
