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
config, env = colab.start(PRESET, OVERRIDES, notebook="04_evaluation", needs=['rsft'])

# %% [markdown]
# ## The stage: generate on each benchmark with the base model and the R-SFT model, then score
# A restarted run skips the items already written (`generated_predictions.jsonl`, in the official shape).

# %%
from gr_colab.pipeline import run_stage
summary = run_stage(config, "eval")  # evaluates every variant not yet scored: base and R-SFT

# %%
from gr_colab.evaluate import Report
import json
reports = {n: Report.from_json(json.loads(config.layout.eval_report(n).read_text()))
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
display(Image(str(config.layout.stage("eval") / "compare_base_rsft.png")))
display(Image(str(config.layout.eval_dir("rsft") / "f1_request.png")))

# %% [markdown]
# ### Try it: type a request and a response, watch the reasoning, see the verdicts

# %%
from gr_colab.models import load_model
from gr_colab.widgets import guard_demo
demo = guard_demo(load_model(config, adapter=config.layout.adapter("rsft"), trainable=False),
                  max_new_tokens=config.max_new_tokens)
demo.run()
demo

# %% [markdown]
# ### Opt-in, Colab GPU only: your guard beside Llama Guard 3 1B and Qwen3Guard-Gen-0.6B
# The same benchmarks and the same metric: each ready guard is prompted as its model card says and its output is
# read into the paper's words by `gr_colab.guards.parsers`. Each guard is another evaluation's worth of generations, so
# the cell runs only with `compare_ready_guards=True` in `OVERRIDES` (it prints that it skipped otherwise). Llama
# Guard 3 is gated (accept its license on the Hub and add `HF_TOKEN` first) and has no refusal task. See
# `docs/guards.md`.

# %%
from gr_colab.guards import compare_with_ready_guards
side = compare_with_ready_guards(config, reports["rsft"])  # None when skipped (compare_ready_guards is False)
pd.DataFrame(side) if side else None

# %% [markdown]
# ## Exercise
# What is the R-SFT model's **corrected** weighted F1 on prompt harmfulness? Read it from `reports`.

# %%
ANSWER = None  # your answer here (a number)

# %%
from gr_colab.exercises import check_04
check_04(ANSWER, reports["rsft"])

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# ANSWER = reports["rsft"].averages("corrected")["request"]
# ```
#
# The weighted average over the prompt-harmfulness benchmarks (weights: their rows), under the corrected
# metric, in percent. Not the official metric, not one benchmark, not the response task.
# </details>
