"""Local execution of sweeps: trial processes, MLflow bookkeeping, limits (side effects live here)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from azsweep.errors import AzsweepError, DefinitionError
from azsweep.runner._sweep import TERMINAL, SweepRecord, SweepRunner, Trial, best_of, better
from azsweep.runner._tracking import Tracker, azsweep_home, tracking_uri
from azsweep.spec import SweepSpec, spec_from_rest

__all__ = [
    "TERMINAL", "PreparedSweep", "SweepRecord", "SweepRunner", "Trial", "Tracker", "azsweep_home", "best_of",
    "better", "launch_background", "prepare", "sweep_folder", "tracking_uri",
]

_ADJECTIVES = ("amber", "brave", "calm", "eager", "gentle", "happy", "keen", "lucid", "mellow", "nimble", "quiet", "witty")
_NOUNS = ("ant", "bee", "crane", "dolphin", "falcon", "heron", "lynx", "otter", "panda", "raven", "tiger", "wren")


def new_name() -> str:
    """An Azure-style job name, e.g. ``keen_otter_3k9x2m7q``."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return (f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NOUNS)}_"
            f"{''.join(secrets.choice(alphabet) for _ in range(8))}")


def sweep_folder(name: str) -> Path:
    return azsweep_home() / "sweeps" / name


@dataclass
class PreparedSweep:
    """A checked definition with the local overrides applied, ready to run."""

    spec: SweepSpec
    props: dict[str, Any]
    name: str
    folder: Path
    max_concurrent: int
    input_overrides: dict[str, str]
    notes: list[str]
    source_path: str | None = None  # the user's original YAML, when the sweep came from a file
    overrides: dict[str, Any] | None = None  # the local-only overrides asked for (limits, inputs)
    resume: bool = False  # continue the recorded sweep of this name
    tracking_uri: str | None = None  # the store a resumed sweep was recorded in

    @property
    def finished(self) -> bool:
        """A resumed sweep that had already ended."""
        from azsweep.runner._journal import Journal

        events = Journal(self.folder / "journal.jsonl").read()
        last = events[-1] if events else {}
        return self.resume and last.get("event") == "sweep_ended" and not last.get("resumable")

    def write_definition(self) -> Path:
        """Keep what is needed to re-run or submit this sweep: ``definition.json`` in its folder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / "definition.json"
        path.write_text(json.dumps({
            "props": self.props, "base_dir": str(self.spec.base_dir), "name": self.name,
            "source_path": self.source_path, "overrides": self.overrides or {},
            "limits": {"max_total_trials": self.spec.limits.max_total_trials},
            "max_concurrent": self.max_concurrent, "input_overrides": self.input_overrides,
            "tracking_uri": tracking_uri(), "home": str(azsweep_home()),
        }, indent=1))
        return path


def prepare(definition: Any, *, name: str | None = None, max_total_trials: int | None = None,
            max_concurrent_trials: int | None = None, inputs: Mapping[str, str] | None = None,
            resume: bool = False) -> PreparedSweep:
    """Validate ``definition`` (errors raise ``DefinitionError``) and apply the local-only overrides.

    With ``resume`` and an existing sweep of that name, the recorded definition and overrides are used.
    """
    from azsweep.definition import load_spec

    if resume and name and (sweep_folder(name) / "definition.json").exists():
        return _prepare_resume(definition, name)
    spec, d = load_spec(definition)
    if spec is None or d.props is None:
        raise DefinitionError(d.problems, d.source)
    props = d.props
    notes = [f"{d.source}: {p}" for p in d.problems if p.severity == "warning"]
    limits = spec.limits
    if max_total_trials is not None:
        if not 1 <= max_total_trials <= 1000:
            raise AzsweepError(f"--max-total-trials: must be between 1 and 1000 (got {max_total_trials})")
        limits = replace(limits, max_total_trials=max_total_trials,
                         max_concurrent_trials=min(limits.max_concurrent_trials, max_total_trials))
    concurrent = limits.max_concurrent_trials
    if max_concurrent_trials is not None:
        if max_concurrent_trials < 1:
            raise AzsweepError(f"--max-concurrent-trials: must be >= 1 (got {max_concurrent_trials})")
        concurrent = max_concurrent_trials
        limits = replace(limits, max_concurrent_trials=concurrent)
    else:
        cpus = os.cpu_count() or 1
        if concurrent > cpus:
            notes.append(f"note: running {cpus} trials at once (this machine's CPU count) instead of "
                         f"max_concurrent_trials={concurrent}; pass --max-concurrent-trials to raise it")
            concurrent = cpus
    spec = replace(spec, limits=limits)
    if spec.trial.environment:
        notes.append(f"note: environment {spec.trial.environment!r} is not built locally; trials use this Python "
                     f"environment ({sys.executable})")
    name = name or spec.name or new_name()
    folder = sweep_folder(name)
    if folder.exists():
        raise AzsweepError(f"a local sweep named {name!r} already exists in {folder.parent}; continue it with "
                           f"--resume (azsweep run FILE --name {name} --resume) or choose another --name")
    from azsweep.runner._sweep import resolve_inputs

    # local paths given with --input are kept absolute, so the sweep can be resumed or submitted from anywhere
    inputs = {k: str(Path(v).resolve()) if v and Path(v).exists() else v for k, v in (inputs or {}).items()}
    resolve_inputs(spec, inputs, folder / "inputs")  # input errors surface here, before anything starts
    overrides = {k: v for k, v in (("max_total_trials", max_total_trials), ("max_concurrent_trials", max_concurrent_trials),
                                   ("inputs", dict(inputs or {}) or None)) if v is not None}
    return PreparedSweep(spec=spec, props=props, name=name, folder=folder, max_concurrent=concurrent,
                         input_overrides=dict(inputs or {}), notes=notes,
                         source_path=str(d.path.resolve()) if d.path else None, overrides=overrides)


def _prepare_resume(definition: Any, name: str) -> PreparedSweep:
    from azsweep.definition import load_spec

    prepared = load_prepared(sweep_folder(name))
    prepared.resume = True
    try:
        _, d = load_spec(definition)
        if d.props is not None and d.props != prepared.props:
            prepared.notes.append(f"note: {d.source} differs from the definition sweep {name!r} started with; "
                                  "resuming the recorded definition")
    except Exception:  # the recorded definition is what counts
        pass
    return prepared


def launch_background(prepared: PreparedSweep) -> Path:
    """Start the sweep in a detached driver process (it outlives the caller, like an Azure job)."""
    folder = prepared.folder
    if not prepared.resume:
        prepared.write_definition()
    command = [sys.executable, "-m", "azsweep.runner.driver", str(folder)] + (["--resume"] if prepared.resume else [])
    with open(folder / "driver.log", "ab") as log:
        subprocess.Popen(command, stdin=subprocess.DEVNULL,
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                         env={**os.environ, "AZSWEEP_HOME": str(azsweep_home())})
    return folder


def load_prepared(folder: Path) -> PreparedSweep:
    """Rebuild a prepared sweep from ``definition.json`` (in the driver process)."""
    data = json.loads((folder / "definition.json").read_text())
    spec = spec_from_rest(data["props"], base_dir=data["base_dir"])
    limits = replace(spec.limits, max_total_trials=data["limits"]["max_total_trials"],
                     max_concurrent_trials=data["max_concurrent"])
    return PreparedSweep(spec=replace(spec, limits=limits), props=data["props"], name=data["name"], folder=folder,
                         max_concurrent=data["max_concurrent"], input_overrides=data["input_overrides"], notes=[],
                         source_path=data.get("source_path"), overrides=data.get("overrides"),
                         tracking_uri=data.get("tracking_uri"))
