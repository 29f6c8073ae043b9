"""``LocalClient.compute``: every compute name is this machine.

``get(name)`` and ``begin_create_or_update(compute)`` return a ``LocalCompute`` with the name asked for,
describing this machine (CPU cores, memory, GPUs that ``nvidia-smi -L`` lists), and say once per name
that local runs use this machine; nothing is created.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azsweep.errors import ArgumentError
from azsweep.local_client.common import Done, Operations, describe, require_name

LOCAL = "local"


@dataclass(frozen=True)
class Machine:
    """This machine, as local runs see it."""

    cores: int
    memory_gb: float | None
    gpu_names: tuple[str, ...] = ()

    def describe(self) -> str:
        memory = f", {self.memory_gb:.1f} GiB memory" if self.memory_gb is not None else ""
        n = len(self.gpu_names)
        gpus = "no GPU" if n == 0 else f"{n} GPU{'s' if n > 1 else ''} ({', '.join(sorted(set(self.gpu_names)))})"
        return f"{self.cores} CPU cores{memory}, {gpus}"


def this_machine(
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run, which: Callable[[str], str | None] = shutil.which
) -> Machine:
    """CPU cores (``os.cpu_count()``), physical memory, and the GPUs ``nvidia-smi -L`` lists (none without it)."""
    try:
        memory: float | None = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows) or no such name
        memory = None
    return Machine(cores=os.cpu_count() or 1, memory_gb=memory, gpu_names=tuple(_gpus(run, which)))


def _gpus(run: Callable[..., subprocess.CompletedProcess[str]], which: Callable[[str], str | None]) -> list[str]:
    exe = which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = run([exe, "-L"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0:
        return []
    names = []
    for line in out.stdout.splitlines():  # "GPU 0: NVIDIA H200 (UUID: GPU-...)"
        if line.startswith("GPU ") and ":" in line:
            names.append(line.split(":", 1)[1].split(" (UUID", 1)[0].strip() or "GPU")
    return names


@dataclass
class LocalCompute:
    """What ``compute.get`` / ``list`` / ``begin_create_or_update`` return: the fields notebooks read, for this machine."""

    name: str
    cores: int
    memory_gb: float | None
    gpus: int
    gpu_names: list[str] = field(default_factory=list)
    type: str = LOCAL
    size: str = LOCAL
    provisioning_state: str = "Succeeded"
    description: str = ""


class LocalComputeOperations(Operations):
    """``get``, ``list``, ``begin_create_or_update`` of ``MLClient.compute``: every compute is this machine."""

    group = "compute"
    reason = "local runs use this machine (LocalClient.compute has get, list and begin_create_or_update)"

    def __init__(self, machine: Callable[[], Machine] = this_machine) -> None:
        self._probe = machine
        self._machine: Machine | None = None
        self._noted: set[str] = set()

    @property
    def machine(self) -> Machine:
        """This machine, probed once."""
        if self._machine is None:
            self._machine = self._probe()
        return self._machine

    def get(self, name: str) -> LocalCompute:
        """The compute ``name``: this machine (any name: local runs ignore ``compute=``)."""
        return self._local(require_name(name, "name"), note=True)

    def list(self, *, compute_type: str | None = None) -> list[LocalCompute]:
        """One compute, ``local``: this machine (none when ``compute_type`` asks for another type)."""
        if compute_type is not None and str(compute_type).lower() != LOCAL:
            return []
        return [self._local(LOCAL)]

    def begin_create_or_update(self, compute: Any) -> Done[LocalCompute]:
        """Nothing is created: the compute of that name is this machine (said once, with what this machine has)."""
        from azure.ai.ml.entities import Compute

        if not isinstance(compute, Compute):
            raise ArgumentError(
                f"{{arg}}: expected an azure.ai.ml compute (AmlCompute, ComputeInstance, ...), got {describe(compute)}",
                argument="compute",
            )
        name = require_name(compute.name, "compute.name")
        size = getattr(compute, "size", None)
        asked = type(compute).__name__ + (f" {size}" if size else "")
        return Done(self._local(name, note=True, asked=asked))

    def __repr__(self) -> str:
        return f"<LocalClient.compute: this machine ({self.machine.describe()})>"

    def _local(self, name: str, *, note: bool = False, asked: str = "") -> LocalCompute:
        machine = self.machine
        what = f"{asked}, not created: " if asked else ""
        description = f"compute {name!r} ({what}local runs use this machine: {machine.describe()})"
        if note and name not in self._noted:
            self._noted.add(name)
            print(f"note: {description}")
        return LocalCompute(
            name=name,
            cores=machine.cores,
            memory_gb=None if machine.memory_gb is None else round(machine.memory_gb, 1),
            gpus=len(machine.gpu_names),
            gpu_names=list(machine.gpu_names),
            description=description,
        )
