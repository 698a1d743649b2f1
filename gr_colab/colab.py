"""The first cell of every notebook: where am I, what GPU, where do files go, and the Hub token.

Face helper. On Colab: mounts Drive when the run folder is on it (so a disconnect keeps checkpoints), reads the
``HF_TOKEN`` secret into the environment for ``huggingface_hub`` (never printing it), and says which GPU there is.
Elsewhere it only reports.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

DRIVE_ROOT = "/content/drive"  # where Colab mounts Google Drive
REPO = "gr-colab/gr-colab"  # the kit's GitHub repository, for the Open-in-Colab links and the install cell


def in_colab() -> bool:
    return "google.colab" in sys.modules


@dataclass
class Environment:
    colab: bool
    device: str
    gpu: Optional[str]
    gpu_memory_gb: Optional[float]
    bf16: bool
    hub_token: bool  # whether a token is available (the token itself is never kept here)
    run_dir: str

    def describe(self) -> str:
        where = "Colab" if self.colab else "local machine"
        gpu = f"{self.gpu} ({self.gpu_memory_gb:.1f} GB, bf16 {'yes' if self.bf16 else 'no: fp16'})" if self.gpu \
            else "no GPU: the CPU twin runs everything, slowly but faithfully"
        return (f"{where}; {gpu}; Hugging Face token: {'found' if self.hub_token else 'not set'}; "
                f"run folder: {self.run_dir}")


def setup(config, mount_drive: bool = True) -> Environment:
    """Prepare the session for ``config``; prints one line and returns what it found."""
    import torch

    if in_colab() and mount_drive and str(config.run_dir).startswith(DRIVE_ROOT):
        from google.colab import drive  # type: ignore

        drive.mount(DRIVE_ROOT)
    token_found = load_hub_token()
    cuda = torch.cuda.is_available()
    env = Environment(
        colab=in_colab(), device="cuda" if cuda else "cpu",
        gpu=torch.cuda.get_device_name(0) if cuda else None,
        gpu_memory_gb=torch.cuda.get_device_properties(0).total_memory / 1e9 if cuda else None,
        bf16=bool(cuda and torch.cuda.is_bf16_supported()), hub_token=token_found, run_dir=str(config.run_dir))
    Path(config.run_dir).mkdir(parents=True, exist_ok=True)
    print(env.describe())
    if not cuda and not config.is_twin:
        print(f"⚠ preset {config.preset!r} wants a GPU. On Colab: Runtime > Change runtime type > T4 GPU. "
              "Here, use PRESET = 'cpu-tiny'.")
    return env


def load_hub_token() -> bool:
    """Put Colab's ``HF_TOKEN`` secret into the environment for huggingface_hub; True when a token is there."""
    if os.environ.get("HF_TOKEN"):
        return True
    if in_colab():
        try:
            from google.colab import userdata  # type: ignore

            token = userdata.get("HF_TOKEN")
        except Exception:
            token = None
        if token:
            os.environ["HF_TOKEN"] = token
            return True
    return False
