"""Multi-GPU (or multi-process CPU) training under ``torchrun``: process-group set-up and helpers.

``torchrun --nproc_per_node N -m aaae_train ...`` sets RANK, WORLD_SIZE and LOCAL_RANK; we join
the process group (NCCL on CUDA, gloo on CPU) and let DistributedDataParallel do the rest. Only rank
0 writes to the run folder.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as torch_dist


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job (a single process: rank 0 of 1)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> DistInfo:
    """Join the process group when launched by torchrun; otherwise a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device != "cpu" and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    # oneDNN gives the 1-input-channel conv's weight gradient channels-last strides on the CPU; DDP
    # then copies that small tensor into its bucket and warns once per process. Harmless: hide it.
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    return DistInfo(rank=rank, local_rank=local_rank, world_size=world_size)


def pick_device(requested: str, dist: DistInfo) -> torch.device:
    """``auto``: CUDA when available (this process's local GPU), else the CPU."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            from aaae_cli.errors import UserError

            raise UserError("--device cuda: no CUDA GPU is available to PyTorch (install the CUDA build of torch)")
        if dist.enabled or requested == "cuda":
            return torch.device("cuda", dist.local_rank if dist.enabled else torch.cuda.current_device())
    return torch.device(requested)


def barrier(dist: DistInfo) -> None:
    if dist.enabled:
        torch_dist.barrier()


def broadcast(value: Any, dist: DistInfo) -> Any:
    """Rank 0's ``value`` on every rank (plain Python data)."""
    if not dist.enabled:
        return value
    box = [value]
    torch_dist.broadcast_object_list(box, src=0)
    return box[0]


def shutdown(dist: DistInfo) -> None:
    if dist.enabled and torch_dist.is_initialized():
        torch_dist.destroy_process_group()
