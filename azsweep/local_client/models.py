"""``LocalClient.models``: models registered in the MLflow model registry of the local tracking store.

``create_or_update`` takes an azure-ai-ml ``Model`` whose path is a local file or folder, or a job's
artifacts as Microsoft's notebooks write them, ``azureml://jobs/<job>/outputs/artifacts/paths/<path>``
(``<job>``: a trial's name, or a sweep's name for its best trial; read from the trial's MLflow run).
The files are copied to ``<home>/models/<name>/<version>/`` (the version MLflow gives it; its source
points there whatever number a concurrent registration leaves it) and a new version of the registered model
is created (``MlflowClient.create_model_version``) with its source there; ``get`` and ``list`` read
the registry back as ``Model`` objects; ``download`` copies a version's files out.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azsweep.errors import ArgumentError, AzsweepError
from azsweep.local_client.assets import LATEST
from azsweep.local_client.common import Operations, describe, require_asset_name

if TYPE_CHECKING:
    from azure.ai.ml.entities import Model

    from azsweep.local_client import LocalClient
    from azsweep.runner.tracking import ModelVersionInfo, Tracker

JOB_ARTIFACTS = re.compile(r"azureml://jobs/(?P<job>[^/]+)/outputs/artifacts/paths/(?P<path>.*)")
TYPE_TAG = "azureml.model_type"
FROM_TAG = "azsweep.from"  # the path the model was registered from, as given
DEFAULT_TYPE = "custom_model"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


class LocalModelOperations(Operations):
    """``create_or_update``, ``get``, ``list``, ``download`` of ``MLClient.models``, on MLflow's model registry."""

    group = "models"
    reason = "not available locally (LocalClient.models has create_or_update, get, list and download, on MLflow's model registry)"

    def __init__(self, client: LocalClient) -> None:
        self._client = client

    @property
    def root(self) -> Path:
        """``<home>/models``: the files of each registered version, ``<name>/<version>/``."""
        return self._client.settings.models

    def create_or_update(self, model: Model, **_: Any) -> Model:
        """Register a new version of ``model.name`` with the files at ``model.path`` (a local file or folder, or
        ``azureml://jobs/<job>/outputs/artifacts/paths/<path>``). Versions are MLflow's: 1, 2, ...; a version
        given must be the next one."""
        from azure.ai.ml.entities import Model

        if not isinstance(model, Model):
            raise ArgumentError(f"{{arg}}: expected an azure.ai.ml.entities.Model, got {describe(model)}", argument="model")
        name = require_asset_name(model.name, "model.name")
        if model.path is None or str(model.path) == "":
            raise ArgumentError(
                "{arg}: a model needs a path (a local file or folder, or azureml://jobs/...)", argument="model.path"
            )
        given = str(model.path)
        tracker = self._tracker()
        known = tracker.model_versions(name)
        next_version = str(max((int(v.version) for v in known), default=0) + 1)
        if model.version is not None and str(model.version) != next_version:
            raise AzsweepError(
                f"LocalClient.models.create_or_update: MLflow's registry numbers the versions of {name!r}; the next is "
                f"{next_version} (got version={model.version!r}); give that, or none"
            )
        run_id: str | None = None
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self._mkroot()))
        try:
            match = JOB_ARTIFACTS.fullmatch(given)
            if match is not None:
                files, run_id = self._from_job(match["job"], match["path"].strip("/"), staging)
            elif _URL.match(given) and not Path(given).exists():
                raise ArgumentError(
                    f"{{arg}}: {given!r} is not a local path nor azureml://jobs/<job>/outputs/artifacts/paths/<path>; "
                    "register it with MLClient",
                    argument="model.path",
                )
            else:
                files = _copy_local(given, staging)
            target = self.root / name / next_version
            if target.exists():  # left by a registration that failed before the registry recorded it
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        source = target / files.name
        tags = {**{str(k): str(v) for k, v in (model.tags or {}).items()}, TYPE_TAG: str(model.type or DEFAULT_TYPE)}
        tags[FROM_TAG] = given
        info = tracker.register_model_version(name, str(source), run_id=run_id, description=model.description, tags=tags)
        return _entity(info)

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Model:
        """Version ``version`` of the registered model ``name``, or its ``label='latest'`` (one of the two, as MLClient)."""
        name = require_asset_name(name, "name")
        if version is not None and label is not None:
            raise ArgumentError("{arg}: give version or label, not both", argument="label")
        tracker = self._tracker()
        if label is not None:
            if label != LATEST:
                raise ArgumentError(f"{{arg}}: the only label is {LATEST!r} (got {describe(label)})", argument="label")
            versions = tracker.model_versions(name)
            if not versions:
                raise self._missing(name, None, versions)
            return _entity(max(versions, key=lambda v: int(v.version)))
        if version is None:
            raise ArgumentError(f"{{arg}}: give version=... or label={LATEST!r} (MLClient requires one)", argument="version")
        version = require_asset_name(version, "version")
        info = tracker.model_version(name, version)
        if info is None:
            raise self._missing(name, version, tracker.model_versions(name))
        return _entity(info)

    def list(self, name: str | None = None, **_: Any) -> list[Model]:
        """Every version of ``name``, newest first; without ``name``, the latest version of each registered model."""
        tracker = self._tracker()
        if name is not None:
            versions = tracker.model_versions(require_asset_name(name, "name"))
            return [_entity(v) for v in sorted(versions, key=lambda v: int(v.version), reverse=True)]
        latest: dict[str, ModelVersionInfo] = {}
        for v in tracker.model_versions():
            if v.name not in latest or int(v.version) > int(latest[v.name].version):
                latest[v.name] = v
        return [_entity(latest[n]) for n in sorted(latest)]

    def download(self, name: str, version: str, download_path: str | os.PathLike[str] = ".") -> None:
        """``MLClient.models.download``: the files of ``name:version`` into ``<download_path>/<name>/``, as Azure
        lays them out (a folder as ``<name>/<folder name>/...``, a file as ``<name>/<file name>``)."""
        source = Path(self.get(name, version=version).path or "")
        if not source.exists():
            raise AzsweepError(f"LocalClient.models.download: the files of {name}:{version} are gone from {str(source)!r}")
        target = Path(download_path) / name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)

    def __repr__(self) -> str:
        return f"<LocalClient.models: MLflow's model registry in {self._client.tracking_uri}; files in {self.root}>"

    # -- helpers ---------------------------------------------------------------------------------

    def _tracker(self) -> Tracker:
        from azsweep.runner.tracking import Tracker

        return Tracker.for_settings(self._client.settings)

    def _mkroot(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root

    def _from_job(self, job: str, path: str, staging: Path) -> tuple[Path, str]:
        """Copy the artifact ``path`` of the trial ``job`` names (a sweep: its best trial) into ``staging``: the
        run's artifact at ``path``, else the model the run logged under that name (MLflow 3's logged models)."""
        from azsweep.runner.tracking import Tracker

        try:
            record, trial = self._client.jobs.trial_run(job)
        except AzsweepError as exc:
            raise AzsweepError(f"LocalClient.models.create_or_update: {exc}") from None
        tracker = Tracker.for_settings(self._client.settings, record.tracking_uri or None)
        if not path:
            raise ArgumentError("{arg}: name the artifact after .../outputs/artifacts/paths/", argument="model.path")
        parent = path.rsplit("/", 1)[0] if "/" in path else None
        here = [p for p, _ in tracker.list_artifacts(trial.run_id, parent)]
        if path in here:
            downloaded = tracker.download_artifacts(trial.run_id, path, staging / "download")
        else:  # MLflow 3: a model logged under that name is kept apart from the run's artifacts
            logged = tracker.download_logged_model(trial.run_id, path, staging / "download") if parent is None else None
            if logged is None:
                have = ", ".join(sorted(here)) or "none"
                models = ", ".join(tracker.logged_model_names(trial.run_id)) or "none"
                raise AzsweepError(
                    f"LocalClient.models.create_or_update: trial {trial.name!r} has no artifact {path!r} "
                    f"(artifacts{' under ' + parent if parent else ''}: {have}; models it logged: {models})"
                )
            downloaded = logged
        files = staging / downloaded.name
        downloaded.rename(files)
        shutil.rmtree(staging / "download")
        return files, trial.run_id

    def _missing(self, name: str, version: str | None, versions: Sequence[ModelVersionInfo]) -> AzsweepError:
        which = f"{name}:{version}" if version is not None else f"{name}@{LATEST}"
        known = ", ".join(v.version for v in versions)
        have = f"registered versions: {known}" if known else "register it with models.create_or_update(Model(...))"
        return AzsweepError(f"no model {which} in the MLflow registry of {self._client.tracking_uri}; {have}")


def _copy_local(given: str, staging: Path) -> Path:
    """Copy the local file or folder ``given`` into ``staging``; returns the copy."""
    local = Path(given[len("file://") :] if given.startswith("file://") else given).expanduser().resolve()
    if not local.exists():
        raise ArgumentError(f"{{arg}}: {str(local)!r} does not exist", argument="model.path")
    target = staging / local.name
    if local.is_dir():
        shutil.copytree(local, target)
    else:
        shutil.copy2(local, target)
    return target


def _entity(info: ModelVersionInfo) -> Model:
    from azure.ai.ml.entities import Model

    tags = {k: v for k, v in info.tags.items() if k not in (TYPE_TAG, FROM_TAG)}
    properties = {"mlflow.source": info.source}
    if info.run_id:
        properties["mlflow.run_id"] = info.run_id
    if FROM_TAG in info.tags:
        properties["azsweep.from"] = info.tags[FROM_TAG]
    return Model(
        name=info.name,
        version=info.version,
        path=info.source,
        type=info.tags.get(TYPE_TAG, DEFAULT_TYPE),
        description=info.description,
        tags=tags,
        properties=properties,
    )
