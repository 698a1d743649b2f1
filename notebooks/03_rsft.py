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
config, env = colab.start(PRESET, OVERRIDES, notebook="03_rsft", needs=[])

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
from gr_colab.runtime import read_jsonl
from gr_colab.rsft import label_preview
row = read_jsonl(config.layout.train_rows)[0]
loaded = load_model(config)
preview = label_preview(config, loaded, row)
tokenizer = loaded.tokenizer; del loaded  # the tokenizer stays for the exercise; the model's memory is freed
print(f"{preview['ignored_tokens']} prompt tokens ignored, {preview['trained_tokens']} tokens trained")
print(preview["trained"][:600])

# %% [markdown]
# Watch the loss live: with `"report_to": "trackio"` in OVERRIDES the trainer logs every `logging_steps` to trackio
# (in the run folder; with `"tracking_space": "org/space"` to one Space an instructor opens). On Colab this cell shows
# its dashboard here, and it keeps refreshing while the next cell trains; elsewhere it says how to open it.

# %%
from gr_colab import tracking
dashboard = tracking.dashboard(config)

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
display(Image(str(config.layout.curves("rsft"))))

# %%
from gr_colab.evaluate import holdout_check
held = read_jsonl(config.layout.holdout_rows)[:8]
before = holdout_check(config, load_model(config, trainable=False), held, "base")
after = holdout_check(config, load_model(config, adapter=config.layout.adapter("rsft"), trainable=False), held, "rsft")
print(f"strict parse rate on held-out items: before {before['parse_rate']:.0%}, after {after['parse_rate']:.0%}")

# %% [markdown]
# ## Exercise
# Which text of `row` carries loss? Build it from `row`'s own fields and the chat template of `tokenizer` (the one
# in use: not by copying `preview`), put it in `ANSWER`, and the check compares it with what the trainer masks.

# %%
ANSWER = None  # your answer here

# %%
from gr_colab.exercises import check_03
check_03(ANSWER, preview)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# turn = tokenizer.apply_chat_template([{"role": "user", "content": "?"}, {"role": "assistant", "content": "§"}],
#                                      tokenize=False)
# ANSWER = row["output"].rstrip() + turn.rsplit("§", 1)[1]  # the completion, then what closes the model's turn
# ```
#
# Only the completion carries loss: the trace, the Answers block, and what the chat template writes after the
# model's message to end its turn (Gemma 3, the t4-270m lane: `<end_of_turn>`; the twin and Llama 3: `<|eot_id|>`).
# Without it the model never learns to stop. The instruction and the input are the prompt: label -100, no loss.
# </details>
