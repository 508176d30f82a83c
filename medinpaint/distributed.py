"""Process-group set-up under ``torchrun``: DDP training and sharded ``inpaint-many``.

``torchrun --nproc_per_node N -m medinpaint train ...`` (or ``... inpaint-many ...``) sets ``WORLD_SIZE``, ``RANK`` and
``LOCAL_RANK``; :func:`distributed_context` reads them, joins the group (NCCL on CUDA, gloo on
CPU) and pins each process to its GPU. Without them the command runs as a single process.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

from medinpaint.device import pick_device

__all__ = ["DistributedContext", "distributed_context"]


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in a (possibly one-process) training job.

    Attributes:
        rank: global rank (0 writes checkpoints, images and logs).
        world_size: number of processes.
        device: this process's device.

    Example:
        >>> DistributedContext(rank=0, world_size=1, device=torch.device("cpu")).is_main
        True
    """

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """True on the process that writes outputs."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """Average a tensor of values over all processes (identity for one process)."""
        if self.is_distributed:
            values = values.clone()
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
            values /= self.world_size
        return values


@contextmanager
def distributed_context(device_name: str | None = None) -> Iterator[DistributedContext]:
    """Join the torchrun process group when launched by torchrun, else run as one process.

    Args:
        device_name: the config's device (``"auto"``, ``"cpu"``, ``"cuda"``); under torchrun
            with CUDA each process takes ``cuda:LOCAL_RANK``.

    Yields:
        The :class:`DistributedContext`; the process group is destroyed on exit.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = pick_device(device_name)
    if world_size == 1:
        yield DistributedContext(rank=0, world_size=1, device=device)
        return
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    try:
        yield DistributedContext(rank=dist.get_rank(), world_size=dist.get_world_size(), device=device)
    finally:
        # DDP wrappers hold the group in reference cycles; freed only at interpreter exit, gloo's worker
        # threads can abort the process there ("terminate called without an active exception", seen once
        # in CI on a rank's exit): free them while the group and the interpreter are alive
        gc.collect()
        dist.destroy_process_group()
