"""azsweep: run, validate and submit Azure ML sweep jobs — the same definitions, offline first.

Light at import: azure-ai-ml and mlflow are imported only when a name that needs them is used.
"""

from __future__ import annotations

from typing import Any

from azsweep.api import load_job, sample, validate
from azsweep.errors import AzsweepError, DefinitionError, InvalidValue, Problem, SubmitError

__version__ = "0.1.0"
__all__ = [
    "AzsweepError", "DefinitionError", "Input", "InvalidValue", "LocalClient", "Problem", "command", "load_job",
    "optimize", "replay", "sample", "submit", "SubmitError", "sweep", "validate",
]


def __getattr__(name: str) -> Any:
    if name in ("command", "Input"):
        import azure.ai.ml

        return getattr(azure.ai.ml, name)
    if name == "LocalClient":
        from azsweep.local_client import LocalClient

        return LocalClient
    if name == "replay":
        from azsweep.policy_replay import replay

        return replay
    if name == "submit":
        from azsweep.azure_bridge import submit

        return submit
    if name == "sweep":
        import importlib

        return importlib.import_module("azsweep.sweep")
    if name == "optimize":
        from azsweep.optimization import optimize

        return optimize
    raise AttributeError(f"module 'azsweep' has no attribute {name!r}")
