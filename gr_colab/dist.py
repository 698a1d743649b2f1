"""Which process am I, and waiting for the others: the one place the kit asks, so that under ``accelerate launch``
or ``torchrun`` only the main process writes the run's files.

Lowest layer (standard library at import). Several processes run the same stage (a Trainer shards the data
between them); the run's files (markers, reports, curves, the adapter) are written by the main process only, and
every process waits at :func:`wait_for_everyone` before a later step reads them. In one process (a notebook, a plain
``python -m gr_colab``) this process is the main one and nothing waits.

The facts come from the launcher's environment (``WORLD_SIZE``, ``RANK``: torchrun and accelerate set them) until
torch's process group exists, then from the group. Waiting uses accelerate's ``PartialState`` (what the Trainer
itself uses), which starts the process group the launcher asked for when no Trainer has yet: gloo on the CPU,
NCCL on GPUs.
"""
from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import Callable, TypeVar

T = TypeVar("T")
GROUP_TIMEOUT = 1800  # seconds: the Trainer's default ddp_timeout, for a process group started here


def _group():
    """torch.distributed when its process group is up (torch imported and initialized), else None."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    dist = torch.distributed
    return dist if dist.is_available() and dist.is_initialized() else None


def world_size() -> int:
    """How many processes run this stage (1 without a launcher)."""
    group = _group()
    if group is not None:
        return group.get_world_size()
    return int(os.environ.get("WORLD_SIZE") or 1)


def rank() -> int:
    group = _group()
    if group is not None:
        return group.get_rank()
    return int(os.environ.get("RANK") or 0)


def local_rank() -> int:
    """This process's GPU on its machine (torchrun and accelerate set ``LOCAL_RANK``); 0 without a launcher."""
    return int(os.environ.get("LOCAL_RANK") or 0)


def is_main() -> bool:
    """True in the process that writes the run's files (rank 0, or the only process)."""
    return rank() == 0


def wait_for_everyone() -> None:
    """Block until every process gets here (nothing to do in one process)."""
    if world_size() <= 1:
        return
    if _group() is None:  # no Trainer yet: start the group the way the Trainer would (use_cpu on a CPU, and its
        import torch  # default ddp_timeout: a wait gives up after 30 minutes, on gloo or NCCL)
        from accelerate import PartialState

        PartialState(cpu=not torch.cuda.is_available(), timeout=timedelta(seconds=GROUP_TIMEOUT))
    _group().barrier()


def main_then_read(write: Callable[[], object], read: Callable[[], T]) -> T:
    """Main computes, every process reads the file: the main process calls ``write()`` (a step that is no Trainer:
    generation, labelling, scoring; it writes its result to the run's files, and may reuse them when there), every
    process waits until it is done, then every process, the main one too, returns ``read()`` of those files, so all
    of them train on the same data (what JSON keeps, read back the same way). In one process: ``write()`` then
    ``read()``."""
    if is_main():
        write()
    wait_for_everyone()
    return read()


def describe() -> str:
    return f"process {rank()} of {world_size()}"
