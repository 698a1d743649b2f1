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
# # 09 · MODPO: a chat model both helpful and safe, with your guard as the judge of cost
#
# **What you will learn**
# - MODPO (Zhou et al., arXiv 2310.03708): train a safety reward by DPO on "safer" preferences, then run DPO on the
#   "better" (helpfulness) preferences with that reward as a margin, weighted by `1 - w`;
# - why the margins are computed once (the safety reward is frozen), and why `w = 1` is plain DPO;
# - sweeping `w` to trace a front: helpfulness against cost, where cost is judged by **the guard you trained** in
#   notebooks 03–06 (the share of answers it calls harmful), next to the safety reward's own cost.
#
# **Expected time and memory:** the Setup cell prints the planner's estimate for your preset (`gr-colab plan
# --preset t4-270m` shows every stage), and each stage prints what it measured. This chapter is five DPO runs (two
# rewards, three values of `w`), then greedy answers and your guard's verdicts; not yet measured on a T4. The CPU
# twin: a few minutes, with meaningless numbers (random weights): it shows the mechanics.

# %% [markdown]
# ## Config — the only cell you edit

# %%
PRESET = "auto"  # auto: t4-270m on a GPU, cpu-tiny without; or cpu-tiny, cpu-270m, t4-270m, t4-1b, t4-3b
OVERRIDES = {}  # e.g. {"modpo_weights": [0.1, 0.5, 0.9], "modpo_safety_labels": "guard"}
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
config, env = colab.start(PRESET, OVERRIDES, notebook="09_modpo", needs=[])

# %% [markdown]
# ## The stage: the guard, the data, two rewards, the margins, one model per w, the front
#
# The guard that judges cost is your run's HS-DPO adapter, or its R-SFT adapter (trained here if the run has none).

# %%
from gr_colab import modpo
from gr_colab.pipeline import run_stage
for stage in ["prepare", "rsft"]:  # skipped when notebooks 03-06 already ran in this run folder
    run_stage(config, stage)
guard = modpo.guard_adapter(config)
guard

# %% [markdown]
# PKU-SafeRLHF rows: one prompt, two answers, which one is more helpful (`better_response_id`) and which one is
# safer (`safer_response_id`). They disagree on many rows: that is the trade-off.

# %%
import pandas as pd
train, held, report = modpo.prepare_data(config)
print(report)
pd.DataFrame(train[:4])

# %% [markdown]
# Step 1: DPO on the "safer" pairs gives the safety reward r(x, y) = β·(log p_safe(y|x) − log p_base(y|x)). DPO on
# the "better" pairs gives this chapter's helpfulness judge, the same way. With `modpo_safety_labels: guard`, your
# guard decides which answer is safer (ties and unparsed verdicts keep the dataset's label; `guard-strict` drops
# them).

# %%
safe_rows, guard_labels = modpo.safety_rows(config, train, guard)
rewards = modpo.train_rewards(config, train, safe_rows)
guard_labels

# %% [markdown]
# The margins: the frozen safety reward of each "better" pair's chosen and rejected answer, computed once.

# %%
pairs = modpo.margins(config, train, rewards["safety"])
pd.DataFrame(pairs)[["chosen", "rejected", "margin_chosen", "margin_rejected"]].head()

# %% [markdown]
# Step 2: one MODPO model per `w` (helpfulness weight `w`, safety weight `1 - w`), each from the same base.

# %%
adapters = modpo.sweep(config, pairs)
summary = modpo.run_modpo(config)  # answers, scores and the front (the trained adapters are reused)

# %% [markdown]
# ## Results
#
# Each point is one `w`; the star is the base (SFT) model. Left: the share of answers your guard calls harmful.
# Right: the cost the safety reward assigns (minus its implicit reward). Up and to the left is better.

# %%
from IPython.display import Image, display
display(Image(str(config.layout.stage("modpo") / "front.png")))
pd.DataFrame(summary["front"] + [{**summary["reference"], "w": "reference"}])

# %%
scores = pd.read_json(config.layout.stage("modpo") / "scores.jsonl", lines=True)
scores.pivot(index="prompt", columns="variant", values="response").head(3)

# %% [markdown]
# ## Exercise
# One "better" pair: β = 0.1, the policy's log-ratio margin (chosen minus rejected, each against the reference) is 2,
# the safety reward gives the chosen answer a margin of 0.3 and the rejected one −0.2, and w = 0.5. What is its MODPO
# loss? (Hint: the safety reward prefers the chosen answer, so MODPO asks for *less* of a push on it.)

# %%
ANSWER = None  # your answer here (a number)

# %%
from gr_colab.exercises import check_09
check_09(ANSWER)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# import math
# z = (0.1 * 2 - (1 - 0.5) * (0.3 - (-0.2))) / 0.5  # -0.1: the safety margin takes back more than the push
# ANSWER = -math.log(1 / (1 + math.exp(-z)))  # about 0.7444
# ```
#
# MODPO subtracts the safety reward's margin, weighted by 1 − w, from β times the policy's margin, divides by w, and
# takes −log σ of that, as DPO does.
# </details>
