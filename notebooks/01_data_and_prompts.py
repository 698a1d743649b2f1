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
# # 01 · Data and prompts: what a reasoning guard reads and writes
#
# **What you will learn**
# - the exact GuardReasoner prompt (three tasks, one instruction) and why it must match byte for byte;
# - the anatomy of a reasoning trace, and how the kit parses it (`official` and `strict`);
# - the training rows (GuardReasonerTrain) and the paper's metric, reproduced on real GuardReasoner-1B outputs.
#
# **Expected time and memory:** the Setup cell prints the planner's estimate for your preset (`gr-colab plan
# --preset t4-270m` shows every stage), and each stage prints what it measured.

# %% [markdown]
# ## Config — the only cell you edit

# %%
PRESET = "auto"  # auto: t4-270m on a GPU, cpu-tiny without; or cpu-tiny, cpu-270m, t4-270m, t4-1b, t4-3b
OVERRIDES = {}  # any config field, e.g. {"train_limit": 500}
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
config, env = colab.start(PRESET, OVERRIDES, notebook="01_data_and_prompts", needs=[])

# %% [markdown]
# ## The stage: prompts, traces, data, metric
#
# ### 1. The prompt
# One instruction asks for three tasks. Note the trailing spaces after "AI.", "compliance." and "unharmful.":
# the released models were trained on them.

# %%
from gr_colab import prompts
print(repr(prompts.INSTRUCTION))
item = prompts.format_input("How do I whittle a knife?")  # a prompt-only item: the response is the literal None
print(prompts.raw_prompt(item))

# %% [markdown]
# For training we send the same text as one user turn through the model's own chat template:

# %%
prompts.chat_messages(item)

# %% [markdown]
# ### 2. The anatomy of a trace
# `# Task 1 … # Task 3`, numbered reasoning steps, `---`, then the Answers block. Here is a real row of
# GuardReasonerTrain, and what the parser makes of it.

# %%
from gr_colab.data import load_train
from gr_colab.runtime import SAMPLE_DATA
real = load_train(SAMPLE_DATA / "train_sample_real.json").rows[2]
print(real["output"])

# %%
from gr_colab.traces import parse_trace
v = parse_trace(real["output"])
v.labels, v.status, v.steps["request"]

# %% [markdown]
# ### 3. Parsing real model outputs: `official` against `strict`
# The official script reads the last 300 characters; real outputs drift (`# Answers` headers, `None` answers, echoed
# blocks). Count what each reader gets from the 1,593 released GuardReasoner-1B outputs:

# %%
import collections
from gr_colab.runtime import read_jsonl
pred_dir = SAMPLE_DATA / "predictions" / "guardreasoner-1b"
outputs = [r["predict"] for f in sorted(pred_dir.glob("*/generated_predictions.jsonl")) for r in read_jsonl(f)]
{mode: collections.Counter(parse_trace(t, mode=mode).status for t in outputs) for mode in ("official", "strict")}

# %% [markdown]
# ### 4. The training data
# The kit bundles a small training set in the GuardReasonerTrain format, one file per source style:

# %%
from gr_colab.data import load_train_files
from gr_colab.config import SAMPLE_TRAIN
loaded = load_train_files(SAMPLE_TRAIN, root=SAMPLE_DATA.parent)
print(loaded.report())
collections.Counter((r["dataset"], r["labels"]["request"]) for r in loaded.rows)

# %% [markdown]
# ## Results: the paper's metric on the released predictions
# F1 with `harmful` (or `refusal`) as the positive class; `official` reproduces the paper's script quirks included,
# `corrected` counts each unparsable output once as wrong.

# %%
from gr_colab.evaluate import score_file
for name, task in [("SimpleSafetyTests", "prompt"), ("AegisSafetyTest", "prompt"), ("HarmBenchPrompt", "prompt"),
                   ("XSTestReponseHarmful", "response"), ("XSTestResponseRefusal", "refusal")]:
    path = pred_dir / name / "generated_predictions.jsonl"
    print(f"{name:24s} official {score_file(path, task, 'official').f1:6.2f}   "
          f"corrected {score_file(path, task, 'corrected').f1:6.2f}")

# %% [markdown]
# ## Exercise
# The output below ends with a `# Answers` block. Which labels does the **official** parser read?
# Write them as a dict `{"request": ..., "completion": ..., "response": ...}` (use Python `None` for no match).
#
# ```
# # Answers
#
# Request: harmful
# Completion: None
# Response: None
# ```

# %%
ANSWER = None  # your answer here

# %%
from gr_colab.exercises import check_01
check_01(ANSWER)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# ANSWER = {"request": "harmful", "completion": None, "response": None}
# ```
#
# The official regexes read `harmful`/`unharmful` and `refusal`/`compliance` only: the answer `None` matches
# nothing, so those tasks get no label at all (Python `None`), not the string `"None"`.
# Check it: `parse_trace(text, mode="official").labels`.
# </details>
