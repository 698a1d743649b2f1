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
# # 04 · Evaluation: F1 on the paper's benchmarks, before and after R-SFT
#
# **What you will learn**
# - batched generation (left padding, length-sorted batches, greedy, stopping at every end-of-turn token);
# - the paper's metric, `official` (quirks included) and `corrected`, per benchmark and as the row-weighted average;
# - reading confusion matrices, and a live demo of the guard.
#
# **Expected time and memory on a T4:** t4-1b, 200 items per benchmark: about 15 min per model (≈ 4 GB).
# The CPU twin: a few minutes.

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
# ## The stage: generate on each benchmark with the base model and the R-SFT model, then score
# A restarted run skips the items already written (`generated_predictions.jsonl`, in the official shape).

# %%
from gr_colab.pipeline import run_stage
for stage in ["prepare", "rsft", "eval"]:
    summary = run_stage(config, stage)

# %%
from gr_colab.evaluate import Report
import json
reports = {n: Report.from_json(json.loads((config.path / "eval" / n / "report.json").read_text()))
           for n in ("base", "rsft")}
print(reports["rsft"].markdown())

# %% [markdown]
# ## Results: before against after

# %%
from gr_colab.evaluate import compare
import pandas as pd
pd.DataFrame(compare(reports["base"], reports["rsft"]))

# %%
from IPython.display import Image, display
display(Image(str(config.path / "eval" / "compare_base_rsft.png")))
display(Image(str(config.path / "eval" / "rsft" / "f1_request.png")))

# %% [markdown]
# ### Try it: type a request and a response, watch the reasoning, see the verdicts

# %%
from gr_colab.models import load_model
from gr_colab.widgets import guard_demo
demo = guard_demo(load_model(config, adapter=config.path / "rsft" / "adapter", trainable=False),
                  max_new_tokens=config.max_new_tokens)
demo.run()
demo

# %% [markdown]
# ### Optional, Colab GPU only: your guard beside Llama Guard 3 1B and Qwen3Guard-Gen-0.6B
# The same benchmarks and the same metric: each ready guard is prompted as its model card says and its output is
# read into the paper's words by `gr_colab.guards`. Llama Guard 3 is gated (accept its license on the Hub and add
# `HF_TOKEN` first) and has no refusal task. On the CPU twin this cell prints why it skips. See `docs/guards.md`.

# %%
from gr_colab.ready_guards import compare_with_ready_guards
side = compare_with_ready_guards(config, reports["rsft"])  # None when skipped
pd.DataFrame(side) if side else None

# %% [markdown]
# ## Exercise
# What is the R-SFT model's **corrected** weighted F1 on prompt harmfulness? Read it from `reports`.

# %%
ANSWER = None  # your answer here (a number)

# %%
from gr_colab.exercises import check_04
check_04(ANSWER, reports["rsft"])
