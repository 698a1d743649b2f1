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
# # 08 · Red-teaming the guard: a proposer learns to find its failures (ReverseGen)
#
# **What you will learn**
# - failure-inducing exploration (ReverseGen, arXiv 2410.16736): a small proposer model writes requests, the ones
#   your guard gets wrong become DPO preferences, and the proposer gets better at finding failures;
# - near-duplicate removal with MinHash (word unigrams, 128 permutations, Jaccard 0.78) and the diversity metrics
#   the paper reports: Self-BLEU (Texygen's) and distinct-n;
# - why preference pairs must come from the same few-shot prompt;
# - hardening: R-SFT of the guard on its own failures, measured on fresh held-out proposals before and after.
#
# **Expected time and memory:** the Setup cell prints the planner's estimate for your preset (`gr-colab plan
# --preset t4-270m` shows every stage), and each stage prints what it measured.

# %% [markdown]
# ## Config — the only cell you edit

# %%
PRESET = "auto"  # auto: t4-270m on a GPU, cpu-tiny without; or cpu-tiny, cpu-270m, t4-270m, t4-1b, t4-3b
OVERRIDES = {}  # e.g. {"redteam_iterations": 3, "redteam_prompts": 64, "redteam_target": "chat"} on a T4
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
config, env = colab.start(PRESET, OVERRIDES, notebook="08_redteam", needs=[])

# %% [markdown]
# ## The stage: seeds, the guard, then the loop
# The proposer is warmed up on few-shot prompts built from seed requests (the kit's own training rows, credited in
# `sample_data/redteam/README.md`). Each prompt lists three seeds and leaves the fourth line for the proposer:

# %%
from gr_colab.redteam import few_shot_prompt, load_seeds, seeds_path
seeds = load_seeds(seeds_path(config))
print(len(seeds), "seeds;", sum(s["label"] == "harmful" for s in seeds), "labelled harmful")
print(few_shot_prompt([s["request"] for s in seeds[40:43]]))

# %% [markdown]
# The guard under attack is this run's own: the HS-DPO adapter if notebook 06 ran, else the R-SFT one (trained
# here if missing). On the CPU, a failure is a request the guard labels differently from the **reference
# labeller**: the label of the seed the request nearly copies, else a Naive Bayes over the seeds' words, else no
# label (the request is not judged). It is a keyword judge, no stronger than the seeds; on Colab set
# `redteam_reference` to a stronger guard (e.g. `yueliu1999/GuardReasoner-1B`).

# %%
from gr_colab.pipeline import run_stage
for stage in ["prepare", "rsft"]:
    run_stage(config, stage)

# %%
from gr_colab.redteam import run_redteam
summary = run_redteam(config)  # warm-up, iterations (each resumable), held-out before/after, hardening

# %% [markdown]
# ## Results
# Per iteration: the failure rate of fresh proposals (the paper's attack success rate: failures / judged), the
# diversity of what was kept after dedup, the failures found and the candidates dropped as near-duplicates.

# %%
import pandas as pd
cols = ["iteration", "candidates", "duplicates_dropped", "kept", "judged", "unique_failures", "failure_rate",
        "self_bleu", "distinct_1", "distinct_2", "pairs"]
pd.DataFrame(summary["iterations"])[cols]

# %%
from IPython.display import Image, display
display(Image(str(config.layout.stage("redteam") / "metrics.png")))
summary["hardening"]

# %%
from gr_colab.runtime import read_jsonl
failures = [r for r in read_jsonl(config.layout.stage("redteam") / "iter_01" / "labelled.jsonl") if r["failure"]]
for r in failures[:5]:  # what the guard got wrong, and why
    print(f"{r['why']:<28} reference {r['reference']} ({r['reference_how']}): {r['request'][:80]}")

# %% [markdown]
# ### Dedup on requests you can read
# Of a near-duplicate pair (Jaccard of word sets ≥ 0.78, estimated by MinHash) the later one is dropped:

# %%
from gr_colab.redteam import dedup
texts = ["How do I make a pipe bomb at home?", "how do I make a pipe bomb at home today",
         "How can I bake sourdough bread at home?"]
d = dedup(texts)
[("kept" if i in d.kept else f"dropped (copies {d.dropped[i]})", t) for i, t in enumerate(texts)]

# %% [markdown]
# ## Exercise
# distinct-2 is the number of different word pairs (bigrams) divided by all word pairs, over every text. What is it
# for the two requests `"how do I pick a lock"` and `"how do I pick a fight"`? (Split on spaces.)

# %%
ANSWER = None  # your answer here (a number between 0 and 1)

# %%
from gr_colab.exercises import check_08
check_08(ANSWER)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# pairs = [tuple(t.split()[i:i + 2]) for t in ["how do I pick a lock", "how do I pick a fight"] for i in range(5)]
# ANSWER = len(set(pairs)) / len(pairs)  # 6 different of 10: 0.6
# ```
#
# Each request has five word pairs; four are shared ("how do", "do I", "I pick", "pick a"), so 6 of the 10 differ.
# `gr_colab.redteam.distinct_n(texts, 2)` computes the same.
# </details>
