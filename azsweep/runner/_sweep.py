"""The local sweep driver: proposes trials, runs them as processes, enforces limits, records everything.

State changes are written to MLflow (the record users look at) and to ``sweep.json`` in the
sweep's folder (what ``LocalClient`` polls), each time they happen.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from azsweep.errors import AzsweepError
from azsweep.policies import make_policy
from azsweep.runner._command import render_command, trial_environment
from azsweep.runner._journal import Journal, leftover_groups, process_start_time, same_process_alive
from azsweep.runner._process import TrialProcess, snapshot
from azsweep.runner._tracking import Tracker
from azsweep.samplers import Observation, make_sampler
from azsweep.spec import SweepSpec
from azsweep.spec import best_value as best_of

POLL_SECONDS = 0.1
METRIC_POLL_SECONDS = 1.0
POLICY_POLL_SECONDS = 0.5  # a trial logging once a second is judged within about a second of the interval
POLICY_WAIT_NOTE_SECONDS = 10.0  # after this long without a primary-metric value, say the policy cannot apply yet
KILL_GRACE_SECONDS = 3.0
TERMINAL = ("Completed", "Failed", "Canceled")


@dataclass
class Trial:
    """One trial of a local sweep, as recorded."""

    index: int
    name: str
    params: dict[str, Any]
    run_id: str
    status: str = "Running"  # Running | Completed | Failed | Canceled
    score: float | None = None
    intervals: int = 0  # primary-metric values logged so far
    exit_code: int | None = None
    reason: str = ""
    started: float = field(default_factory=time.time)
    ended: float | None = None
    workdir: str = ""
    stopped_by: str | None = None  # the early-termination policy that stopped it
    stopped_at: int | None = None  # ... at this interval
    attempt: int = 1  # > 1 when earlier attempts were interrupted by a crash of the driver


@dataclass
class SweepRecord:
    """What ``sweep.json`` holds."""

    name: str
    status: str
    experiment_name: str
    experiment_id: str
    parent_run_id: str
    tracking_uri: str
    primary_metric: str
    goal: str
    algorithm: str
    seed: int | None
    max_total_trials: int
    max_concurrent_trials: int
    pid: int = field(default_factory=os.getpid)
    started: float = field(default_factory=time.time)
    ended: float | None = None
    message: str = ""
    best_trial: str | None = None
    best_score: float | None = None
    trials: list[Trial] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)  # run ids of attempts a crash interrupted

    def save(self, folder: Path) -> None:
        tmp = folder / "sweep.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=1, default=str))
        os.replace(tmp, folder / "sweep.json")

    @classmethod
    def load(cls, folder: Path) -> SweepRecord:
        data = json.loads((folder / "sweep.json").read_text())
        data["trials"] = [Trial(**t) for t in data.get("trials", [])]
        return cls(**data)


def better(a: float, b: float | None, maximize: bool) -> bool:
    """True when a is strictly better than b (ties keep the earlier)."""
    if b is None:
        return True
    return a > b if maximize else a < b


def trial_seed(sweep_seed: int, index: int) -> int:
    """``AZSWEEP_TRIAL_SEED``: from the sweep seed and the trial index only, so a trial's seed does not
    depend on how many trials ran at once, or on crashes and resumes."""
    import numpy as np

    return int(np.random.SeedSequence([sweep_seed, index]).generate_state(1)[0])


def resolve_inputs(spec: SweepSpec, overrides: Mapping[str, str], cache: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Values for ``${{inputs.x}}``: literals as text, local paths made absolute, http(s) fetched once.

    Returns (all input values, literal inputs). Raises naming the input and the ``--input`` override.
    """
    values: dict[str, str] = {}
    literals: dict[str, str] = {}
    for name, item in spec.inputs.items():
        if name in overrides:
            value = overrides[name]
            path = Path(value) if not item.literal else None
            values[name] = str(path.resolve()) if path is not None and path.exists() else value
            if item.literal:
                literals[name] = value
            continue
        if item.literal:
            if item.value is not None:
                values[name] = literals[name] = item.value
            continue
        uri = item.path or ""
        if uri.startswith(("http://", "https://")):
            values[name] = str(_fetch(name, uri, cache))
            continue
        local = uri[len("file://"):] if uri.startswith("file://") else uri
        if not uri or uri.startswith(("azureml:", "azureml://", "wasbs://", "abfss://", "adl://")) or "://" in local:
            raise AzsweepError(f"inputs.{name}: {uri!r} is an Azure location that cannot be read offline; "
                               f"pass a local copy with --input {name}=PATH")
        path = Path(local)
        path = path if path.is_absolute() else spec.base_dir / path
        if not path.exists():
            raise AzsweepError(f"inputs.{name}: local path {str(path)!r} does not exist; pass one with --input {name}=PATH")
        values[name] = str(path.resolve())
    for name in overrides:
        if name not in spec.inputs:
            known = ", ".join(spec.inputs) or "none"
            raise AzsweepError(f"--input {name}: the job has no input named {name!r} (inputs: {known})")
    return values, literals


def _fetch(name: str, uri: str, cache: Path) -> Path:
    target = cache / name / (uri.rstrip("/").rsplit("/", 1)[-1] or "data")
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(uri, timeout=15) as response:  # noqa: S310 - the user's own URL
            target.write_bytes(response.read())
    except Exception as exc:
        raise AzsweepError(f"inputs.{name}: cannot download {uri} ({exc}); pass a local copy with --input {name}=PATH") from None
    return target


class SweepRunner:
    """Runs one sweep to the end. ``on_event`` receives progress events (for displays)."""

    def __init__(self, spec: SweepSpec, *, name: str, folder: Path, tracker: Tracker | None = None,
                 max_concurrent: int | None = None, input_overrides: Mapping[str, str] | None = None,
                 on_event: Callable[[str, SweepRecord, Trial | None], None] | None = None) -> None:
        self.spec = spec
        self.name = name
        self.folder = folder
        self.tracker = tracker or Tracker()
        self.on_event = on_event or (lambda *_: None)
        self.maximize = spec.objective.maximize
        self.sampler = make_sampler(spec.algorithm, spec.search_space, maximize=self.maximize)
        self.concurrency = max_concurrent or spec.limits.max_concurrent_trials
        self.input_values, self.literal_inputs = resolve_inputs(spec, input_overrides or {}, folder / "inputs")
        self.policy = make_policy(spec.policy, maximize=self.maximize) if spec.policy else None
        self.curves: dict[int, list[float]] = {}  # primary-metric values per trial, as the policy sees them
        self.judged: dict[int, int] = {}  # the last interval the policy looked at, per trial
        self.processes: dict[int, TrialProcess] = {}
        self.deadlines: dict[int, float] = {}
        self.cancel_reason: str | None = None
        self.resumable = False  # the cancel is an interruption: ``resume`` re-runs the trials it stopped
        self.record: SweepRecord | None = None
        self.journal = Journal(folder / "journal.jsonl")
        self.requeued: list[int] = []  # interrupted trials to run again, with the same configuration
        self.elapsed_before = 0.0  # seconds the sweep ran before this session (resume)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> SweepRecord:
        self.folder.mkdir(parents=True, exist_ok=True)
        experiment_name = self.spec.experiment_name or self.spec.base_dir.name or "Default"
        experiment_id = self.tracker.experiment_id(experiment_name)
        tags = {"azsweep.primary_metric": self.spec.objective.primary_metric, "azsweep.goal": self.spec.objective.goal,
                "azsweep.folder": str(self.folder)}
        if self.spec.display_name:
            tags["azureml.displayName"] = self.spec.display_name
        tags.update({k: str(v) for k, v in self.spec.tags.items()})
        parent = self.tracker.start_parent(experiment_id, self.name, tags)
        algorithm = self.spec.algorithm
        self.tracker.client.log_batch(parent, params=_params({
            "sampling_algorithm": algorithm.kind, "seed": "" if algorithm.kind == "grid" else self.sampler.seed,
            "primary_metric": self.spec.objective.primary_metric, "goal": self.spec.objective.goal,
            "max_total_trials": self.spec.limits.max_total_trials, "max_concurrent_trials": self.concurrency,
        }))
        self.record = SweepRecord(
            name=self.name, status="Running", experiment_name=experiment_name, experiment_id=experiment_id,
            parent_run_id=parent, tracking_uri=self.tracker.uri, primary_metric=self.spec.objective.primary_metric,
            goal=self.spec.objective.goal, algorithm=algorithm.kind,
            seed=None if algorithm.kind == "grid" else self.sampler.seed,
            max_total_trials=self.spec.limits.max_total_trials, max_concurrent_trials=self.concurrency,
        )
        self.snapshot_dir = snapshot(self._code_dir(), self.folder / "snapshot")
        self.journal.append("sweep_started", parent_run_id=parent, experiment_id=experiment_id,
                            experiment_name=experiment_name, seed=self.sampler.seed, driver_pid=os.getpid(),
                            driver_start=process_start_time(os.getpid()))
        self.record.save(self.folder)
        self.on_event("started", self.record, None)
        return self.record

    def resume(self) -> SweepRecord:
        """Continue an interrupted sweep from its journal.

        Finished trials are kept. Trials that were running when the driver died are recorded as
        interrupted (their processes ended, their MLflow runs closed as KILLED, nothing deleted) and
        run again with the same configuration; sampling continues where it stopped.
        """
        events = self.journal.read()
        started = next((e for e in events if e["event"] == "sweep_started"), None)
        if started is None:  # died before the parent run was recorded: start afresh
            return self.start()
        for e in events:
            if e["event"] in ("sweep_started", "resumed") and same_process_alive(e.get("driver_pid"), e.get("driver_start")):
                raise AzsweepError(f"sweep {self.name!r} is still running (driver pid {e['driver_pid']}); "
                                   "cancel it first or wait for it")
        self.elapsed_before = _elapsed(events)
        self.sampler.seed = int(started["seed"])
        self.snapshot_dir = self.folder / "snapshot"  # the code as it was when the sweep started
        old = SweepRecord.load(self.folder) if (self.folder / "sweep.json").exists() else None
        self.record = SweepRecord(
            name=self.name, status="Running", experiment_name=started["experiment_name"],
            experiment_id=started["experiment_id"], parent_run_id=started["parent_run_id"], tracking_uri=self.tracker.uri,
            primary_metric=self.spec.objective.primary_metric, goal=self.spec.objective.goal,
            algorithm=self.spec.algorithm.kind, seed=None if self.spec.algorithm.kind == "grid" else self.sampler.seed,
            max_total_trials=self.spec.limits.max_total_trials, max_concurrent_trials=self.concurrency,
            started=old.started if old else float(started["time"]), notes=list(old.notes) if old else [],
            interrupted=list(old.interrupted) if old else [],
        )
        leftovers = [TrialProcess.adopt(pgid) for pgid in leftover_groups(f"AZSWEEP_SWEEP_NAME={self.name}")]
        for process in leftovers:  # what the dead driver's trials left running
            process.terminate()
        for process in leftovers:
            process.stop(KILL_GRACE_SECONDS)
        trials: dict[int, dict[str, Any]] = {}
        for e in events:
            if e["event"] == "trial_proposed":
                trials[e["index"]] = {"params": e["params"], "attempt": e.get("attempt", 1)}
            elif e["event"] in ("trial_run", "trial_started", "trial_ended") and e["index"] in trials:
                trials[e["index"]].update({k: v for k, v in e.items() if k not in ("event", "time")})
                if e["event"] == "trial_ended":
                    trials[e["index"]]["ended"] = True
            elif e["event"] == "trial_interrupted" and e["index"] in trials:
                trials[e["index"]].pop("run_id", None)
        for index in sorted(trials):
            t = trials[index]
            trial = Trial(index=index, name=f"{self.name}_{index}", params=t["params"], run_id=t.get("run_id", ""),
                          attempt=t.get("attempt", 1), workdir=str(self.folder / "trials" / f"{self.name}_{index}"))
            self.record.trials.append(trial)
            if t.get("ended") and not t.get("interrupted"):
                self._adopt_end(trial, t)
                continue
            if t.get("ended"):  # stopped by an interruption: its run is closed already; run it again
                self.tracker.set_tags(trial.run_id, {"azsweep.status": "Interrupted"})
                self.record.interrupted.append(trial.run_id)
                self.journal.append("trial_interrupted", index=index, run_id=trial.run_id, attempt=trial.attempt)
                trial.status, trial.run_id = "Queued", ""
                self.requeued.append(index)
                continue
            adopted = self._adopt_from_store(trial) if trial.run_id else False
            if not adopted:
                self._interrupt(trial)
        self._close_unrecorded_runs()
        self.tracker.set_running(self.record.parent_run_id)
        self.journal.append("resumed", driver_pid=os.getpid(), driver_start=process_start_time(os.getpid()),
                            requeued=self.requeued)
        self._update_best()
        self.record.save(self.folder)
        self.on_event("started", self.record, None)
        return self.record

    def _adopt_end(self, trial: Trial, t: Mapping[str, Any]) -> None:
        trial.status, trial.exit_code, trial.reason = t["status"], t.get("exit_code"), t.get("reason", "")
        trial.score, trial.intervals = t.get("score"), t.get("intervals", 0)
        trial.stopped_by, trial.stopped_at, trial.ended = t.get("stopped_by"), t.get("stopped_at"), t.get("time")
        values = self.tracker.metric_values(trial.run_id, self.spec.objective.primary_metric)
        self.curves[trial.index] = values[:trial.stopped_at] if trial.stopped_at else values

    def _adopt_from_store(self, trial: Trial) -> bool:
        """The driver died after MLflow recorded the trial's end but before the journal did: keep that end."""
        run = self.tracker.client.get_run(trial.run_id)
        status = run.data.tags.get("azsweep.status")
        if status not in ("Completed", "Failed", "Canceled") or run.info.status == "RUNNING":
            return False
        stopped_at = run.data.tags.get("azsweep.stopped_at_interval")
        trial.status, trial.reason = status, run.data.tags.get("azsweep.reason", "")
        trial.stopped_by, trial.stopped_at = run.data.tags.get("azsweep.stopped_by"), int(stopped_at) if stopped_at else None
        self._update_score(trial)
        self.journal.append("trial_ended", index=trial.index, status=trial.status, score=trial.score,
                            intervals=trial.intervals, reason=trial.reason, stopped_by=trial.stopped_by,
                            stopped_at=trial.stopped_at, adopted=True)
        return True

    def _close_unrecorded_runs(self) -> None:
        """Child runs created just before a crash, before the journal recorded them: close them as interrupted."""
        assert self.record is not None
        kept = {t.run_id for t in self.record.trials if t.run_id}
        for run in self.tracker.children(self.record.experiment_id, self.record.parent_run_id):
            if run.info.run_id in kept or run.data.tags.get("azsweep.status") == "Interrupted":
                continue
            index = int(run.data.tags.get("azsweep.trial", -1))
            self.tracker.finish(run.info.run_id, "canceled", {"azsweep.status": "Interrupted",
                                                              "azsweep.reason": "interrupted: the sweep driver stopped"})
            self.record.interrupted.append(run.info.run_id)
            self.journal.append("trial_interrupted", index=index, run_id=run.info.run_id, unrecorded=True)

    def _interrupt(self, trial: Trial) -> None:
        """End what is left of an attempt the crash interrupted, record it, and queue the trial again."""
        if trial.run_id:
            self.tracker.finish(trial.run_id, "canceled", {"azsweep.status": "Interrupted",
                                                           "azsweep.reason": "interrupted: the sweep driver stopped"})
            assert self.record is not None
            self.record.interrupted.append(trial.run_id)
        self.journal.append("trial_interrupted", index=trial.index, run_id=trial.run_id, attempt=trial.attempt)
        trial.status, trial.run_id, trial.score = "Queued", "", None
        self.requeued.append(trial.index)

    def _code_dir(self) -> Path | None:
        code = self.spec.trial.code
        if not code:
            return None
        path = Path(code[len("file://"):] if code.startswith("file://") else code)
        return path if path.is_absolute() else self.spec.base_dir / path

    def cancel(self, reason: str = "canceled by the user", *, resumable: bool = False) -> None:
        """Ask the loop to stop every trial and end the sweep (safe from a signal handler).

        ``resumable``: an interruption (Ctrl-C, SIGTERM of ``azsweep run``) rather than a cancel; the
        trials it stops are re-run by ``resume``.
        """
        if self.cancel_reason is None:
            self.cancel_reason, self.resumable = reason, resumable

    def run(self) -> SweepRecord:
        """Run to the end; on KeyboardInterrupt stop every trial, record, and re-raise."""
        record = self.record or self.start()
        started = time.monotonic() - self.elapsed_before
        timeout = self.spec.limits.timeout
        next_metric_poll = 0.0
        metric_poll = POLICY_POLL_SECONDS if self.policy else METRIC_POLL_SECONDS
        try:
            while True:
                self._reap()
                now = time.monotonic()
                if timeout is not None and now - started >= timeout and self.cancel_reason is None:
                    self.cancel(f"the sweep reached its timeout of {timeout:g} s")
                for index, deadline in list(self.deadlines.items()):
                    if now >= deadline and index in self.processes:
                        self._stop_trial(index, f"trial_timeout of {self.spec.limits.trial_timeout:g} s reached")
                if self.cancel_reason is not None:
                    self._stop_all(self.cancel_reason)
                    break
                if now >= next_metric_poll:
                    self._poll_metrics()
                    next_metric_poll = now + metric_poll
                launched = self._launch()
                if not self.processes and not launched:
                    break
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            self.cancel_reason, self.resumable = "interrupted (Ctrl-C)", True
            self._stop_all(self.cancel_reason)
            self._finish("Canceled", self.cancel_reason)
            raise
        if self.cancel_reason is not None:
            self._finish("Canceled", self.cancel_reason)
        else:
            self._finish(*self._final_status())
        return record

    # -- trials ----------------------------------------------------------------------------------

    def _history(self) -> list[Observation]:
        assert self.record is not None
        return [Observation(t.params, t.score, t.status.lower()) for t in self.record.trials]

    def _launch(self) -> int:
        assert self.record is not None
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
            for note in getattr(self.sampler, "notes", []):
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
        assert self.record is not None
        name = f"{self.name}_{index}"
        self.journal.append("trial_proposed", index=index, params=params, attempt=attempt)
        run_id = self.tracker.start_child(self.record.experiment_id, self.record.parent_run_id, self.name, index, params,
                                          attempt=attempt)
        self.journal.append("trial_run", index=index, run_id=run_id)
        workdir = self.folder / "trials" / name
        if attempt > 1 and workdir.exists():
            import shutil

            shutil.rmtree(workdir / "code", ignore_errors=True)  # a fresh copy of the snapshot for the new attempt
        cwd = snapshot(self.snapshot_dir, workdir / "code")
        outputs = {k: workdir / "outputs" / k for k in self.spec.outputs}
        for path in outputs.values():
            path.mkdir(parents=True, exist_ok=True)
        command = render_command(self.spec, params, self.input_values, outputs)
        env = dict(os.environ)
        env.update(trial_environment(self.spec, params, self.literal_inputs))
        env.update({
            "MLFLOW_TRACKING_URI": self.tracker.uri, "MLFLOW_EXPERIMENT_ID": self.record.experiment_id,
            "MLFLOW_RUN_ID": run_id, "AZUREML_RUN_ID": name, "AZSWEEP_SWEEP_NAME": self.name,
            "AZSWEEP_TRIAL_INDEX": str(index), "AZSWEEP_TRIAL_SEED": str(trial_seed(self.sampler.seed, index)),
            "PYTHONUNBUFFERED": "1",
        })
        env.pop("MLFLOW_EXPERIMENT_NAME", None)
        trial = Trial(index=index, name=name, params=params, run_id=run_id, workdir=str(workdir), attempt=attempt)
        (workdir / "command.sh").write_text(command + "\n")
        if index < len(self.record.trials):
            self.record.trials[index] = trial
        else:
            self.record.trials.append(trial)
        process = TrialProcess(command, cwd=cwd, env=env, log_path=workdir / "user_logs" / "std_log.txt")
        self.processes[index] = process
        self.journal.append("trial_started", index=index, pid=process.pid, process_start=process_start_time(process.pid))
        if self.spec.limits.trial_timeout is not None:
            self.deadlines[index] = time.monotonic() + self.spec.limits.trial_timeout
        self.record.save(self.folder)
        self.on_event("trial_started", self.record, trial)

    def _reap(self) -> None:
        for index, process in list(self.processes.items()):
            code = process.poll()
            if code is None:
                continue
            process.reap_group()
            del self.processes[index]
            self.deadlines.pop(index, None)
            status = "Completed" if code == 0 else "Failed"
            reason = "" if code == 0 else _exit_reason(code)
            self._record_end(index, status, code, reason)

    def _stop_trial(self, index: int, reason: str, tags: Mapping[str, str] | None = None) -> None:
        process = self.processes.pop(index)
        self.deadlines.pop(index, None)
        code = process.stop(KILL_GRACE_SECONDS)
        self._record_end(index, "Canceled", code, reason, tags)

    def _stop_all(self, reason: str) -> None:
        for process in self.processes.values():
            process.terminate()
        deadline = time.monotonic() + KILL_GRACE_SECONDS
        while any(p.poll() is None for p in self.processes.values()) and time.monotonic() < deadline:
            time.sleep(0.02)
        for index in list(self.processes):
            self._stop_trial(index, reason)

    def _record_end(self, index: int, status: str, code: int | None, reason: str,
                    extra_tags: Mapping[str, str] | None = None) -> None:
        assert self.record is not None
        trial = self.record.trials[index]
        trial.status, trial.exit_code, trial.reason, trial.ended = status, code, reason, time.time()
        self._update_score(trial)
        tags = {"azsweep.status": status, **(extra_tags or {})}
        if reason:
            tags["azsweep.reason"] = reason
        if trial.score is None:
            logged = self.tracker.metric_names(trial.run_id)
            note = (f"no value of the primary metric {self.spec.objective.primary_metric!r} was logged "
                    f"(logged: {', '.join(logged) or 'nothing'})")
            tags["azsweep.note"] = note
            trial.reason = f"{reason}; {note}" if reason else note
        self.tracker.finish(trial.run_id, status.lower(), tags)
        self.journal.append("trial_ended", index=index, status=status, exit_code=code, score=trial.score,
                            intervals=trial.intervals, reason=trial.reason, stopped_by=trial.stopped_by,
                            stopped_at=trial.stopped_at,
                            interrupted=status == "Canceled" and self.resumable and reason == self.cancel_reason)
        self._update_best()
        self.record.save(self.folder)
        self.on_event("trial_ended", self.record, trial)

    def _update_score(self, trial: Trial) -> None:
        values = self.tracker.metric_values(trial.run_id, self.spec.objective.primary_metric)
        trial.intervals = len(values)
        trial.score = best_of(values, self.maximize)  # values logged after a stop still count for the score
        # the policy sees a stopped trial's curve as it was when it was stopped
        self.curves[trial.index] = values[:trial.stopped_at] if trial.stopped_at else values

    def _poll_metrics(self) -> None:
        assert self.record is not None
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
        """Judge every interval each running trial has reached since the last look, in trial order."""
        assert self.record is not None and self.policy is not None
        metric = self.spec.objective.primary_metric
        for index in sorted(self.processes):
            trial = self.record.trials[index]
            curve = self.curves.get(index, [])
            if not curve:
                waited = time.time() - trial.started
                if waited >= POLICY_WAIT_NOTE_SECONDS and index not in self.judged:
                    self.judged[index] = 0
                    note = (f"{trial.name}: early_termination ({self.policy.title}) cannot be applied yet: "
                            f"no value of the primary metric {metric!r} logged after {waited:.0f} s")
                    self.record.notes.append(note)
                    self.on_event("note", self.record, trial)
                continue
            for k in range(self.judged.get(index, 0) + 1, len(curve) + 1):
                self.judged[index] = k
                if not self.policy.due(k):
                    continue
                others = [c for i, c in self.curves.items() if i != index]
                reason = self.policy.judge(curve[:k], k, others)
                if reason:
                    trial.stopped_by, trial.stopped_at = self.policy.title, k
                    self.curves[index] = curve[:k]
                    self._stop_trial(index, f"stopped by the early-termination policy: {reason}", {
                        "azsweep.stopped_by": self.policy.title, "azsweep.stopped_at_interval": str(k)})
                    break

    def _update_best(self) -> None:
        assert self.record is not None
        best: Trial | None = None
        for trial in self.record.trials:  # in index order, so ties go to the earlier trial
            if trial.score is not None and (best is None or better(trial.score, best.score, self.maximize)):
                best = trial
        if best is not None:
            self.record.best_trial, self.record.best_score = best.name, best.score

    def _final_status(self) -> tuple[str, str]:
        assert self.record is not None
        if self.record.best_trial is None:
            metric = self.spec.objective.primary_metric
            logged = sorted({name for t in self.record.trials for name in self.tracker.metric_names(t.run_id)})
            return "Failed", (f"no trial logged the primary metric {metric!r}; the trials logged: "
                              f"{', '.join(logged) or 'no metrics at all'}")
        return "Completed", ""

    def _finish(self, status: str, message: str) -> None:
        assert self.record is not None
        record = self.record
        record.status, record.message, record.ended = status, message, time.time()
        best = next((t for t in record.trials if t.name == record.best_trial), None)
        self.tracker.log_best(record.parent_run_id, best.run_id if best else None, record.best_score,
                              record.primary_metric)
        tags = {"azsweep.status": status}
        if message:
            tags["azsweep.message"] = message
        if best is not None:
            tags["azsweep.best_trial"] = best.name
        self.tracker.finish(record.parent_run_id, {"Completed": "completed", "Failed": "failed"}.get(status, "canceled"),
                            tags)
        self.journal.append("sweep_ended", status=status, message=message, resumable=self.resumable)
        record.save(self.folder)
        self.on_event("finished", record, None)


def _elapsed(events: list[dict[str, Any]]) -> float:
    """Seconds the sweep ran in earlier sessions: from each (re)start to the last event of that session."""
    total, session_start, last = 0.0, None, None
    for e in events:
        if e["event"] in ("sweep_started", "resumed"):
            if session_start is not None and last is not None:
                total += last - session_start
            session_start = e["time"]
        last = e["time"]
    if session_start is not None and last is not None:
        total += last - session_start
    return total


def _params(values: Mapping[str, Any]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(k, str(v)) for k, v in values.items()]


def _exit_reason(code: int) -> str:
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"
