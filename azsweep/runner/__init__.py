"""Local execution of sweeps and command jobs: processes, MLflow bookkeeping, limits (side effects live here).

The modules, in the order a sweep meets them: ``layout`` (settings and every path of a sweep),
``prepare`` (overrides applied, the effective spec), ``inputs``, ``lifecycle`` (one run lifecycle),
``loop`` (the run loop and its seams), ``recovery`` (continue after a stop), ``trial`` (one job
process: how it starts, what it leaves), ``command`` and ``process`` (what a trial runs, and how),
``command_job`` (a plain command job: one process), ``journal``, ``record`` (the record types),
``tracking`` (the only module that imports mlflow's client), ``store_server`` (the store served to trials
whose MLflow is not azsweep's), ``smoke`` and ``driver``.
"""

from __future__ import annotations

from azsweep.runner.layout import Settings, SweepFolder
from azsweep.runner.lifecycle import launch_background, run_prepared
from azsweep.runner.prepare import PreparedCommand, PreparedSweep, prepare, prepare_recorded
from azsweep.runner.record import JobStatus, RecordedDefinition, SweepRecord, Trial
from azsweep.runner.tracking import Tracker

__all__ = [
    "JobStatus",
    "PreparedCommand",
    "PreparedSweep",
    "RecordedDefinition",
    "Settings",
    "SweepFolder",
    "SweepRecord",
    "Tracker",
    "Trial",
    "launch_background",
    "prepare",
    "prepare_recorded",
    "run_prepared",
]
