"""The run loop of a local sweep: proposes trials, launches them, enforces limits, applies the policy.

``SweepRunner`` is built with its state (a new sweep's, or one recovered after a stop) and its two
side-effect seams: a ``Launcher`` that starts trial processes and a ``TrackingStore`` (MLflow in
production, in memory in the loop's unit tests). Each state change is written to the journal, to
MLflow and to ``sweep.json`` as it happens. A trial gets Azure's variables (``command.trial_environment``;
``AZUREML_ARM_*`` from the workspace config.json found from the definition's folder or the cwd, else
``local``), and when it ends, whatever its status, what it left (``trial.job_artifacts``: ``./outputs``,
``./logs``, ``user_logs``, named outputs) is uploaded to its run; a failed upload is a note on the trial.

How a sweep ends (``SweepRunner.run``): Canceled when it was canceled (by the user, a stop of the
driver, or its ``timeout``); Failed when no trial succeeded (a trial succeeds unless it Failed: it
Completed, or the early-termination policy or its ``trial_timeout`` stopped it), when no trial logged
the primary metric, or early, when every trial of the first wave failed (Azure's rule; the local
``keep_going`` override runs on regardless); Completed otherwise. The best trial is the best score
among the trials that did not fail.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from azsweep.policies import make_policy
from azsweep.runner import tracking as tags
from azsweep.runner.gpus import GpuPool
from azsweep.runner.inputs import ResolvedInputs
from azsweep.runner.isolation import BaseEnvironment
from azsweep.runner.journal import Journal
from azsweep.runner.layout import SweepFolder
from azsweep.runner.process import KILL_GRACE_SECONDS, exit_reason, failed_trial_line, last_line, process_start_time
from azsweep.runner.record import STOPPED_BY_POLICY, JobStatus, SweepRecord, Trial, attempt_each, failure_reason
from azsweep.runner.tracking import RunState
from azsweep.runner.trial import start_process, upload_artifacts
from azsweep.samplers import Observation, Sampler, make_sampler
from azsweep.spec import SweepSpec, best_item, best_value
from azsweep.workspace_config import local_workspace

POLL_SECONDS = 0.2  # the longest the loop waits without looking; a trial's exit wakes it at once
METRIC_POLL_SECONDS = 1.0
POLICY_POLL_SECONDS = 0.5  # a trial logging once a second is judged within about a second of the interval
POLICY_WAIT_NOTE_SECONDS = 10.0  # after this long without a primary-metric value, say the policy cannot apply yet
MAX_FAILED_LINES = 10  # failed trials named in a failed sweep's message (the others are counted)
FIRST_WAVE_REASON = "canceled: every trial of the first wave failed"
KEEP_GOING_HINT = "fix what they report, or run on regardless: azsweep run --keep-going (keep_going=True in Python)"

EventHandler = Callable[[str, SweepRecord, "Trial | None"], None]


class Clock(Protocol):
    """Time as the loop sees it (``SystemClock``; a fake clock in the loop's unit tests)."""

    def monotonic(self) -> float: ...
    def time(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    monotonic = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)
    time = staticmethod(time.time)  # last: the name shadows the module in this class body


class TrialHandle(Protocol):
    """A started trial: its process group."""

    pid: int

    def poll(self) -> int | None: ...
    def terminate(self) -> None: ...
    def stop(self, grace: float) -> int: ...
    def reap_group(self) -> None: ...


class Launcher(Protocol):
    """Starts trial commands (``process.ProcessLauncher``: bash in its own process group)."""

    def launch(self, command: str, *, cwd: Path, env: Mapping[str, str], log_path: Path) -> TrialHandle: ...

    def wait(self, timeout: float) -> None:
        """Return when a launched trial's process exits, or after ``timeout`` seconds (whichever is first)."""

    def stop_leftovers(self, sweep_name: str, home: Path) -> None:
        """End what a stopped driver's trials left running."""

    def stop_marked(self, *markers: str) -> list[int]:
        """End every process group whose processes carry all of ``markers`` (``NAME=value`` in their environment),
        checked by start time before each signal; returns the groups ended."""


class TrackingStore(Protocol):
    """What the loop writes to and reads from the tracking store (``tracking.Tracker``)."""

    uri: str

    def experiment_id(self, name: str) -> str: ...
    def start_parent(self, experiment_id: str, sweep_name: str, tags: Mapping[str, str], run_type: str = "sweep") -> str:
        """A top-level run: a sweep's parent, or (``run_type="command"``) a command job's run."""

    def log_params(self, run_id: str, values: Mapping[str, Any]) -> None: ...
    def start_child(
        self, experiment_id: str, parent_id: str, sweep_name: str, index: int, params: Mapping[str, Any], attempt: int = 1
    ) -> str:
        """A trial's run, with its sampled values as tags (``tracking.param_tag``), not params."""

    def log_missing_params(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Log as params the values the run has no param of that name for (the script's own value wins)."""

    def log_artifact_folder(self, run_id: str, folder: Path, artifact_path: str) -> None:
        """Upload the files under ``folder`` as the run's artifacts under ``artifact_path``."""

    def finish(self, run_id: str, status: JobStatus, tags: Mapping[str, str] | None = None) -> None: ...
    def set_running(self, run_id: str) -> None: ...
    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None: ...
    def log_best(self, parent_id: str, best_run_id: str | None, score: float | None, metric: str) -> None: ...
    def run_state(self, run_id: str) -> RunState: ...
    def children(self, experiment_id: str, parent_id: str) -> list[RunState]: ...
    def metric_values(self, run_id: str, key: str) -> list[float]: ...
    def metric_names(self, run_id: str) -> list[str]: ...


@dataclass
class SweepState:
    """Where a run of the loop starts from: a new sweep, or what ``recovery.recover`` rebuilt."""

    record: SweepRecord
    seed: int  # the sampler's seed, as recorded
    requeued: list[int] = field(default_factory=list)  # interrupted trials to run again, same configuration
    curves: dict[int, list[float]] = field(default_factory=dict)  # primary-metric values of finished trials
    elapsed_before: float = 0.0  # seconds the sweep ran before this session


def trial_seed(sweep_seed: int, index: int) -> int:
    """``AZSWEEP_TRIAL_SEED``: from the sweep seed and the trial index only, so a trial's seed does not
    depend on how many trials ran at once, or on stops and resumes."""
    import numpy as np

    return int(np.random.SeedSequence([sweep_seed, index]).generate_state(1)[0])


def sweep_sampler(spec: SweepSpec, seed: int | None) -> Sampler:
    """The sweep's sampler, with ``seed`` (None: a fresh one, which the sampler records as ``.seed``)."""
    return make_sampler(replace(spec.algorithm, seed=seed), spec.search_space, maximize=spec.objective.maximize)


class SweepRunner:
    """Runs one sweep to the end. ``on_event`` receives progress events (for displays)."""

    def __init__(
        self,
        spec: SweepSpec,
        state: SweepState,
        *,
        folder: SweepFolder,
        inputs: ResolvedInputs,
        tracker: TrackingStore,
        launcher: Launcher,
        on_event: EventHandler | None = None,
        clock: Clock | None = None,
        keep_going: bool = False,
        environment: BaseEnvironment | None = None,
        gpus: GpuPool | None = None,
        mpirun: str | None = None,
        trial_tracking_uri: str | None = None,
    ) -> None:
        self.spec = spec
        self.trial_tracking_uri = trial_tracking_uri or tracker.uri  # the store as the trials reach it
        self.environment = environment or BaseEnvironment.current()  # what each trial's own overlay builds on
        self.gpus = gpus  # the machine's GPUs, shared out among running trials (None: none to share)
        self.mpirun = mpirun  # the launcher of an mpi distribution
        self.record = state.record
        self.folder = folder
        self.inputs = inputs
        self.tracker = tracker
        self.launcher = launcher
        self.on_event: EventHandler = on_event or (lambda *_: None)
        self.clock: Clock = clock or SystemClock()
        self.objective = spec.objective
        self.sampler = sweep_sampler(spec, state.seed)
        self.concurrency = spec.limits.max_concurrent_trials
        self.policy = make_policy(spec.policy, maximize=self.objective.maximize) if spec.policy else None
        self.curves = dict(state.curves)  # primary-metric values per trial, as the policy sees them
        self.judged: dict[int, int] = {}  # the last interval the policy looked at, per trial
        self.processes: dict[int, TrialHandle] = {}
        self.deadlines: dict[int, float] = {}
        self.requeued = list(state.requeued)
        self.elapsed_before = state.elapsed_before
        self.journal = Journal(folder.journal)
        self.cancel_reason: str | None = None
        self.resumable = False  # the cancel is an interruption: a resume re-runs the trials it stopped
        self.keep_going = keep_going  # run on when every trial of the first wave failed (a local override)
        self.failure: str | None = None  # why the sweep stopped early, failed
        # the AZUREML_ARM_* values: the workspace config.json found from the definition's folder or the cwd
        self.workspace, note = local_workspace(spec.base_dir, Path.cwd())
        if note and note not in self.record.notes:
            self.record.notes.append(note)

    @property
    def name(self) -> str:
        return self.record.name

    def cancel(self, reason: str = "canceled by the user", *, resumable: bool = False) -> None:
        """Ask the loop to stop every trial and end the sweep (safe from a signal handler).

        ``resumable``: an interruption (Ctrl-C, SIGTERM of ``azsweep run``) rather than a cancel; the
        trials it stops are re-run by a resume.
        """
        if self.cancel_reason is None:
            self.cancel_reason, self.resumable = reason, resumable

    def run(self) -> SweepRecord:
        """Run to the end; on KeyboardInterrupt stop every trial, record, and re-raise. On any other error
        the same, the sweep and its stopped trials closed Failed with a one-line reason (``_fail``)."""
        self.on_event("started", self.record, None)
        started = self.clock.monotonic() - self.elapsed_before
        timeout = self.spec.limits.timeout
        next_metric_poll = 0.0
        metric_poll = POLICY_POLL_SECONDS if self.policy else METRIC_POLL_SECONDS
        try:
            while True:
                ended = self._exits()
                now = self.clock.monotonic()
                in_time = timeout is None or now - started < timeout
                if ended and all(code == 0 for _, code, _ in ended) and self.cancel_reason is None and in_time:
                    self._launch()  # the next trials start first; the bookkeeping of those that ended follows
                for index, code, log in ended:
                    self._record_exit(index, code, log)
                if timeout is not None and now - started >= timeout and self.cancel_reason is None:
                    self.cancel(f"the sweep reached its timeout of {timeout:g} s")
                for index, deadline in list(self.deadlines.items()):
                    if now >= deadline and index in self.processes:
                        self._stop_trial(index, f"trial_timeout of {self.spec.limits.trial_timeout:g} s reached")
                if self.cancel_reason is not None:
                    self._stop_all(self.cancel_reason)
                    break
                self.failure = self._first_wave_failure()
                if self.failure is not None:
                    self._stop_all(FIRST_WAVE_REASON)
                    break
                if now >= next_metric_poll:
                    self._poll_metrics()
                    next_metric_poll = now + metric_poll
                launched = self._launch()
                if not self.processes and not launched:
                    break
                # until a trial exits, or the next thing due: a metric poll, a deadline, the sweep's timeout
                due = [next_metric_poll, *self.deadlines.values()] + ([started + timeout] if timeout is not None else [])
                self.launcher.wait(max(0.0, min(POLL_SECONDS, *(t - self.clock.monotonic() for t in due))))
            if self.cancel_reason is not None:
                self._finish(JobStatus.CANCELED, self.cancel_reason)
            elif self.failure is not None:
                self._finish(JobStatus.FAILED, self.failure)
            else:
                self._finish(*self._final_status())
        except KeyboardInterrupt:
            self.cancel_reason, self.resumable = "interrupted (Ctrl-C)", True
            self._stop_all(self.cancel_reason)
            self._finish(JobStatus.CANCELED, self.cancel_reason)
            raise
        except Exception as exc:  # whatever it is, no trial is left running and nothing is left Running
            self._fail(failure_reason("the sweep driver failed", exc))
            raise
        return self.record

    # -- trials ----------------------------------------------------------------------------------

    def _history(self) -> list[Observation]:
        return [Observation(t.params, t.score, t.status.sampler_state) for t in self.record.trials]

    def _launch(self) -> int:
        launched = 0
        while self.requeued and len(self.processes) < self.concurrency:
            index = self.requeued.pop(0)
            trial = self.record.trials[index]
            self._start_trial(index, trial.params, attempt=trial.attempt + 1)
            launched += 1
        while len(self.processes) < self.concurrency and len(self.record.trials) < self.spec.limits.max_total_trials:
            history = self._history()
            if self.sampler.is_exhausted(history):
                break
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the sampler's notes (fallbacks) are reported below, once each
                proposals = self.sampler.ask(history, 1)
            for note in self.sampler.notes:
                line = f"sampler: {note}"
                if line not in self.record.notes:
                    self.record.notes.append(line)
                    self.on_event("note", self.record, None)
            if not proposals:
                break
            self._start_trial(len(self.record.trials), proposals[0])
            launched += 1
        return launched

    def _start_trial(self, index: int, params: dict[str, Any], attempt: int = 1) -> None:
        name = f"{self.name}_{index}"
        self.journal.append("trial_proposed", index=index, params=params, attempt=attempt)
        run_id = self.tracker.start_child(
            self.record.experiment_id, self.record.parent_run_id, self.name, index, params, attempt=attempt
        )
        self.journal.append("trial_run", index=index, run_id=run_id)
        folder = self.folder.trial(name)
        taken = self.gpus.acquire() if self.gpus is not None else None
        assert self.gpus is None or taken is not None, "the concurrency is capped to the GPU slots"
        trial = Trial(
            index=index,
            name=name,
            params=params,
            run_id=run_id,
            workdir=str(folder.root),
            attempt=attempt,
            started=self.clock.time(),
            gpus=list(taken or []),
        )
        if index < len(self.record.trials):
            self.record.trials[index] = trial
        else:
            self.record.trials.append(trial)
        process = start_process(
            self.launcher,
            spec=self.spec,
            folder=folder,
            code=self.folder.snapshot,
            params=params,
            inputs=self.inputs,
            job_name=name,
            experiment_name=self.record.experiment_name,
            workspace=self.workspace,
            run_env={
                "MLFLOW_TRACKING_URI": self.trial_tracking_uri,
                "MLFLOW_EXPERIMENT_ID": self.record.experiment_id,
                "MLFLOW_RUN_ID": run_id,
                "AZSWEEP_SWEEP_NAME": self.name,
                "AZSWEEP_HOME": str(self.folder.home),
                "AZSWEEP_TRIAL_INDEX": str(index),
                "AZSWEEP_TRIAL_SEED": str(trial_seed(self.sampler.seed, index)),
            },
            base=self.environment,
            gpus=taken,
            mpirun=self.mpirun,
            fresh=attempt > 1,  # a fresh copy of the snapshot for the new attempt
        )
        self.processes[index] = process
        self.journal.append("trial_started", index=index, pid=process.pid, process_start=process_start_time(process.pid))
        if self.spec.limits.trial_timeout is not None:
            self.deadlines[index] = self.clock.monotonic() + self.spec.limits.trial_timeout
        self.record.save(self.folder)
        self.on_event("trial_started", self.record, trial)

    def _exits(self) -> list[tuple[int, int, Path | None]]:
        """The trials whose process exited by itself since the last look, with their exit codes; their slots are free."""
        ended = []
        for index, process in list(self.processes.items()):
            code = process.poll()
            if code is None:
                continue
            process.reap_group()
            del self.processes[index]
            self.deadlines.pop(index, None)
            self._free_gpus(index)
            ended.append((index, code, getattr(process, "failed_log", None)))  # a distributed trial: the failed rank's
        return ended

    def _free_gpus(self, index: int) -> None:
        """The trial's process ended: its GPUs go back to the pool (before its bookkeeping: the next trial may take them)."""
        if self.gpus is not None:
            self.gpus.release(self.record.trials[index].gpus)

    def _record_exit(self, index: int, code: int, log: Path | None = None) -> None:
        if code == 0:
            self._record_end(index, JobStatus.COMPLETED, code, "")
        else:  # how it ended, and what its log said last (for a Python crash, the exception)
            said = last_line(log or self.record.trials[index].log)
            self._record_end(index, JobStatus.FAILED, code, exit_reason(code) + (f": {said}" if said else ""))

    def _stop_trial(self, index: int, reason: str, extra_tags: Mapping[str, str] | None = None) -> None:
        process = self.processes.pop(index)
        self.deadlines.pop(index, None)
        code = process.stop(KILL_GRACE_SECONDS)
        self._free_gpus(index)
        self._record_end(index, JobStatus.CANCELED, code, reason, extra_tags)

    def _stop_all(self, reason: str) -> None:
        for process in self.processes.values():
            process.terminate()
        deadline = self.clock.monotonic() + KILL_GRACE_SECONDS
        while any(p.poll() is None for p in self.processes.values()) and self.clock.monotonic() < deadline:
            self.clock.sleep(0.02)
        for index in list(self.processes):
            self._stop_trial(index, reason)

    def _record_end(
        self, index: int, status: JobStatus, code: int | None, reason: str, extra_tags: Mapping[str, str] | None = None
    ) -> None:
        trial = self.record.trials[index]
        trial.status, trial.exit_code, trial.reason, trial.ended = status, code, reason, self.clock.time()
        self._update_score(trial)
        # the sampled values as params too (the UI's Parameters column), where the script did not log them itself
        self.tracker.log_missing_params(trial.run_id, trial.params)
        run_tags = {tags.STATUS_TAG: status.value, **(extra_tags or {})}
        if trial.gpus:
            run_tags[tags.GPUS_TAG] = ",".join(trial.gpus)
        if reason:
            run_tags[tags.REASON_TAG] = reason
        notes = [upload_artifacts(self.tracker, trial.run_id, self.folder.trial(trial.name), self.spec.outputs)]
        if trial.score is None:
            logged = self.tracker.metric_names(trial.run_id)
            notes.append(
                f"no value of the primary metric {self.objective.primary_metric!r} was logged "
                f"(logged: {', '.join(logged) or 'nothing'})"
            )
        note = "; ".join(n for n in notes if n)
        if note:
            run_tags[tags.NOTE_TAG] = note
            trial.reason = f"{reason}; {note}" if reason else note
        self.tracker.finish(trial.run_id, status, run_tags)
        self.journal.append(
            "trial_ended",
            index=index,
            status=status.value,
            exit_code=code,
            score=trial.score,
            intervals=trial.intervals,
            reason=trial.reason,
            stopped_by=trial.stopped_by,
            stopped_at=trial.stopped_at,
            interrupted=status == JobStatus.CANCELED and self.resumable and reason == self.cancel_reason,
        )
        self._update_best()
        self.record.save(self.folder)
        self.on_event("trial_ended", self.record, trial)

    def _update_score(self, trial: Trial) -> None:
        values, score = self._read_curve(trial)
        trial.intervals = len(values)
        trial.score = score  # values logged after a stop still count
        # the policy sees a stopped trial's curve as it was when it was stopped
        self.curves[trial.index] = values[: trial.stopped_at] if trial.stopped_at else values

    def _read_curve(self, trial: Trial) -> tuple[list[float], float | None]:
        """The trial's primary-metric values and their best, folding in only what was logged since the last read.

        The values read so far are kept per run, as one list that grows in place (so the policy's running
        aggregates of it are kept too) with their best; a read that does not start with them (values inserted
        before the last one read) is taken whole. A run's values are dropped once its trial has ended.
        """
        read: dict[str, tuple[list[float], float | None]] = self.__dict__.setdefault("_curves_read", {})
        fresh = self.tracker.metric_values(trial.run_id, self.objective.primary_metric)
        known = read.get(trial.run_id)
        maximize = self.objective.maximize
        if known is not None and len(fresh) >= len(known[0]) and fresh[: len(known[0])] == known[0]:
            values, score = known
            new = fresh[len(values) :]
            if new:
                values.extend(new)
                score = best_value(new if score is None else [score, *new], maximize)
        else:
            values, score = fresh, best_value(fresh, maximize)
        if trial.status == JobStatus.RUNNING:
            read[trial.run_id] = (values, score)
        else:
            read.pop(trial.run_id, None)
        return values, score

    def _poll_metrics(self) -> None:
        changed = False
        for index in self.processes:
            trial = self.record.trials[index]
            before = trial.intervals
            self._update_score(trial)
            changed = changed or trial.intervals != before
        if changed:
            self._update_best()
            self.record.save(self.folder)
            self.on_event("metrics", self.record, None)
        if self.policy is not None:
            self._apply_policy()

    def _apply_policy(self) -> None:
        """Judge every interval each running trial has reached since the last look, in trial order.

        Incremental: the judge keeps each trial's running aggregates between looks, so a new value costs
        one look at each other trial's, whatever the length of the curves (``policies.IncrementalJudge``).
        """
        from azsweep.policies import IncrementalJudge

        assert self.policy is not None
        judge = self.__dict__.get("_incremental_judge")
        if judge is None or judge.policy is not self.policy:
            judge = self.__dict__["_incremental_judge"] = IncrementalJudge(self.policy)
        judge.sync(self.curves)
        metric = self.objective.primary_metric
        for index in sorted(self.processes):
            trial = self.record.trials[index]
            curve = self.curves.get(index, [])
            if not curve:
                waited = self.clock.time() - trial.started
                if waited >= POLICY_WAIT_NOTE_SECONDS and index not in self.judged:
                    self.judged[index] = 0
                    note = (
                        f"{trial.name}: early_termination ({self.policy.title}) cannot be applied yet: "
                        f"no value of the primary metric {metric!r} logged after {waited:.0f} s"
                    )
                    self.record.notes.append(note)
                    self.on_event("note", self.record, trial)
                continue
            first = self.judged.get(index, 0) + 1
            if first > len(curve):
                continue
            # policy.judge(curve[:k], k, every other trial's curve) at each due interval k, up to the first stop
            try:
                stop = judge.first_stop(index, first, len(curve))
            except (ValueError, OverflowError) as exc:  # math.fsum's: a curve holds +inf and -inf, or sums overflow
                self._policy_off(trial, exc)
                return
            self.judged[index] = stop[0] if stop else len(curve)
            if stop:
                k, reason = stop
                trial.stopped_by, trial.stopped_at = self.policy.title, k
                self.curves[index] = curve[:k]
                self._stop_trial(
                    index,
                    f"{STOPPED_BY_POLICY}{reason}",
                    {tags.STOPPED_BY_TAG: self.policy.title, tags.STOPPED_AT_TAG: str(k)},
                )
                judge.sync(self.curves)  # the later trials see this one cut at its stop

    def _policy_off(self, trial: Trial, exc: Exception) -> None:
        """The policy cannot average the curves (a trial logged both +inf and -inf, or values whose sum
        overflows): the sweep runs on without early termination, and a note says why."""
        assert self.policy is not None
        note = (
            f"early_termination ({self.policy.title}) is off from here: judging {trial.name} needs an average of "
            f"the primary metric's values that cannot be taken ({exc}); no trial is stopped early"
        )
        self.policy = None
        self.record.notes.append(note)
        self.on_event("note", self.record, trial)

    def _update_best(self) -> None:
        best = best_trial(self.record.trials, self.objective.maximize)
        self.record.best_trial, self.record.best_score = (best.name, best.score) if best else (None, None)

    def _first_wave_failure(self) -> str | None:
        """Azure's early failure: every trial of the first wave (the first ``max_concurrent_trials``) failed,
        and there were more to run. The message, or None (also with ``keep_going``)."""
        wave = min(self.concurrency, self.spec.limits.max_total_trials)
        first = self.record.trials[:wave]
        if self.keep_going or len(first) < wave or any(t.status != JobStatus.FAILED for t in first):
            return None
        if not (self.processes or self.requeued or self._more_to_propose()):
            return None  # nothing was left to run: the sweep ends as usual (Failed: no trial succeeded)
        summary = (
            f"every trial of the first wave failed (the first {wave}: max_concurrent_trials), so no more were started, "
            "as Azure fails a sweep whose initial child jobs fail:"
        )
        return _failure_message(summary, first, KEEP_GOING_HINT)

    def _more_to_propose(self) -> bool:
        return len(self.record.trials) < self.spec.limits.max_total_trials and not self.sampler.is_exhausted(self._history())

    def _final_status(self) -> tuple[JobStatus, str]:
        trials = self.record.trials
        failed = [t for t in trials if t.status == JobStatus.FAILED]
        if trials and len(failed) == len(trials):
            return JobStatus.FAILED, _failure_message(f"no trial succeeded: all {len(trials)} trial(s) failed:", failed)
        if self.record.best_trial is None:
            metric = self.objective.primary_metric
            logged = sorted({name for t in trials if t.run_id for name in self.tracker.metric_names(t.run_id)})
            message = (
                f"no trial logged the primary metric {metric!r}; the trials logged: {', '.join(logged) or 'no metrics at all'}"
            )
            return JobStatus.FAILED, _failure_message(f"{message}; failed:", failed) if failed else message
        return JobStatus.COMPLETED, ""

    def _finish(self, status: JobStatus, message: str) -> None:
        self._end_leftovers()
        record = self.record
        record.status, record.message, record.ended = status, message, self.clock.time()
        best = record.best()
        self.tracker.log_best(record.parent_run_id, best.run_id if best else None, record.best_score, record.primary_metric)
        run_tags = {tags.STATUS_TAG: status.value}
        if message:
            run_tags[tags.MESSAGE_TAG] = message
        if best is not None:
            run_tags[tags.BEST_TRIAL_TAG] = best.name
        self.tracker.finish(record.parent_run_id, status, run_tags)
        self.journal.append("sweep_ended", status=status.value, message=message, resumable=self.resumable)
        record.save(self.folder)
        self.on_event("finished", record, None)

    def _end_leftovers(self) -> None:
        """End what the trials left running after their own process groups ended (a daemon: double fork and
        setsid, SIGTERM ignored), found by the trials' environment: this sweep's name and home."""
        stop_marked = getattr(self.launcher, "stop_marked", None)  # a launcher without processes has none
        if stop_marked is None:
            return
        ended = stop_marked(f"AZSWEEP_SWEEP_NAME={self.name}", f"AZSWEEP_HOME={self.folder.home}")
        if ended:
            self.record.notes.append(
                f"ended {len(ended)} process group(s) the trials left running after they ended (daemons): "
                f"pgid {', '.join(map(str, ended))}"
            )
            self.on_event("note", self.record, None)

    def _fail(self, reason: str) -> None:
        """The driver failed: stop every trial, close the trials that were running and the sweep Failed with
        ``reason``, as far as the store and the disk still allow (each step is tried on its own; the caller
        raises the error again). The journal records the stopped trials as interrupted and the sweep as
        resumable, so a ``--resume`` after the cause is fixed runs them again."""
        for process in self.processes.values():
            with suppress(Exception):
                process.terminate()
        deadline = self.clock.monotonic() + KILL_GRACE_SECONDS
        while self.clock.monotonic() < deadline and any(_still_running(p) for p in self.processes.values()):
            self.clock.sleep(0.02)
        codes: dict[int, int | None] = {}
        for index, process in self.processes.items():
            codes[index] = None
            with suppress(Exception):
                codes[index] = process.stop(KILL_GRACE_SECONDS)
        self.processes.clear()
        self.deadlines.clear()
        with suppress(Exception):
            self._end_leftovers()
        now = self.clock.time()
        for trial in self.record.trials:
            if trial.status.terminal and trial.run_id:  # its end was being recorded when the error came
                with suppress(Exception):
                    self._close_ended_run(trial)
            if trial.status != JobStatus.RUNNING:
                continue
            trial.status, trial.exit_code, trial.reason, trial.ended = JobStatus.FAILED, codes.get(trial.index), reason, now
            if trial.run_id:
                with suppress(Exception):
                    self.tracker.finish(
                        trial.run_id, JobStatus.FAILED, {tags.STATUS_TAG: JobStatus.FAILED.value, tags.REASON_TAG: reason}
                    )
            with suppress(Exception):
                self.journal.append(
                    "trial_ended",
                    index=trial.index,
                    status=JobStatus.FAILED.value,
                    exit_code=trial.exit_code,
                    score=trial.score,
                    intervals=trial.intervals,
                    reason=reason,
                    interrupted=True,
                )
        record = self.record
        record.status, record.message, record.ended = JobStatus.FAILED, reason, now
        attempt_each(
            [
                lambda: self.tracker.finish(
                    record.parent_run_id, JobStatus.FAILED, {tags.STATUS_TAG: JobStatus.FAILED.value, tags.MESSAGE_TAG: reason}
                ),
                lambda: self.journal.append("sweep_ended", status=JobStatus.FAILED.value, message=reason, resumable=True),
                lambda: record.save(self.folder),
                lambda: self.on_event("finished", record, None),
            ]
        )

    def _close_ended_run(self, trial: Trial) -> None:
        """A trial that ended (its status known) but whose run the error left open: closed with that status."""
        if self.tracker.run_state(trial.run_id).status != "RUNNING":
            return
        run_tags = {tags.STATUS_TAG: trial.status.value}
        if trial.reason:
            run_tags[tags.REASON_TAG] = trial.reason
        self.tracker.finish(trial.run_id, trial.status, run_tags)


def _still_running(process: TrialHandle) -> bool:
    try:
        return process.poll() is None
    except Exception:
        return False


def best_trial(trials: Sequence[Trial], maximize: bool) -> Trial | None:
    """The trial with the best score among those that did not fail; ties go to the earlier trial."""
    return best_item([t for t in trials if t.status != JobStatus.FAILED], score=lambda t: t.score, maximize=maximize)


def _failure_message(summary: str, failed: Sequence[Trial], hint: str = "") -> str:
    """``summary``, one line per failed trial (how it ended, its last log line, its log), then ``hint``."""
    lines = [f"  {failed_trial_line(t)}" for t in failed[:MAX_FAILED_LINES]]
    if len(failed) > MAX_FAILED_LINES:
        lines.append(f"  ... and {len(failed) - MAX_FAILED_LINES} more failed trial(s)")
    return "\n".join([summary, *lines, *([hint] if hint else [])])
