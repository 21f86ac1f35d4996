"""Several processes through `torchrun` (DistributedDataParallel): gloo on CPUs, NCCL on GPUs.
One process alone runs the same code with a world of one."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def leader(self) -> bool:
        """The process that logs, evaluates and writes checkpoints."""
        return self.rank == 0

    def shard(self, items: list) -> list:
        """This process's share of a list, the same length on every rank (the last items repeat
        where the list does not divide), so that every rank takes as many steps."""
        if self.size == 1:
            return items
        per_rank = -(-len(items) // self.size)
        padded = items + items[: per_rank * self.size - len(items)]
        return padded[self.rank::self.size]

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def share_buffers(self, *networks: torch.nn.Module) -> None:
        """Give every rank rank 0's buffers (batch-norm statistics, which each rank gathers from
        its own images; the weights agree already, their gradients being averaged)."""
        if self.size == 1:
            return
        for network in networks:
            for buffer in network.buffers():
                dist.broadcast(buffer, src=0)

    def mean(self, value: float) -> float:
        if self.size == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.size


def join_world(device: torch.device) -> World:
    """The world `torchrun` describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK), joined."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return World(dist.get_rank(), size, int(os.environ.get("LOCAL_RANK", "0")))


def leave_world(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()
