"""Where a local sweep's state lives: the settings (home folder, tracking store) and every path of a sweep.

The settings are resolved once, at the edge (the CLI, ``LocalClient``, the driver process), and passed
down; nothing below reads ``AZSWEEP_HOME`` or ``MLFLOW_TRACKING_URI`` itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azsweep.errors import ArgumentError

DEFAULT_HOME = ".azsweep"
JOB_NAME = re.compile(r"[A-Za-z0-9_-]+")  # Azure ML's characters for job names (as azure-ai-ml checks node names)
MAX_JOB_NAME = 251  # Azure's 255, less room for a trial's "_<index>" (up to "_999"): a trial's name is a job name too
NAME_RULE = f"a job name is letters, digits, '_' and '-', 1 to {MAX_JOB_NAME} characters (Azure's rule for job names)"


def check_job_name(value: Any, argument: str = "name") -> str:
    """``value`` as the name of a local job: Azure's rule for job names (``NAME_RULE``); it names a folder of the home
    and is searched for in MLflow, so nothing else is accepted. Raises ``ArgumentError`` naming ``argument``."""
    if isinstance(value, str) and len(value) <= MAX_JOB_NAME and JOB_NAME.fullmatch(value):
        return value
    raise ArgumentError(f"{{arg}}: expected a job name (a non-empty str), got {shown(value)}: {NAME_RULE}", argument=argument)


def shown(value: Any, limit: int = 80) -> str:
    """A value for a message, its repr cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


@dataclass(frozen=True)
class Settings:
    """Where local sweeps keep their folders (``home``) and their MLflow record (``tracking_uri``)."""

    home: Path
    tracking_uri: str

    @classmethod
    def resolve(cls, *, home: str | os.PathLike[str] | None = None, tracking_uri: str | None = None) -> Settings:
        """The arguments given, else ``AZSWEEP_HOME`` (default ``./.azsweep``) and ``MLFLOW_TRACKING_URI``
        (default: a SQLite store in the home folder)."""
        root = Path(home or os.environ.get("AZSWEEP_HOME") or DEFAULT_HOME).resolve()
        uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / 'mlflow.db'}"
        return cls(home=root, tracking_uri=uri)

    @property
    def artifacts(self) -> Path:
        """Artifact root of experiments created in a local SQLite store."""
        return self.home / "artifacts"

    @property
    def sweeps(self) -> Path:
        return self.home / "sweeps"

    @property
    def models(self) -> Path:
        """Where ``LocalClient.models`` keeps the files of each registered model version (``<name>/<version>/``)."""
        return self.home / "models"

    def assets(self, kind: str) -> Path:
        """Where ``LocalClient`` records versioned assets of one kind (``environments``, ``data``)."""
        return self.home / "assets" / kind

    def folder(self, name: str) -> SweepFolder:
        return SweepFolder(self.home, name)

    def sweep_names(self) -> list[str]:
        """Every local sweep with a record, by name."""
        return sorted(folder.name for folder in SweepFolder.all(self.home) if folder.record.exists())


@dataclass(frozen=True)
class SweepFolder:
    """``<home>/sweeps/<name>`` and every file a local sweep keeps in it."""

    home: Path
    name: str

    @classmethod
    def all(cls, home: Path) -> Iterator[SweepFolder]:
        root = home / "sweeps"
        if root.is_dir():
            for entry in sorted(root.iterdir()):
                if entry.is_dir():
                    yield cls(home, entry.name)

    @classmethod
    def at(cls, root: str | Path) -> SweepFolder:
        """The sweep folder ``root`` (``<home>/sweeps/<name>``)."""
        path = Path(root)
        return cls(path.parent.parent, path.name)

    @property
    def root(self) -> Path:
        return self.home / "sweeps" / self.name

    @property
    def definition(self) -> Path:
        """``definition.json``: what the sweep was started with (the user's original and the effective spec)."""
        return self.root / "definition.json"

    @property
    def record(self) -> Path:
        """``sweep.json``: the sweep's current state, rewritten at each change (what ``LocalClient`` polls)."""
        return self.root / "sweep.json"

    @property
    def journal(self) -> Path:
        """``journal.jsonl``: every state change, fsync'd (what a resume reads)."""
        return self.root / "journal.jsonl"

    @property
    def snapshot(self) -> Path:
        """The code folder as it was when the sweep started; each trial gets a copy."""
        return self.root / "snapshot"

    @property
    def inputs(self) -> Path:
        """Downloaded http(s) inputs, fetched once per sweep."""
        return self.root / "inputs"

    @property
    def driver_log(self) -> Path:
        """Output of the detached driver process behind ``LocalClient``."""
        return self.root / "driver.log"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    def trial(self, trial_name: str) -> TrialFolder:
        return TrialFolder(self.root / "trials" / trial_name)

    def exists(self) -> bool:
        return self.root.is_dir()


@dataclass(frozen=True)
class TrialFolder:
    """``trials/<trial name>``: a trial's working copy of the code, its outputs, command and log."""

    root: Path

    @property
    def code(self) -> Path:
        """The trial's working directory: a fresh copy of the snapshot."""
        return self.root / "code"

    @property
    def command(self) -> Path:
        """``command.sh``: the exact command line the trial ran."""
        return self.root / "command.sh"

    @property
    def log(self) -> Path:
        """``user_logs/std_log.txt``, as on Azure."""
        return log_of(self.root)

    @property
    def env(self) -> Path:
        """The trial's own Python environment (an overlay on the sweep's base environment)."""
        return self.root / "env"

    def output(self, name: str) -> Path:
        return self.root / "outputs" / name


def log_of(workdir: str | Path) -> Path:
    """The log of a trial whose folder is ``workdir``."""
    return Path(workdir) / "user_logs" / "std_log.txt"
