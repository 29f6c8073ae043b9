"""``LocalClient``: a stand-in for ``MLClient`` that runs sweeps on this machine.

Change one line of an Azure ML sweep notebook — ``ml_client = LocalClient()`` (or ``LocalClient(...)``
with ``MLClient``'s arguments, which are accepted and not used) — and:

* ``jobs`` runs sweeps and command jobs here (``jobs.py``): ``create_or_update`` returns at once and the job
  runs on in a detached driver process; ``get``, ``list``, ``stream``, ``cancel`` read and stop it; ``download``
  copies a job's (a sweep's best trial's) MLflow artifacts as ``az ml job download`` lays them out;
* ``compute`` is this machine, whatever the name (``compute.py``);
* ``environments`` and ``data`` are recorded under the home folder with Azure ML's version rules
  (``environments.py``, ``data.py``, ``assets.py``);
* ``create_or_update`` / ``begin_create_or_update`` on the client send an entity to its group, as
  ``MLClient``'s do;
* ``models`` registers models in the MLflow model registry of the tracking store, from local files or a
  trial's artifacts (``models.py``);
* every other group of ``MLClient`` (``online_endpoints``, ``workspaces``, ...) is there, and
  each of its operations raises one ``AzsweepError`` naming it (``unsupported.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azsweep.errors import ArgumentError, AzsweepError
from azsweep.local_client.common import USE_AZURE, WORKSPACE_FIELDS, Done, describe, is_mlclient_group, refuse
from azsweep.local_client.compute import LocalCompute, LocalComputeOperations, Machine
from azsweep.local_client.data import LocalDataOperations
from azsweep.local_client.environments import LocalEnvironmentOperations
from azsweep.local_client.jobs import LocalJob, LocalJobOperations
from azsweep.local_client.models import LocalModelOperations
from azsweep.local_client.unsupported import REASONS, UnsupportedOperations, entity_group
from azsweep.runner.layout import Settings

__all__ = [
    "Done",
    "LocalClient",
    "LocalCompute",
    "LocalComputeOperations",
    "LocalDataOperations",
    "LocalEnvironmentOperations",
    "LocalJob",
    "LocalJobOperations",
    "LocalModelOperations",
    "Machine",
    "UnsupportedOperations",
]


@dataclass(frozen=True)
class ClientOverrides:
    """Local overrides a ``LocalClient`` applies to every job it starts (``jobs.create_or_update``)."""

    max_total_trials: int | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    environment: str | None = None  # "current" or "build" (azsweep run --environment)
    gpus: str | int | list[str] | None = None  # the GPUs to share out (azsweep run --gpus)
    gpus_per_trial: float | None = None  # each trial's share (azsweep run --gpus-per-trial)


class LocalClient:
    """A stand-in for ``MLClient`` that runs sweeps on this machine.

    Args:
        credential, subscription_id, resource_group_name, workspace_name, registry_name: ``MLClient``'s
            arguments, accepted so that only the class name changes; not used (nothing reaches Azure).
        tracking_uri: the MLflow store (default: ``MLFLOW_TRACKING_URI``, else a SQLite store in ``home``).
        home: where sweeps and local records are kept (default: ``AZSWEEP_HOME``, else ``./.azsweep``).
        max_total_trials: a local limit for every sweep this client starts (``jobs.create_or_update``'s own
            argument wins), e.g. to try a notebook's sweeps with fewer trials.
        inputs: local copies (paths or values) of inputs, by name, for every job this client starts that has an
            input of that name, e.g. ``{"iris_csv": "data/iris.csv"}`` for a public URL read offline.
        environment: what every job's trials run on, each in its own overlay: ``"current"`` (this Python
            environment, the default) or ``"build"`` (one built from the job's declared conda file, cached).
        gpus, gpus_per_trial: the GPUs shared out among running trials and each trial's share (``azsweep run
            --gpus / --gpus-per-trial``; default: the GPUs found, 1 per process for a job on GPU compute).
    """

    def __init__(
        self,
        credential: Any = None,
        subscription_id: str | None = None,
        resource_group_name: str | None = None,
        workspace_name: str | None = None,
        registry_name: str | None = None,
        *,
        tracking_uri: str | None = None,
        home: str | os.PathLike[str] | None = None,
        max_total_trials: int | None = None,
        inputs: Mapping[str, str] | None = None,
        environment: str | None = None,
        gpus: str | int | list[str] | None = None,
        gpus_per_trial: float | None = None,
        **_: Any,
    ) -> None:
        self.settings = Settings.resolve(home=home, tracking_uri=tracking_uri)
        self.overrides = ClientOverrides(max_total_trials, dict(inputs or {}), environment, gpus, gpus_per_trial)
        self.jobs = LocalJobOperations(self)
        self.compute = LocalComputeOperations()
        self.environments = LocalEnvironmentOperations(self.settings)
        self.data = LocalDataOperations(self.settings)
        self.models = LocalModelOperations(self)
        self._unsupported: dict[str, UnsupportedOperations] = {}

    @classmethod
    def from_config(cls, credential: Any = None, *, path: Any = None, file_name: str | None = None, **kwargs: Any) -> LocalClient:
        """``MLClient.from_config``'s signature: a LocalClient (the workspace's config.json is not read)."""
        own = ("tracking_uri", "home", "max_total_trials", "inputs", "environment", "gpus", "gpus_per_trial")
        return cls(**{k: v for k, v in kwargs.items() if k in own})

    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def tracking_uri(self) -> str:
        return self.settings.tracking_uri

    def create_or_update(self, entity: Any, **kwargs: Any) -> Any:
        """``MLClient.create_or_update``: a job (a sweep, a command job, a YAML path) goes to ``jobs``, an ``Environment`` to
        ``environments``, a ``Data`` asset to ``data``, a ``Model`` to ``models``, a compute to ``compute``;
        returns what that group returns."""
        return self._dispatch(entity, "create_or_update", kwargs)

    def begin_create_or_update(self, entity: Any, **kwargs: Any) -> Done[Any]:
        """``MLClient.begin_create_or_update``: as ``create_or_update``, the result in an already finished poller."""
        return Done(self._dispatch(entity, "begin_create_or_update", kwargs))

    def __getattr__(self, name: str) -> Any:
        """``MLClient``'s other groups: present, refusing each operation; its workspace fields: refused."""
        if name in WORKSPACE_FIELDS:
            raise AzsweepError(f"LocalClient.{name}: local runs have no Azure ML workspace; {USE_AZURE}")
        if name.startswith("_") or not (name in REASONS or is_mlclient_group(name)):
            raise AttributeError(f"'LocalClient' has no attribute {name!r} (nor has MLClient)")
        ops = self.__dict__.setdefault("_unsupported", {})
        if name not in ops:
            ops[name] = UnsupportedOperations(name)
        return ops[name]

    def __repr__(self) -> str:
        return f"LocalClient(home={str(self.home)!r}, tracking_uri={self.tracking_uri!r})"

    def _dispatch(self, entity: Any, method: str, kwargs: dict[str, Any]) -> Any:
        from azure.ai.ml.entities import Compute, Data, Environment, Job, Model

        if isinstance(entity, (Job, str, os.PathLike)):
            return self.jobs.create_or_update(entity, **kwargs)
        if kwargs:
            raise ArgumentError(
                f"{{arg}}: LocalClient.{method} takes keyword arguments for jobs only, got {', '.join(sorted(kwargs))} "
                f"for a {type(entity).__name__}",
                argument=sorted(kwargs)[0],
            )
        if isinstance(entity, Environment):
            return self.environments.create_or_update(entity)
        if isinstance(entity, Data):
            return self.data.create_or_update(entity)
        if isinstance(entity, Model):
            return self.models.create_or_update(entity)
        if isinstance(entity, Compute):
            return self.compute.begin_create_or_update(entity).result()
        group = entity_group(entity)
        if group is not None:
            refuse(f"{group}.{method}", getattr(self, group).reason)
        raise ArgumentError(
            f"{{arg}}: LocalClient.{method} takes a sweep or command job, an Environment, a Data asset, a Model or a compute "
            f"(AmlCompute, ...), got {describe(entity)}",
            argument="entity",
        )
