"""The Hugging Face Hub: push the adapter, the merged model and the GGUF files with a model card.

Stage (export). The card is ``huggingface_hub``'s ``ModelCard``: its metadata carries the evaluation's F1 scores as
``model-index``, which the Hub shows beside the model. The token comes from :func:`gr_colab.runtime.hub_token`
(``HF_TOKEN`` or Colab's secret), is handed to ``huggingface_hub`` and nothing else: never printed, logged, written or
returned. A dry run lists what would be uploaded, needs no token, and is what the tests run (the Hub's servers are
out of reach here).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from .runs import MARKER
from .runtime import hub_token

UPLOAD_SUFFIXES = (".safetensors", ".json", ".gguf", ".jinja", ".model", ".txt", ".md", "Modelfile")


@dataclass
class Upload:
    local: Path
    path_in_repo: str
    size: int


def plan_upload(folders: dict) -> list[Upload]:
    """``{"adapter": dir, "merged": dir, "gguf": dir}`` → the files to upload, under those folder names.

    Only safetensors, GGUF, JSON and text: never a pickle (``.bin``, ``.pt``), never optimizer state, never the
    kit's completion markers (run bookkeeping)."""
    uploads = []
    for prefix, folder in folders.items():
        if folder is None or not Path(folder).exists():
            continue
        for f in sorted(Path(folder).rglob("*")):
            if f.is_file() and (f.suffix in UPLOAD_SUFFIXES or f.name in UPLOAD_SUFFIXES) and f.name != MARKER:
                rel = f.relative_to(folder).as_posix()
                uploads.append(Upload(f, f"{prefix}/{rel}" if prefix else rel, f.stat().st_size))
    return uploads


def eval_results(scores: Iterable[dict]) -> list:
    """One ``EvalResult`` a benchmark, task and metric variant, from the evaluation report's scores (``name``,
    ``task``, ``mode``, ``f1``). The task is the dataset's config, so the three tasks of one benchmark (WildGuardTest)
    stay three entries of the ``model-index``."""
    from huggingface_hub import EvalResult

    from .evaluate import TASK_TITLES

    return [EvalResult(task_type="text-classification", task_name=TASK_TITLES.get(s["task"], s["task"]),
                       dataset_type=s["name"], dataset_name=s["name"], dataset_config=s["task"],
                       metric_type="f1", metric_value=round(float(s["f1"]), 2), metric_name=f"F1 ({s['mode']})")
            for s in scores]


def model_card(config, report_md: str = "", base_model: Optional[str] = None, gguf_table: str = "",
               scores: Iterable[dict] = ()) -> str:
    """The README.md of the pushed repository: the Hub's metadata (base model, data, the F1 ``scores`` of the
    evaluation report as ``model-index``), then base model, data, stages, evaluation, intended use and limits."""
    from huggingface_hub import ModelCard, ModelCardData

    base = base_model or config.model_name
    results = eval_results(scores)
    data = ModelCardData(base_model=base, library_name="peft", license="other",
                         tags=["guard", "safety", "guardreasoner", "lora", "gguf", "gr-colab"],
                         datasets=["yueliu1999/GuardReasonerTrain"], eval_results=results or None,
                         model_name=f"guardreasoner-{config.preset}" if results else None)  # the model-index's name
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n" + _card_text(config, base, report_md, gguf_table)))


def _card_text(config, base: str, report_md: str, gguf_table: str) -> str:
    sample = (f" (a seeded sample of at most {config.train_limit} rows per file, seed {config.seed})"
              if config.train_limit else "")
    return f"""# GuardReasoner-style guard ({config.preset})

A reasoning guard model: it reads a user's request and an AI's response, reasons step by step, then answers three
tasks — is the request harmful, is the response a refusal or compliance, is the response harmful — in the format of
GuardReasoner (Liu et al., 2025, arXiv 2501.18492). Trained with the gr-colab course kit.

## Training
- Base model: `{base}` ({'4-bit ' if config.load_in_4bit else ''}LoRA r={config.lora_r}, alpha={config.lora_alpha})
- Data: {', '.join(config.train_files)}{sample}
- Stages: reasoning SFT (R-SFT); hard-sample DPO (HS-DPO, beta {config.hsdpo_beta}, SFT weight
  {config.hsdpo_sft_weight}, per-pair weights in {config.mine_weight_range}) where run.
- Prompt format: `{config.prompt_format}` (the tokenizer's chat template; one user turn holding the instruction and
  the input).

## Evaluation
F1 (positive class harmful; refusal for the refusal task), as in the paper; `official` reproduces the paper's
script, `corrected` counts each unparsable output once as wrong.

{report_md or '(not evaluated)'}

{gguf_table}

## Intended use and limits
For research and teaching: screening prompts and responses in English chat. It is a small model trained briefly:
it misses harms and flags benign text; do not use it as the only safeguard. It inherits the base model's license
and the GuardReasonerTrain data's biases. The labels come from GPT-4o-synthesised reasoning.
"""


def push(repo_id: str, folders: dict, card: str, private: bool = True, dry_run: bool = False,
         api=None) -> list[Upload]:
    """Create the repo (private by default) and upload each folder and the card; ``dry_run`` only lists."""
    uploads = plan_upload(folders)
    if dry_run:
        total = sum(u.size for u in uploads)
        print(f"dry run: would upload {len(uploads)} files ({total / 1e6:.1f} MB) and README.md to {repo_id}")
        for u in uploads:
            print(f"  {u.path_in_repo}  ({u.size / 1e6:.2f} MB)")
        return uploads
    token = hub_token()
    if not token:
        raise PermissionError("no Hugging Face token: set HF_TOKEN in the environment, or add a Colab secret "
                              "named HF_TOKEN (key icon in the left bar) and allow this notebook to read it")
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    api.create_repo(repo_id=repo_id, private=private, exist_ok=True, token=token)
    for prefix, folder in folders.items():
        if folder is None or not Path(folder).exists():
            continue
        api.upload_folder(repo_id=repo_id, folder_path=str(folder), path_in_repo=prefix or None, token=token,
                          allow_patterns=[f"*{s}" for s in UPLOAD_SUFFIXES], ignore_patterns=[f"**/{MARKER}", MARKER],
                          commit_message=f"gr-colab: upload {prefix or 'files'}")
    api.upload_file(path_or_fileobj=card.encode("utf-8"), path_in_repo="README.md", repo_id=repo_id, token=token,
                    commit_message="gr-colab: model card")
    print(f"pushed {len(uploads)} files to https://huggingface.co/{repo_id}")
    return uploads


def push_export(config, merged=None, api=None) -> list[Upload]:
    """The export stage's files (the adapter it merged, the merged model, the GGUF folder) and its model card to
    ``config.hub_repo``: a real upload when ``config.hub_push`` is True, else a dry run that lists them. ``merged``:
    where the export put the merged model (its summary's ``merged``; on Colab a scratch folder off Drive)."""
    repo = config.hub_repo
    if not repo:
        if config.hub_push:
            raise ValueError("hub_push is True but hub_repo is not set: add {'hub_repo': 'your-name/guardreasoner'} "
                             "to OVERRIDES in the config cell")
        repo = f"your-name/guardreasoner-{config.preset}"
        print(f"hub_repo is not set, so this is a dry run under {repo!r}. To push, add {{'hub_repo': "
              f"'your-name/guardreasoner', 'hub_push': True}} to OVERRIDES (and a Colab secret HF_TOKEN that can "
              "write)")
    out = config.layout.export
    card = out / "README.md"
    if not card.is_file():
        raise FileNotFoundError(f"{card}: no model card; run the export stage first")
    adapter = config.layout.guard_adapter()
    folders = {"adapter": adapter, "merged": Path(merged) if merged else out / "merged", "gguf": out / "gguf"}
    for name, folder in folders.items():
        if not folder.is_dir():
            print(f"⚠ no {name} folder at {folder} (a scratch folder does not survive a new session): "
                  f"{'run the export again to include it' if name == 'merged' else 'it is left out'}")
    return push(repo, folders, card.read_text(), private=config.hub_private, dry_run=not config.hub_push, api=api)
