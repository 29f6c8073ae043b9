"""A workstation's GPUs shared out like a cluster's nodes: each running trial gets its own.

``discover`` finds the GPUs this process may use (``CUDA_VISIBLE_DEVICES`` when set, else NVIDIA's
``nvidia-smi``); ``GpuPool`` hands each trial ``per_trial`` of them through ``CUDA_VISIBLE_DEVICES``: whole
GPUs (1, 2, ...: disjoint sets) or a fraction (0.5: two trials per GPU, as Ray Tune shares them).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence

from azsweep.errors import ArgumentError
from azsweep.spec import TrialSpec

GPU_SIZE = re.compile(r"(^|_)N[CDVG]", re.IGNORECASE)  # Azure's GPU VM families: Standard_NC6s_v3, Standard_ND40rs_v2, ...


def discover(env: Mapping[str, str] | None = None) -> list[str]:
    """The GPUs this process may use: ``CUDA_VISIBLE_DEVICES`` as given (the user's restriction), else every
    GPU ``nvidia-smi`` lists; none when neither says any."""
    env = os.environ if env is None else env
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip() and not d.strip().startswith("-")]
    smi = shutil.which("nvidia-smi", path=env.get("PATH"))
    if smi is None:
        return []
    try:
        done = subprocess.run([smi, "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.strip().isdigit()] if done.returncode == 0 else []


def choose(given: str | int | Sequence[str] | None, found: Sequence[str]) -> list[str]:
    """``--gpus``: ``None`` = those found; ``"none"`` or 0 = none; ``N`` = the first N found; ``"0,2"`` = those."""
    if given is None:
        return list(found)
    if isinstance(given, bool):
        raise ArgumentError(f"{{arg}}: a number of GPUs, a list like 0,1, or none (got {given!r})", argument="gpus")
    if isinstance(given, int) or (isinstance(given, str) and given.strip().isdigit()):
        count = int(given)
        if count > len(found):
            raise ArgumentError(
                f"{{arg}}: {count} GPU(s) asked for, {len(found)} found ({', '.join(found) or 'none'})", argument="gpus"
            )
        return list(found[:count])
    if isinstance(given, str):
        if given.strip().lower() == "none":
            return []
        items = [x.strip() for x in given.split(",")]
    else:
        items = [str(x).strip() for x in given]
    if not items or any(not x for x in items) or len(set(items)) != len(items):
        raise ArgumentError(f"{{arg}}: a number of GPUs, a list like 0,1, or none (got {given!r})", argument="gpus")
    return items


def wants_gpu(trial: TrialSpec, compute: str | None) -> bool:
    """Whether the job asks for GPU compute: its compute's name says ``gpu`` (``gpu-cluster``) or its
    ``resources.instance_type`` is an Azure GPU size (NC, ND, NV, NG families). A compute named otherwise
    may still have GPUs on Azure: ``--gpus-per-trial`` says so."""
    named = (compute or "").lower()
    return "gpu" in named or bool(trial.instance_type and GPU_SIZE.search(trial.instance_type))


def per_trial(given: float | None, trial: TrialSpec, compute: str | None, gpus: Sequence[str]) -> float:
    """GPUs per trial: as given (whole numbers, or a fraction 1/k), else 1 per process of the trial when there
    are GPUs and the job asks for GPU compute (``wants_gpu``), else 0."""
    if given is None:
        return float(trial.process_count) if gpus and wants_gpu(trial, compute) else 0.0
    if isinstance(given, bool) or not isinstance(given, (int, float)) or not math.isfinite(given) or given < 0:
        raise ArgumentError(f"{{arg}}: must be a number >= 0 (got {given!r})", argument="gpus_per_trial")
    if 0 < given < 1 and not float(1 / given).is_integer():
        raise ArgumentError(
            f"{{arg}}: a fraction of a GPU must be 1/k, e.g. 0.5 or 0.25 (got {given!r})", argument="gpus_per_trial"
        )
    if given >= 1 and not float(given).is_integer():
        raise ArgumentError(f"{{arg}}: must be a whole number of GPUs, or 1/k (got {given!r})", argument="gpus_per_trial")
    if given > len(gpus):
        raise ArgumentError(
            f"{{arg}}: each trial needs {given:g} GPU(s) and this machine offers {len(gpus)} ({', '.join(gpus) or 'none'})",
            argument="gpus_per_trial",
        )
    return float(given)


class GpuPool:
    """Hands out GPUs to running trials: ``per_trial`` whole GPUs each (disjoint), or 1/k of one (k trials per GPU)."""

    def __init__(self, gpus: Sequence[str], per_trial: float) -> None:
        self.gpus = list(gpus)
        self.per_trial = per_trial
        self.users = dict.fromkeys(self.gpus, 0)  # running trials on each GPU

    @property
    def sharing(self) -> int:
        """Trials per GPU: 1 for whole GPUs, k for 1/k."""
        return round(1 / self.per_trial) if 0 < self.per_trial < 1 else 1

    @property
    def capacity(self) -> int | None:
        """How many trials can hold GPUs at once (None: trials take no GPU)."""
        if self.per_trial <= 0:
            return None
        if self.per_trial < 1:
            return len(self.gpus) * self.sharing
        return len(self.gpus) // int(self.per_trial)

    def acquire(self) -> list[str] | None:
        """GPUs for one more trial ([] when trials take none), or None when none are free."""
        if self.per_trial <= 0:
            return []
        need = max(1, int(self.per_trial))
        free = [g for g in self.gpus if self.users[g] < self.sharing]
        free.sort(key=lambda g: (self.users[g], self.gpus.index(g)))
        if len(free) < need:
            return None
        taken = free[:need]
        for g in taken:
            self.users[g] += 1
        return taken

    def release(self, taken: Sequence[str]) -> None:
        for g in taken:
            if self.users.get(g, 0) > 0:
                self.users[g] -= 1


def visible_devices(taken: Sequence[str] | None, machine_has_gpus: bool) -> dict[str, str]:
    """The variables that give a process ``taken``: ``CUDA_VISIBLE_DEVICES`` (empty: no GPU) when the machine
    has GPUs to share out; nothing otherwise."""
    if not machine_has_gpus or taken is None:
        return {}
    return {"CUDA_VISIBLE_DEVICES": ",".join(taken)}
