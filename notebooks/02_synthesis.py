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
# # 02 · Reasoning data synthesis: a teacher writes the traces
#
# **What you will learn**
# - the paper's recipe for GuardReasonerTrain: a strong teacher (GPT-4o, temperature 0) is shown each labelled item
#   *together with its gold labels* and writes numbered reasoning steps that end in exactly those labels;
# - what a run costs before you start it: tokens and dollars for GPT-4o, for this notebook and for the paper's 127K
#   items;
# - how a long run survives a Colab disconnect: a cache on disk (nothing is asked twice), retries with backoff for
#   timeouts, 5xx and malformed answers, and a limit on requests in flight;
# - the filter: the trace parser keeps only traces whose answers agree with the gold labels, and says why it drops
#   the others;
# - the two outputs, GuardReasonerTrain rows and the six-policy `training_data.json`, both ready for R-SFT.
#
# **Expected time and memory:** the Setup cell prints the planner's estimate for your preset (`gr-colab plan
# --preset t4-270m` shows every stage), and each stage prints what it measured.

# %% [markdown]
# ## Config — the only cell you edit

# %%
PRESET = "auto"  # auto: t4-270m on a GPU, cpu-tiny without; or cpu-tiny, cpu-270m, t4-270m, t4-1b, t4-3b
OVERRIDES = {}  # any config field, e.g. {"max_new_tokens": 1024}
KIT = "https://github.com/gr-colab/gr-colab"  # the kit; or a copy on Drive, e.g. "/content/drive/MyDrive/gr-colab-src"
TEACHER = "stand-in"  # "stand-in" (offline, no key), "openai" (needs the OPENAI_API_KEY secret),
# "ollama", "llama.cpp", "vllm" (their local address), or the base URL of any OpenAI-compatible server
TEACHER_MODEL = "gpt-4o"  # the model name your endpoint knows (the stand-in ignores it)
N_ITEMS = 12  # three-task items; the six-policy demo adds 4 samples x 6 policies
BUDGET_USD = 1.00  # a run whose estimate is higher stops before sending anything

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
config, env = colab.start(PRESET, OVERRIDES, notebook="02_synthesis", needs=[])

# %% [markdown]
# ## The stage: reasoning data synthesis
#
# ### 1. Items: labelled rows, gold labels attached
# Synthesis starts from data whose labels are known: GuardReasonerTrain-style rows, benchmark rows, or six-policy
# samples. A prompt-only item has no response, so its tasks 2 and 3 answer the literal `None`.

# %%
import collections
from gr_colab import synthesis
items = synthesis.demo_items(N_ITEMS)
collections.Counter((i.task_format, i.source) for i in items)

# %% [markdown]
# ### 2. The recipe: what the teacher reads
# The system turn restates the three tasks, the step rules (1 to 10 steps, each the smallest unit, a conclusion that
# agrees with the answer) and **the ground truth**, in the official Answers block. The user turn is the item's
# official `input` field, the very text the guard will be trained on.

# %%
system, user = synthesis.teacher_messages(items[5])
print(system["content"])
print("----- user turn -----")
print(user["content"])

# %% [markdown]
# ### 3. What it would cost with GPT-4o
# Estimated before anything is sent: characters / 4 for the prompt (no tokenizer for GPT-4o here), a typical trace
# length for the answer, list prices (check them: they change). Cached items are not counted.

# %%
estimate = synthesis.estimate(items, "gpt-4o")
print(estimate.describe())
print("the paper's GuardReasonerTrain:", estimate.scaled(synthesis.GUARDREASONERTRAIN_SIZE).describe())

# %% [markdown]
# ### 4. A local teacher: the preset's own model
# Any model the kit can load can be the teacher, greedily. On the CPU twin (random weights) every trace is
# gibberish, and the filter rejects them all, with the reason. On a T4 an instruct model does better.

# %%
from gr_colab.models import load_model
loaded = load_model(config, trainable=False)
local = synthesis.LocalTeacher(loaded, max_new_tokens=config.max_new_tokens, batch_size=config.gen_batch_size)
local_run = synthesis.synthesize(items[:4], local, config.path / "synthesis" / "local_cache.jsonl")

# %% [markdown]
# ### 5. A teacher behind an OpenAI-compatible API
# The same client speaks to OpenAI, a llama.cpp server, Ollama or vLLM. The default here is a **stand-in** server
# on this machine that answers from the gold labels, with injected faults (a 500, a malformed answer, a timeout)
# and one wrong trace, so you can watch the retries and a reject. The cost estimate is printed first.

# %%
teacher = synthesis.connect_teacher(TEACHER, TEACHER_MODEL)
print(teacher)
cache = config.path / "synthesis" / "cache.jsonl"
out_dir = config.path / "synthesis"
result = synthesis.synthesize(items, teacher, cache, out_dir=out_dir, concurrency=4, budget_usd=BUDGET_USD)

# %% [markdown]
# ### 6. Run it again: the cache
# Every answer was appended to `cache.jsonl` the moment it arrived. A second run (or a run after a disconnect)
# asks only for what is missing: here, nothing.

# %%
again = synthesis.synthesize(items, teacher, cache, out_dir=out_dir)
print("requests sent by the second run:", again.requested)

# %% [markdown]
# ## Results
# Both files load with the kit's data layer and convert to the prompt/completion rows R-SFT trains on.

# %%
from gr_colab.data import load_policy_data, load_train, to_sft_rows
train = load_train(result.paths["train"])
policy = load_policy_data(result.paths["six_policy"])
print(train.report())
print(policy.report())
print("SFT rows:", len(to_sft_rows(train.rows)), "three-task,", len(to_sft_rows(policy.rows)), "six-policy")

# %% [markdown]
# Two kept traces, one of each format, and the rejects with their reasons (all of them are in `rejects.jsonl`):

# %%
print(result.accepted[1][1])
print("\n==========\n")
print(result.accepted[-1][1])
print("\n==========\n")
print(result.rejects_report())

# %% [markdown]
# To train on what you made in notebook 03, point the config at it:
# `OVERRIDES = {"train_files": ["<run_dir>/synthesis/synth_train.json"]}` (or, for the six-policy format,
# `{"task_format": "six_policy", "train_files": ["<run_dir>/synthesis/training_data.json"]}`).

# %%
print(result.paths)
teacher.close()

# %% [markdown]
# ## Exercise
# A SimpleSafetyTests item is prompt-only (no response) and its gold label is `harmful`. Which gold labels does the
# teacher see for it? Write them as a dict `{"request": ..., "completion": ..., "response": ...}`.

# %%
ANSWER = None  # your answer here

# %%
from gr_colab.exercises import check_02
check_02(ANSWER)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# ANSWER = {"request": "harmful", "completion": "None", "response": "None"}
# ```
#
# A prompt-only item has no response to judge, so the teacher is told to answer tasks 2 and 3 with the
# literal string `None`, as the Answers block writes it: a string here, unlike the parser's missing label.
# </details>
