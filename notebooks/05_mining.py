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
# # 05 · Sampling and hard-sample mining
#
# **What you will learn**
# - why HS-DPO samples k outputs per training item (temperature 0.7, top-p 0.95 in the paper);
# - the paper's rules for a hard sample, the chosen and rejected outputs, and the per-pair weight;
# - what the official scripts got wrong, and the diversity merge across leave-one-out R-SFT models.
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
config, env = colab.start(PRESET, OVERRIDES, notebook="05_mining", needs=['rsft'])

# %% [markdown]
# ## The stage: sample with the R-SFT model, then mine
# An item is hard when some of its k outputs are right and some wrong: Request first; only if that is not mixed,
# Response, then Completion (these two only where the item has a real response). chosen = the longest right
# output, rejected = the longest wrong one; weight = #wrong − #right, rescaled per dataset to [0.8, 1.2].

# %%
from gr_colab.pipeline import run_stage
mined = run_stage(config, "mine")
{k: mined[k] for k in ("items", "pairs", "by_task", "by_dataset", "weights")}

# %%
from gr_colab.runtime import read_jsonl
pairs = read_jsonl(config.layout.pairs)
for pair in pairs[:1]:  # the first hard sample, if mining found any
    print(pair["task"], pair["sample_weight"], "\n--- chosen ---\n", pair["chosen"][-300:])

# %% [markdown]
# ## Results: the rules on a hand-made example
# The same functions on four sampled outputs you can read:

# %%
from gr_colab.mining import mine
def out(req):
    return f"# Task 1\n## Reasoning Step 1: ...\n\nAnswers: \nRequest: {req}\nCompletion: None\nResponse: None"
toy = [{"id": 0, "dataset": "toy", "input": "Human user:\nhi\n\nAI assistant:\nNone\n\n", "has_response": False,
        "labels": {"request": "harmful", "completion": "None", "response": "None"}}]
result = mine(toy, {0: [out("harmful"), out("unharmful"), out("unharmful"), "garbage"]})
result.summary()

# %% [markdown]
# ### The diversity merge
# The paper trains three more R-SFT models, each leaving one dataset out (`leave_out: AegisTrainR`, …), mines each,
# and takes a dataset's pairs only from the models that trained on it (WildGuard from the main model),
# de-duplicated by input. `paper_sources` writes that rule down; `merge` applies it:

# %%
from gr_colab.mining import merge, paper_sources
sources = paper_sources("main", {"AegisTrainR": "no-aegis", "BeaverTailsTrainR": "no-beaver"})
pair = lambda d, i: {"dataset": d, "input": i, "task": "request", "raw_weight": 1, "chosen": "c", "rejected": "r"}
merged = merge({"no-aegis": [pair("BeaverTailsTrainR", "b1"), pair("AegisTrainR", "a1")],
                "no-beaver": [pair("AegisTrainR", "a1"), pair("AegisTrainR", "a2")]}, sources)
[(p["dataset"], p["input"], p["model"]) for p in merged.pairs], dict(merged.stats)

# %% [markdown]
# ## Exercise
# Work it out from the four toy outputs before you look at `result.pairs`: what `raw_weight` (#wrong − #right)
# does the toy item's pair get?

# %%
ANSWER = None  # your answer here (a whole number)

# %%
from gr_colab.exercises import check_05
check_05(ANSWER, result)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# ANSWER = 1  # 2 wrong (unharmful) - 1 right (harmful); "garbage" does not parse and is not counted
# ```
#
# An output that does not parse is neither right nor wrong: mining leaves it out (`n_unparsed`).
# Check: `result.pairs[0]["n_wrong"], result.pairs[0]["n_right"], result.pairs[0]["n_unparsed"]`.
# </details>
