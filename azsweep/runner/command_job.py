"""A plain command job run locally: one process with a sweep trial's machinery, recorded as Azure records it.

The job gets one MLflow run (top level, named as the job), a snapshot of its code, its inputs made local,
a folder per named output, Azure's variables and ``user_logs/std_log.txt``; what it leaves is uploaded to
its run when it ends (``trial.upload_artifacts``). It ends Completed (exit code 0), Failed (any other exit:
the message says how, and what its log said last), or Canceled (``cancel()``, a signal, or its
``limits.timeout``). Its record is a ``SweepRecord`` of type ``command`` with one trial, the job itself, so
``LocalClient.jobs`` reads, streams, downloads and cancels it as it does a sweep.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

from azsweep.runner import tracking as tags
from azsweep.runner.inputs import ResolvedInputs
from azsweep.runner.isolation import BaseEnvironment
from azsweep.runner.journal import Journal
from azsweep.runner.layout import SweepFolder
from azsweep.runner.loop import POLL_SECONDS, Clock, EventHandler, Launcher, SystemClock, TrackingStore, TrialHandle
from azsweep.runner.process import KILL_GRACE_SECONDS, exit_reason, failed_trial_line, last_line, process_start_time, snapshot
from azsweep.runner.record import JobStatus, SweepRecord, Trial, attempt_each, failure_reason
from azsweep.runner.trial import code_dir, start_process, upload_artifacts
from azsweep.spec import CommandSpec
from azsweep.workspace_config import local_workspace


class CommandJobRunner:
    """Runs one command job to its end. ``on_event`` receives progress events (for displays)."""

    resumable = False  # a command job is not resumed: a stop cancels it
    _process: TrialHandle | None = None  # the job's process, once started

    def __init__(
        self,
        spec: CommandSpec,
        *,
        folder: SweepFolder,
        inputs: ResolvedInputs,
        tracker: TrackingStore,
        launcher: Launcher,
        on_event: EventHandler | None = None,
        clock: Clock | None = None,
        environment: BaseEnvironment | None = None,
        notes: list[str] | None = None,
        gpus: list[str] | None = None,
        mpirun: str | None = None,
        trial_tracking_uri: str | None = None,
    ) -> None:
        self.spec = spec
        self.environment = environment or BaseEnvironment.current()
        self.trial_tracking_uri = trial_tracking_uri or tracker.uri  # the store as the job's process reaches it
        self.notes = list(notes or [])  # for the record: what the job's environment is
        self.gpus = gpus  # the GPUs it may use (None: CUDA_VISIBLE_DEVICES left as it is)
        self.mpirun = mpirun
        self.folder = folder
        self.inputs = inputs
        self.tracker = tracker
        self.launcher = launcher
        self.on_event: EventHandler = on_event or (lambda *_: None)
        self.clock: Clock = clock or SystemClock()
        self.journal = Journal(folder.journal)
        self.cancel_reason: str | None = None
        self.record: SweepRecord | None = None

    @property
    def name(self) -> str:
        return self.folder.name

    def cancel(self, reason: str = "canceled by the user", *, resumable: bool = False) -> None:
        """Ask the job to stop (safe from a signal handler); ``resumable`` is accepted and means nothing here."""
        if self.cancel_reason is None:
            self.cancel_reason = reason

    def run(self) -> SweepRecord:
        """Start the job, wait for it, record how it ended; on KeyboardInterrupt stop it, record, re-raise.
        On any other error the same, the job closed Failed with a one-line reason (``_fail``)."""
        try:
            return self._run()
        except Exception as exc:  # whatever it is, the process is not left running nor the job Running
            self._fail(failure_reason("the job's driver failed", exc))
            raise

    def _run(self) -> SweepRecord:
        record, trial = self._start()
        process = self._process = self._launch(record, trial)
        started = self.clock.monotonic()
        timeout = self.spec.timeout
        try:
            while (code := process.poll()) is None:
                if timeout is not None and self.clock.monotonic() - started >= timeout and self.cancel_reason is None:
                    self.cancel(f"the job reached its limits.timeout of {timeout:g} s")
                if self.cancel_reason is not None:
                    code = process.stop(KILL_GRACE_SECONDS)
                    self._end(record, trial, JobStatus.CANCELED, code, self.cancel_reason)
                    return record
                self.launcher.wait(POLL_SECONDS)
        except KeyboardInterrupt:
            code = process.stop(KILL_GRACE_SECONDS)
            self._end(record, trial, JobStatus.CANCELED, code, "interrupted (Ctrl-C)")
            raise
        process.reap_group()
        if code == 0:
            self._end(record, trial, JobStatus.COMPLETED, code, "")
        else:  # how it ended, and what its log said last (for a Python crash, the exception)
            said = last_line(trial.log)
            self._end(record, trial, JobStatus.FAILED, code, exit_reason(code) + (f": {said}" if said else ""))
        return record

    def _start(self) -> tuple[SweepRecord, Trial]:
        """The job's experiment, run, snapshot of the code and first record."""
        spec, folder = self.spec, self.folder
        folder.root.mkdir(parents=True, exist_ok=True)
        experiment_name = spec.experiment_name or spec.base_dir.name or "Default"
        experiment_id = self.tracker.experiment_id(experiment_name)
        run_tags = {tags.FOLDER_TAG: str(folder.root), **{k: str(v) for k, v in spec.tags.items()}}
        if spec.display_name:
            run_tags[tags.DISPLAY_NAME_TAG] = spec.display_name
        run_id = self.tracker.start_parent(experiment_id, self.name, run_tags, run_type="command")
        trial = Trial(
            index=0, name=self.name, params={}, run_id=run_id, workdir=str(folder.trial(self.name).root), gpus=self.gpus or []
        )
        record = SweepRecord(
            name=self.name,
            type="command",
            status=JobStatus.RUNNING,
            experiment_name=experiment_name,
            experiment_id=experiment_id,
            parent_run_id=run_id,
            tracking_uri=self.tracker.uri,
            primary_metric="",
            goal="",
            algorithm="",
            seed=None,
            max_total_trials=1,
            max_concurrent_trials=1,
            trials=[trial],
            notes=list(self.notes),
        )
        self.record = record
        snapshot(code_dir(spec), folder.snapshot, notes=record.notes, exclude=[folder.home])
        self.journal.append(
            "job_started",
            run_id=run_id,
            experiment_id=experiment_id,
            experiment_name=experiment_name,
            driver_pid=os.getpid(),
            driver_start=process_start_time(os.getpid()),
        )
        record.save(folder)
        self.on_event("started", record, None)
        return record, trial

    def _launch(self, record: SweepRecord, trial: Trial) -> TrialHandle:
        workspace, note = local_workspace(self.spec.base_dir, Path.cwd())
        if note:
            record.notes.append(note)
        process = start_process(
            self.launcher,
            spec=self.spec,
            folder=self.folder.trial(self.name),
            code=self.folder.snapshot,
            params={},
            inputs=self.inputs,
            job_name=self.name,
            experiment_name=record.experiment_name,
            workspace=workspace,
            run_env={
                "MLFLOW_TRACKING_URI": self.trial_tracking_uri,
                "MLFLOW_EXPERIMENT_ID": record.experiment_id,
                "MLFLOW_RUN_ID": trial.run_id,
                "AZSWEEP_HOME": str(self.folder.home),
            },
            base=self.environment,
            gpus=self.gpus,
            mpirun=self.mpirun,
        )
        self.journal.append("job_process", pid=process.pid, process_start=process_start_time(process.pid))
        record.save(self.folder)
        self.on_event("trial_started", record, trial)
        return process

    def _end(self, record: SweepRecord, trial: Trial, status: JobStatus, code: int | None, reason: str) -> None:
        self._end_leftovers(trial)
        trial.status, trial.exit_code, trial.reason, trial.ended = status, code, reason, self.clock.time()
        note = upload_artifacts(self.tracker, trial.run_id, self.folder.trial(self.name), self.spec.outputs)
        if note:
            trial.reason = f"{reason}; {note}" if reason else note
        run_tags = {tags.STATUS_TAG: status.value}
        if trial.reason:
            run_tags[tags.REASON_TAG] = trial.reason
        self.tracker.finish(trial.run_id, status, run_tags)
        record.status, record.ended = status, trial.ended
        record.message = failed_trial_line(trial) if status == JobStatus.FAILED else trial.reason
        self.journal.append("job_ended", status=status.value, exit_code=code, message=record.message)
        record.save(self.folder)
        self.on_event("trial_ended", record, trial)
        self.on_event("finished", record, None)

    def _end_leftovers(self, trial: Trial) -> None:
        """End what the job left running after its own process group ended (a daemon: double fork and setsid,
        SIGTERM ignored), found by its environment: its MLflow run and this home."""
        stop_marked = getattr(self.launcher, "stop_marked", None)  # a launcher without processes has none
        if stop_marked is None or not trial.run_id:
            return
        ended = stop_marked(f"MLFLOW_RUN_ID={trial.run_id}", f"AZSWEEP_HOME={self.folder.home}")
        if ended and self.record is not None:
            self.record.notes.append(
                f"ended {len(ended)} process group(s) the job left running after it ended (daemons): "
                f"pgid {', '.join(map(str, ended))}"
            )

    def _fail(self, reason: str) -> None:
        """The driver failed: stop the job's process, close its run and record Failed with ``reason``, as far as
        the store and the disk still allow (each step is tried on its own; the caller raises the error again)."""
        code: int | None = None
        if self._process is not None:
            with suppress(Exception):
                code = self._process.stop(KILL_GRACE_SECONDS)
        record = self.record
        if record is None:  # failed before the job's run existed: nothing to close
            return
        trial = record.trials[0]
        with suppress(Exception):
            self._end_leftovers(trial)
        if record.status.terminal:
            return  # the job was recorded as ended; what failed came after
        trial.status, trial.exit_code, trial.reason, trial.ended = JobStatus.FAILED, code, reason, self.clock.time()
        record.status, record.message, record.ended = JobStatus.FAILED, reason, trial.ended
        attempt_each(
            [
                lambda: self.tracker.finish(
                    trial.run_id, JobStatus.FAILED, {tags.STATUS_TAG: JobStatus.FAILED.value, tags.REASON_TAG: reason}
                ),
                lambda: self.journal.append("job_ended", status=JobStatus.FAILED.value, exit_code=code, message=reason),
                lambda: record.save(self.folder),
                lambda: self.on_event("trial_ended", record, trial),
                lambda: self.on_event("finished", record, None),
            ]
        )
