"""A distributed trial: every rank its ``distribution:`` asks for, started as Azure starts them, run as one unit.

PyTorch: ``instance_count x process_count_per_instance`` processes, each with ``MASTER_ADDR`` (127.0.0.1),
``MASTER_PORT`` (one free port per trial), ``WORLD_SIZE``, ``RANK`` (``NODE_RANK * per_instance +
LOCAL_RANK``), ``LOCAL_RANK``, ``NODE_RANK`` and ``LOCAL_WORLD_SIZE``. TensorFlow: ``worker_count`` workers
and ``parameter_server_count`` parameter servers, each with its ``TF_CONFIG``. MPI: one ``mpirun -np N``.
The trial's GPUs are divided among its ranks. ``RankGroup`` is the trial's handle: it fails as soon as one
rank fails (the others are then stopped), and succeeds when every rank exited 0. Each rank writes
``user_logs/std_log_process_<rank>.txt``, as on Azure.
"""

from __future__ import annotations

import json
import shlex
import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from azsweep.spec import TrialSpec

if TYPE_CHECKING:
    from azsweep.runner.loop import TrialHandle

LOCALHOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port free on this machine now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCALHOST, 0))
        return int(s.getsockname()[1])


def rank_log(user_logs: Path, rank: int) -> Path:
    return user_logs / f"std_log_process_{rank}.txt"


def divide_gpus(gpus: Sequence[str], ranks: int) -> list[list[str]]:
    """The trial's GPUs among its ranks: an equal share each when there are enough, else one each, shared round-robin."""
    if not gpus:
        return [[] for _ in range(ranks)]
    share = len(gpus) // ranks
    if share >= 1:
        return [list(gpus[r * share : (r + 1) * share]) for r in range(ranks)]
    return [[gpus[r % len(gpus)]] for r in range(ranks)]


def rank_environments(trial: TrialSpec, ports: Sequence[int]) -> list[dict[str, str]]:
    """The variables of each rank of ``trial`` (PyTorch or TensorFlow), in rank order; ``ports``: free ports
    (PyTorch uses the first; TensorFlow one per process)."""
    d = trial.distribution
    assert d is not None and d.kind in ("pytorch", "tensorflow")
    if d.kind == "pytorch":
        per_instance, total = d.process_count_per_instance, trial.process_count
        return [
            {
                "MASTER_ADDR": LOCALHOST,
                "MASTER_PORT": str(ports[0]),
                "WORLD_SIZE": str(total),
                "RANK": str(rank),
                "LOCAL_RANK": str(rank % per_instance),
                "NODE_RANK": str(rank // per_instance),
                "LOCAL_WORLD_SIZE": str(per_instance),
            }
            for rank in range(total)
        ]
    workers = d.worker_count or trial.instance_count
    addresses = [f"{LOCALHOST}:{p}" for p in ports[: workers + d.parameter_server_count]]
    cluster: dict[str, list[str]] = {"worker": addresses[:workers]}
    if d.parameter_server_count:
        cluster["ps"] = addresses[workers:]
    tasks = [("worker", i) for i in range(workers)] + [("ps", i) for i in range(d.parameter_server_count)]
    return [
        {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}, "environment": "cloud"})}
        for kind, index in tasks
    ]


def mpi_command(command: str, processes: int, mpirun: str) -> str:
    """The trial's command under ``mpirun`` with ``processes`` ranks (as Azure's MPI launch)."""
    return f"{shlex.quote(mpirun)} --oversubscribe -np {processes} bash -c {shlex.quote(command)}"


class RankGroup:
    """The handle of a distributed trial: its ranks' processes, one unit."""

    def __init__(self, ranks: Sequence[TrialHandle], logs: Sequence[Path]) -> None:
        self.ranks, self.logs = list(ranks), list(logs)
        self.pid = self.ranks[0].pid
        self.failed_log: Path | None = None  # the log of the rank that failed first

    def poll(self) -> int | None:
        codes = [r.poll() for r in self.ranks]
        for code, log in zip(codes, self.logs):
            if code is not None and code != 0:
                self.failed_log = self.failed_log or log
                return code
        return 0 if all(code == 0 for code in codes) else None

    def terminate(self) -> None:
        for r in self.ranks:
            r.terminate()

    def stop(self, grace: float) -> int:
        self.terminate()
        deadline = time.monotonic() + grace
        while any(r.poll() is None for r in self.ranks) and time.monotonic() < deadline:
            time.sleep(0.02)
        codes = [r.stop(0.0) for r in self.ranks]
        return next((c for c in codes if c != 0), codes[0])

    def reap_group(self) -> None:
        """One rank failed, or all exited: end every rank's process group."""
        for r in self.ranks:
            r.reap_group()


def rank_variables_for(trial: TrialSpec, ranks: int) -> list[Mapping[str, str]]:
    """The rank variables of ``trial`` with fresh ports (one per process for TensorFlow, one for PyTorch)."""
    d = trial.distribution
    assert d is not None
    ports = [free_port() for _ in range(ranks if d.kind == "tensorflow" else 1)]
    return list(rank_environments(trial, ports))
