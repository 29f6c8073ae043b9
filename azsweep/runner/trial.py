"""One job process, as Azure starts it and what it leaves: a trial of a sweep, or a command job.

``start_process`` gives the process a fresh copy of the code snapshot as its working directory, a
folder per named output, the command with every ``${{...}}`` rendered and the variables Azure sets
(``command.trial_environment``) plus MLflow's, in its own overlay (``isolation.py``) or in a container of its
image (``containers.py``); ``upload_artifacts`` sends what it left to its MLflow run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azsweep.runner import containers, ranks
from azsweep.runner.command import render_command, trial_environment
from azsweep.runner.inputs import ResolvedInputs
from azsweep.runner.isolation import BaseEnvironment, make_overlay
from azsweep.runner.layout import TrialFolder
from azsweep.runner.process import copy_snapshot
from azsweep.runner.tracking import TELEMETRY_OFF
from azsweep.spec import JobSpec

if TYPE_CHECKING:
    from azsweep.runner.loop import Launcher, TrackingStore, TrialHandle

MAX_UPLOAD_ERROR = 300  # characters of an upload error kept in a job's note
CONTAINER_HOME = "home"  # in the trial's folder: HOME of a trial that runs in a container


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
    gpus: Sequence[str] | None = None,
    mpirun: str | None = None,
) -> TrialHandle:
    """Start the job's command in ``folder`` (``fresh``: replace an earlier attempt's working copy).

    ``code``: the snapshot of the code folder; ``params``: sampled values (none for a command job);
    ``run_env``: MLflow's and azsweep's variables for this run (``MLFLOW_RUN_ID``, ...), set last;
    ``base``: the environment whose packages the job sees, through its own overlay (``isolation.py``):
    ``python`` and ``pip`` on its PATH are the overlay's, so what it installs stays its own;
    ``gpus``: the GPUs it may use (``CUDA_VISIBLE_DEVICES``; None: the variable is left as it is);
    ``mpirun``: the launcher of an ``mpi`` distribution. A ``pytorch`` or ``tensorflow`` distribution starts
    every rank (``ranks.py``), each with its variables, its share of the GPUs and its own log.
    ``base.container`` set (an image-only environment, ``containers.py``): each process runs in a container of
    the image instead (one per rank), with the variables above passed by name and no overlay.
    """
    if fresh and folder.code.exists():
        shutil.rmtree(folder.code, ignore_errors=True)
    cwd = copy_snapshot(code, folder.code)  # large files hard-linked (read-only), the code itself copied
    outputs = {k: folder.output(k) for k in spec.outputs}
    for path in outputs.values():
        path.mkdir(parents=True, exist_ok=True)
    command = render_command(spec.trial.command, params, inputs.values, outputs)
    variables = trial_environment(
        spec,
        params,
        inputs.literals,
        job_name=job_name,
        experiment_name=experiment_name,
        workspace=workspace,
        inputs=inputs.values,
        outputs=outputs,
    )
    variables.update(run_env)
    variables.update(TELEMETRY_OFF)  # an offline tool sends nothing: MLflow's usage telemetry off in every job
    variables["PYTHONUNBUFFERED"] = "1"
    variables.pop("MLFLOW_EXPERIMENT_NAME", None)  # the run is given by MLFLOW_RUN_ID and MLFLOW_EXPERIMENT_ID
    container = base.container
    # on the host: the overlay's python (on the base's packages) first on the PATH; in a container: the
    # environment of the runtime's client, of which the container gets `variables` only, by name
    env = make_overlay(folder.env, base).environ(dict(os.environ)) if container is None else dict(os.environ)
    env.update(variables)
    env.pop("MLFLOW_EXPERIMENT_NAME", None)
    distribution = spec.trial.distribution
    if distribution is not None and distribution.kind == "mpi":
        assert mpirun is not None, "prepare refuses an mpi distribution without mpirun"
        command = ranks.mpi_command(command, spec.trial.process_count, mpirun if container is None else "mpirun")
    folder.command.write_text(command + "\n")
    mounts: list[Path] = []
    if container is not None:
        mounts = containers.trial_mounts(
            folder.root, inputs.values.values(), variables.get("MLFLOW_TRACKING_URI", ""), run_env.get("AZSWEEP_HOME")
        )

    def launch(extra: Mapping[str, str], share: Sequence[str] | None, log: Path, rank: int | None = None) -> TrialHandle:
        """One process of the job (``rank``: of a distributed trial) with ``extra`` variables and ``share`` of the GPUs."""
        if container is None:
            process_env = {**env, **extra}
            if share is not None:
                process_env["CUDA_VISIBLE_DEVICES"] = ",".join(share)
            return launcher.launch(command, cwd=cwd, env=process_env, log_path=log)
        return containers.start(
            launcher,
            container,
            command,
            name=containers.container_name(job_name, folder.root, run_env.get("MLFLOW_RUN_ID", ""), rank),
            cwd=cwd,
            env={**env, **extra},
            passed=[*variables, *extra],
            mounts=mounts,
            home=folder.root / CONTAINER_HOME,
            gpus=share,
            log_path=log,
            labels={"azsweep.home": run_env.get("AZSWEEP_HOME", ""), "azsweep.job": job_name},
            shared_ipc=rank is not None,
        )

    if distribution is None or distribution.kind == "mpi":
        return launch({}, gpus, folder.log)
    count = spec.trial.process_count
    shares = ranks.divide_gpus(gpus or [], count)
    handles, logs = [], []
    for rank, rank_variables in enumerate(ranks.rank_variables_for(spec.trial, count)):
        log = ranks.rank_log(folder.log.parent, rank)
        handles.append(launch(rank_variables, shares[rank] if gpus is not None else None, log, rank))
        logs.append(log)
    if not folder.log.exists():  # user_logs/std_log.txt: rank 0's, where readers of a one-process trial look
        folder.log.symlink_to(logs[0].name)
    return ranks.RankGroup(handles, logs)


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
