"""One run lifecycle for every way a sweep is run: ``azsweep run``, the driver behind ``LocalClient``.

``run_prepared`` starts the sweep (or recovers it after a stop), runs the loop with the given seams,
turns signals into a cancel of the sweep, and returns the final record. ``launch_background`` starts
the same lifecycle in a detached driver process (``python -m azsweep.runner.driver``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from azsweep.runner import tracking as tags
from azsweep.runner.command_job import CommandJobRunner
from azsweep.runner.gpus import GpuPool
from azsweep.runner.isolation import BaseEnvironment
from azsweep.runner.journal import Journal
from azsweep.runner.layout import SweepFolder
from azsweep.runner.loop import EventHandler, Launcher, SweepRunner, SweepState, TrackingStore, sweep_sampler
from azsweep.runner.prepare import PreparedCommand, PreparedSweep
from azsweep.runner.process import ProcessLauncher, process_start_time, snapshot
from azsweep.runner.record import JobStatus, SweepRecord, failure_reason
from azsweep.runner.recovery import recover
from azsweep.runner.trial import code_dir
from azsweep.spec import SweepSpec


@dataclass(frozen=True)
class Cancel:
    """What a signal does to a running sweep: cancel it with ``reason``; ``resumable`` when it is an interruption."""

    reason: str
    resumable: bool = False


INTERRUPT = Cancel("terminated (SIGTERM)", resumable=True)  # ``azsweep run``: SIGTERM interrupts, --resume continues


def run_prepared(
    prepared: PreparedSweep | PreparedCommand,
    *,
    on_event: EventHandler | None = None,
    tracker: TrackingStore | None = None,
    launcher: Launcher | None = None,
    signals: dict[int, Cancel] | None = None,
    on_runner: Callable[[SweepRunner | CommandJobRunner], None] | None = None,
) -> tuple[SweepRecord, SweepRunner | CommandJobRunner]:
    """Run ``prepared`` to its end: start it (or continue it, when ``prepared.resume``), loop, record.

    ``signals`` maps signal numbers to what they do while the sweep runs (default: SIGTERM interrupts).
    ``on_runner`` receives the runner before it runs (to cancel it from elsewhere: a pipeline's step).
    KeyboardInterrupt propagates after every trial is stopped and the record written.
    Returns the final record and the runner (``runner.resumable`` tells an interruption from a cancel).
    A command job runs once, through ``CommandJobRunner``; a signal cancels it.
    Trials whose MLflow may not be azsweep's get the store through a tracking server (``store_server.py``).
    """
    from azsweep.runner.store_server import serve_reason  # not at the top: ``python -m`` runs that module
    from azsweep.runner.tracking import Tracker

    prepared.write_definition()
    store: TrackingStore = tracker or Tracker.for_settings(prepared.settings, prepared.tracking_uri)
    launcher = launcher or ProcessLauncher()
    base, environment_notes = prepared.base_environment()
    reason = serve_reason(prepared.spec.trial.command, base, store.uri)
    with _trials_store(store.uri, reason, prepared) as (trial_uri, note):
        return _run(
            prepared,
            store,
            launcher,
            base,
            environment_notes,
            trial_uri,
            note,
            on_event=on_event,
            signals=signals,
            on_runner=on_runner,
        )


@contextmanager
def _trials_store(uri: str, reason: str | None, prepared: PreparedSweep | PreparedCommand) -> Iterator[tuple[str, str | None]]:
    """The store URI the trials get, and a note when it is served to them over HTTP (``store_server.py``)."""
    from azsweep.runner.store_server import LOG_NAME, served

    if reason is None:
        yield uri, None
        return
    log = prepared.folder.root / LOG_NAME
    try:
        with served(uri, prepared.settings.artifacts, log) as http:
            yield http, f"the trials log through an MLflow tracking server on the job's store ({http}): {reason}"
            return
    except OSError as exc:
        note = f"{exc} (see {log}); the trials open the store directly, and {reason}"
    yield uri, note


def _run(
    prepared: PreparedSweep | PreparedCommand,
    store: TrackingStore,
    launcher: Launcher,
    base: BaseEnvironment,
    environment_notes: list[str],
    trial_uri: str,
    store_note: str | None,
    *,
    on_event: EventHandler | None,
    signals: dict[int, Cancel] | None,
    on_runner: Callable[[SweepRunner | CommandJobRunner], None] | None = None,
) -> tuple[SweepRecord, SweepRunner | CommandJobRunner]:
    overrides = prepared.definition.overrides
    pool = GpuPool(overrides["gpus"], float(overrides["gpus_per_trial"])) if overrides.get("gpus") else None
    mpirun = shutil.which("mpirun")
    if isinstance(prepared, PreparedCommand):
        job = CommandJobRunner(
            prepared.spec,
            folder=prepared.folder,
            inputs=prepared.inputs,
            tracker=store,
            launcher=launcher,
            on_event=on_event,
            environment=base,
            notes=[*environment_notes, store_note] if store_note else environment_notes,
            gpus=pool.acquire() if pool is not None else None,
            mpirun=mpirun,
            trial_tracking_uri=trial_uri,
        )
        if on_runner is not None:
            on_runner(job)
        with _signals_cancel(job, {signal.SIGTERM: INTERRUPT} if signals is None else signals):
            return job.run(), job
    state = recover(prepared.spec, prepared.folder, tracker=store, launcher=launcher) if prepared.resume else None
    if state is None:
        state = start(prepared.spec, prepared.folder, store)
    runner = SweepRunner(
        prepared.spec,
        state,
        folder=prepared.folder,
        inputs=prepared.inputs,
        tracker=store,
        launcher=launcher,
        on_event=on_event,
        keep_going=prepared.keep_going,
        environment=base,
        gpus=pool,
        mpirun=mpirun,
        trial_tracking_uri=trial_uri,
    )
    for note in environment_notes:  # what the trials build on, as the sweep's record says
        if note not in runner.record.notes:
            runner.record.notes.append(note)
    if store_note is not None and store_note not in runner.record.notes:
        runner.record.notes.append(store_note)
        if on_event is not None:
            on_event("note", runner.record, None)  # said as the sweep starts (the environment's were said before)
    if on_runner is not None:
        on_runner(runner)
    with _signals_cancel(runner, {signal.SIGTERM: INTERRUPT} if signals is None else signals):
        record = runner.run()
    return record, runner


def start(spec: SweepSpec, folder: SweepFolder, tracker: TrackingStore) -> SweepState:
    """A new sweep: its experiment, parent run, snapshot of the code and first record."""
    folder.root.mkdir(parents=True, exist_ok=True)
    experiment_name = spec.experiment_name or spec.base_dir.name or "Default"
    experiment_id = tracker.experiment_id(experiment_name)
    run_tags = {
        tags.PRIMARY_METRIC_TAG: spec.objective.primary_metric,
        tags.GOAL_TAG: spec.objective.goal,
        tags.FOLDER_TAG: str(folder.root),
    }
    if spec.display_name:
        run_tags[tags.DISPLAY_NAME_TAG] = spec.display_name
    run_tags.update({k: str(v) for k, v in spec.tags.items()})
    parent = tracker.start_parent(experiment_id, folder.name, run_tags)
    try:
        seed = sweep_sampler(spec, spec.algorithm.seed).seed  # a fresh seed when the definition has none, recorded
        grid = spec.algorithm.kind == "grid"
        limits = spec.limits
        tracker.log_params(
            parent,
            {
                "sampling_algorithm": spec.algorithm.kind,
                "seed": "" if grid else seed,
                "primary_metric": spec.objective.primary_metric,
                "goal": spec.objective.goal,
                "max_total_trials": limits.max_total_trials,
                "max_concurrent_trials": limits.max_concurrent_trials,
            },
        )
        record = SweepRecord(
            name=folder.name,
            status=JobStatus.RUNNING,
            experiment_name=experiment_name,
            experiment_id=experiment_id,
            parent_run_id=parent,
            tracking_uri=tracker.uri,
            primary_metric=spec.objective.primary_metric,
            goal=spec.objective.goal,
            algorithm=spec.algorithm.kind,
            seed=None if grid else seed,
            max_total_trials=limits.max_total_trials,
            max_concurrent_trials=limits.max_concurrent_trials,
        )
        snapshot(code_dir(spec), folder.snapshot, notes=record.notes, exclude=[folder.home])
        Journal(folder.journal).append(
            "sweep_started",
            parent_run_id=parent,
            experiment_id=experiment_id,
            experiment_name=experiment_name,
            seed=seed,
            driver_pid=os.getpid(),
            driver_start=process_start_time(os.getpid()),
        )
        record.save(folder)
        return SweepState(record=record, seed=seed)
    except Exception as exc:  # the snapshot, the journal, the store: the new parent run is closed, not left Running
        reason = failure_reason("the sweep could not start", exc)
        with suppress(Exception):
            tracker.finish(parent, JobStatus.FAILED, {tags.STATUS_TAG: JobStatus.FAILED.value, tags.MESSAGE_TAG: reason})
        with suppress(Exception):
            Journal(folder.journal).append("start_failed", parent_run_id=parent, message=reason)
        raise


@contextmanager
def _signals_cancel(runner: SweepRunner | CommandJobRunner, signals: dict[int, Cancel]) -> Iterator[None]:
    """While the sweep runs, each of ``signals`` cancels it (only the main thread can take signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {
        sig: signal.signal(sig, lambda *_, c=cancel: runner.cancel(c.reason, resumable=c.resumable))
        for sig, cancel in signals.items()
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def launch_background(prepared: PreparedSweep | PreparedCommand) -> Path:
    """Start the sweep in a detached driver process (it outlives the caller, like an Azure job)."""
    folder = prepared.folder
    prepared.write_definition()
    command = [sys.executable, "-m", "azsweep.runner.driver", str(folder.root)]
    env = {**os.environ, **tags.TELEMETRY_OFF}  # MLflow's telemetry off in the driver
    with open(folder.driver_log, "ab") as log:
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    return folder.root
