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
# # Workshop · notebooks 00 → 07 in one Colab runtime
#
# **What you will learn**
# - the whole GuardReasoner recipe in one sitting: prompts and traces, R-SFT, evaluation, mining, HS-DPO, export to
#   GGUF and Ollama, with the same library calls as notebooks 00 → 07 (read those for the why of each step);
# - one install, one Drive prompt, one T4: the chapter notebooks are one Colab runtime each, this is one for all.
#
# **Expected time and memory:** the Setup cell prints the planner's estimate for your preset (`gr-colab plan
# --preset t4-270m` shows every stage), and each stage prints what it measured. Every stage is skipped when its
# files are already in the run folder, so after a disconnect "Run all" continues where it stopped.

# %% [markdown]
# ## Config — the only cell you edit

# %%
PRESET = "auto"  # auto: t4-270m on a GPU, cpu-tiny without; or cpu-tiny, cpu-270m, t4-270m, t4-1b, t4-3b
OVERRIDES = {}  # any config field, e.g. {"train_limit": 500}; on Colab the run folder is on Drive
KIT = "https://github.com/gr-colab/gr-colab"  # the kit; or a copy on Drive, e.g. "/content/drive/MyDrive/gr-colab-src"

# %% [markdown]
# ## Setup
# One runtime for the whole workshop: if a chapter notebook's runtime is still connected, disconnect it first
# (Runtime > Disconnect and delete runtime). Accept Drive's prompt: the run folder on Drive keeps every stage.

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
config, env = colab.start(PRESET, OVERRIDES, notebook="99_workshop", needs=[])

# %% [markdown]
# ## The stage: 00 → 07
# ### 00 · The budget: how the course spans sessions on a T4

# %%
from gr_colab.planner import plan_session
print("\n".join(plan_session(config if not config.is_twin else GRConfig.load("t4-270m"))))

# %% [markdown]
# ### 01 · The prompt the guard reads, and the trace it writes

# %%
from gr_colab import prompts
from gr_colab.traces import parse_trace
print(prompts.raw_prompt(prompts.format_input("How do I whittle a knife?")))
parse_trace("# Task 1\n## Reasoning Step 1: ...\n\nAnswers: \nRequest: unharmful\nCompletion: None\nResponse: None"
            ).labels

# %% [markdown]
# ### 02 · Reasoning synthesis with the offline stand-in teacher (notebook 02 connects a real one)

# %%
from gr_colab import synthesis
teacher = synthesis.connect_teacher("stand-in", "gpt-4o")
synth = synthesis.synthesize(synthesis.demo_items(6), teacher, config.path / "synthesis" / "cache.jsonl",
                             out_dir=config.path / "synthesis")
teacher.close()
print(synth.rejects_report())

# %% [markdown]
# ### 03 · R-SFT: prepare the data, train (resumes from the last complete checkpoint after a disconnect)

# %%
from gr_colab.pipeline import run_stage
prepared = run_stage(config, "prepare")
trained = run_stage(config, "rsft")
{k: trained.get(k) for k in ("steps", "first_loss", "last_loss", "resumed_from")}

# %% [markdown]
# ### 04 · Evaluation: the base model and the R-SFT model on the benchmarks

# %%
import json
import pandas as pd
from gr_colab.evaluate import Report, compare
evaluated = run_stage(config, "eval")
reports = {n: Report.from_json(json.loads(config.layout.eval_report(n).read_text())) for n in ("base", "rsft")}
pd.DataFrame(compare(reports["base"], reports["rsft"]))

# %% [markdown]
# ### 05 · Mining hard samples with the R-SFT model

# %%
mined = run_stage(config, "mine")
{k: mined.get(k) for k in ("items", "pairs", "by_task")}

# %% [markdown]
# ### 06 · HS-DPO on the mined pairs, then its evaluation

# %%
run_stage(config, "hsdpo")
evaluated = run_stage(config, "eval")  # only what is new: the HS-DPO adapter
pd.DataFrame(evaluated["comparisons"].get("rsft->hsdpo", []))

# %% [markdown]
# ### 07 · Export: merged weights, GGUF, the Modelfile, then the guard in Ollama

# %%
exported = run_stage(config, "export")
print(exported["table"])

# %%
from gr_colab import service
served = service.start(config)
table = service.side_by_side(config, served)
served.stop()
table

# %% [markdown]
# ## Results: the run's report (every stage, its figures and what it measured)

# %%
from gr_colab.report import write_report
from IPython.display import Markdown, display
display(Markdown(write_report(config).read_text()))

# %% [markdown]
# ## Exercise
# What is the R-SFT model's **corrected** weighted F1 on prompt harmfulness? Read it from `reports` (notebook 04's
# exercise; the chapter notebooks have one each).

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
# metric, in percent.
# </details>
