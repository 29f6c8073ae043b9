"""One job process, as Azure starts it and what it leaves: a trial of a sweep, or a command job.

``start_process`` gives the process a fresh copy of the code snapshot as its working directory, a
folder per named output, the command with every ``${{...}}`` rendered and the variables Azure sets
(``command.trial_environment``) plus MLflow's; ``upload_artifacts`` sends what it left to its MLflow run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azsweep.runner.command import render_command, trial_environment
from azsweep.runner.inputs import ResolvedInputs
from azsweep.runner.isolation import BaseEnvironment, make_overlay
from azsweep.runner.layout import TrialFolder
from azsweep.runner.process import snapshot
from azsweep.runner.tracking import TELEMETRY_OFF
from azsweep.spec import JobSpec

if TYPE_CHECKING:
    from azsweep.runner.loop import Launcher, TrackingStore, TrialHandle

MAX_UPLOAD_ERROR = 300  # characters of an upload error kept in a job's note


def start_process(
    launcher: Launcher,
    *,
    spec: JobSpec,
    folder: TrialFolder,
    code: Path,
    params: Mapping[str, Any],
    inputs: ResolvedInputs,
    job_name: str,
    experiment_name: str,
    workspace: Mapping[str, str],
    run_env: Mapping[str, str],
    base: BaseEnvironment,
    fresh: bool = False,
) -> TrialHandle:
    """Start the job's command in ``folder`` (``fresh``: replace an earlier attempt's working copy).

    ``code``: the snapshot of the code folder; ``params``: sampled values (none for a command job);
    ``run_env``: MLflow's and azsweep's variables for this run (``MLFLOW_RUN_ID``, ...), set last;
    ``base``: the environment whose packages the job sees, through its own overlay (``isolation.py``):
    ``python`` and ``pip`` on its PATH are the overlay's, so what it installs stays its own.
    """
    if fresh and folder.code.exists():
        shutil.rmtree(folder.code, ignore_errors=True)
    cwd = snapshot(code, folder.code)
    outputs = {k: folder.output(k) for k in spec.outputs}
    for path in outputs.values():
        path.mkdir(parents=True, exist_ok=True)
    command = render_command(spec.trial.command, params, inputs.values, outputs)
    overlay = make_overlay(folder.env, base)
    env = overlay.environ(dict(os.environ))  # the overlay's python (on the base's packages) first on the PATH
    env.update(
        trial_environment(
            spec,
            params,
            inputs.literals,
            job_name=job_name,
            experiment_name=experiment_name,
            workspace=workspace,
            inputs=inputs.values,
            outputs=outputs,
        )
    )
    env.update(run_env)
    env.update(TELEMETRY_OFF)  # an offline tool sends nothing: MLflow's usage telemetry off in every job
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("MLFLOW_EXPERIMENT_NAME", None)  # the run is given by MLFLOW_RUN_ID and MLFLOW_EXPERIMENT_ID
    folder.command.write_text(command + "\n")
    return launcher.launch(command, cwd=cwd, env=env, log_path=folder.log)


def code_dir(spec: JobSpec) -> Path | None:
    """``code`` (a sweep's ``trial.code``) as a local path, relative to the definition's folder."""
    code = spec.trial.code
    if not code:
        return None
    path = Path(code[len("file://") :] if code.startswith("file://") else code)
    return path if path.is_absolute() else spec.base_dir / path


def job_artifacts(folder: TrialFolder, outputs: Iterable[str]) -> list[tuple[Path, str]]:
    """What a job's run receives when the job ends, as Azure uploads a job's files: (local folder,
    artifact path) for ``./outputs`` and ``./logs`` of its working directory, its ``user_logs`` and each
    named output (``named-outputs/<name>``, where ``jobs.download(output_name=...)`` looks)."""
    return [
        (folder.code / "outputs", "outputs"),
        (folder.code / "logs", "logs"),
        (folder.log.parent, "user_logs"),
        *((folder.output(name), f"named-outputs/{name}") for name in outputs),
    ]


def upload_artifacts(tracker: TrackingStore, run_id: str, folder: TrialFolder, outputs: Iterable[str]) -> str:
    """Upload what the job left (``job_artifacts``) to its run; a folder without files is skipped.

    Never raises: a failed upload is returned as a note, and the sweep or job goes on.
    """
    failed = []
    for local, artifact_path in job_artifacts(folder, outputs):
        try:
            if _has_files(local):
                tracker.log_artifact_folder(run_id, local, artifact_path)
        except Exception as exc:
            failed.append(f"{artifact_path}/ ({type(exc).__name__}: {str(exc)[:MAX_UPLOAD_ERROR]})")
    return f"artifacts not uploaded: {', '.join(failed)}" if failed else ""


def _has_files(folder: Path) -> bool:
    """Whether there is a file anywhere under ``folder`` (stops at the first one)."""
    return folder.is_dir() and any(path.is_file() for path in folder.rglob("*"))
