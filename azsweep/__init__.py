"""azsweep: run, validate and submit Azure ML sweep jobs — the same definitions, offline first.

Light at import: azure-ai-ml and mlflow are imported only when a name that needs them is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azsweep.api import load_job, sample, validate
from azsweep.errors import (
    ArgumentError,
    AzsweepError,
    DefinitionError,
    InvalidValue,
    Problem,
    SubmitError,
    SweepFailed,
)

if TYPE_CHECKING:  # the lazy names below, as type checkers and IDEs should see them
    from azure.ai.ml import Input, command

    from azsweep import sweep
    from azsweep.local_client import LocalClient
    from azsweep.optimization import optimize
    from azsweep.report.replay import replay
    from azsweep.submission.bridge import submit

__version__ = "0.1.0"
__all__ = [
    "ArgumentError",
    "AzsweepError",
    "DefinitionError",
    "Input",
    "InvalidValue",
    "LocalClient",
    "Problem",
    "SubmitError",
    "SweepFailed",
    "command",
    "load_job",
    "optimize",
    "replay",
    "sample",
    "submit",
    "sweep",
    "validate",
]


def __getattr__(name: str) -> Any:
    if name in ("command", "Input"):
        import azure.ai.ml

        return getattr(azure.ai.ml, name)
    if name == "LocalClient":
        from azsweep.local_client import LocalClient

        return LocalClient
    if name == "replay":
        from azsweep.report.replay import replay

        return replay
    if name == "submit":
        from azsweep.submission.bridge import submit

        return submit
    if name == "sweep":
        import importlib

        return importlib.import_module("azsweep.sweep")
    if name == "optimize":
        from azsweep.optimization import optimize

        return optimize
    raise AttributeError(f"module 'azsweep' has no attribute {name!r}")
