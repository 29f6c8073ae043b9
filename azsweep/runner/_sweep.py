"""The local sweep driver: proposes trials, runs them as processes, enforces limits, records everything.

State changes are written to MLflow (the record users look at) and to ``sweep.json`` in the
sweep's folder (what ``LocalClient`` polls), each time they happen.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from azsweep.errors import AzsweepError
from azsweep.policies import make_policy
from azsweep.runner._command import render_command, trial_environment
from azsweep.runner._process import TrialProcess, snapshot
from azsweep.runner._tracking import Tracker
from azsweep.samplers import Observation, make_sampler
from azsweep.spec import SweepSpec

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


def best_of(values: list[float], maximize: bool) -> float | None:
    """A trial's score: its best value of the primary metric (not the last). NaN is ignored."""
    clean = [v for v in values if not math.isnan(v)]
    if not clean:
        return None
    return max(clean) if maximize else min(clean)


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
        self.record: SweepRecord | None = None

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
        self.record.save(self.folder)
        self.on_event("started", self.record, None)
        return self.record

    def _code_dir(self) -> Path | None:
        code = self.spec.trial.code
        if not code:
            return None
        path = Path(code[len("file://"):] if code.startswith("file://") else code)
        return path if path.is_absolute() else self.spec.base_dir / path

    def cancel(self, reason: str = "canceled by the user") -> None:
        """Ask the loop to stop every trial and end the sweep (safe from a signal handler)."""
        self.cancel_reason = self.cancel_reason or reason

    def run(self) -> SweepRecord:
        """Run to the end; on KeyboardInterrupt stop every trial, record, and re-raise."""
        record = self.record or self.start()
        started = time.monotonic()
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
            self._stop_all("interrupted (Ctrl-C)")
            self._finish("Canceled", "interrupted (Ctrl-C)")
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
        while len(self.processes) < self.concurrency and len(self.record.trials) < self.spec.limits.max_total_trials:
            history = self._history()
            if self.sampler.is_exhausted(history):
                break
            proposals = self.sampler.ask(history, 1)
            if not proposals:
                break
            self._start_trial(len(self.record.trials), proposals[0])
            launched += 1
        return launched

    def _start_trial(self, index: int, params: dict[str, Any]) -> None:
        assert self.record is not None
        name = f"{self.name}_{index}"
        run_id = self.tracker.start_child(self.record.experiment_id, self.record.parent_run_id, self.name, index, params)
        workdir = self.folder / "trials" / name
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
            "AZSWEEP_TRIAL_INDEX": str(index), "PYTHONUNBUFFERED": "1",
        })
        env.pop("MLFLOW_EXPERIMENT_NAME", None)
        trial = Trial(index=index, name=name, params=params, run_id=run_id, workdir=str(workdir))
        (workdir / "command.sh").write_text(command + "\n")
        self.record.trials.append(trial)
        self.processes[index] = TrialProcess(command, cwd=cwd, env=env, log_path=workdir / "user_logs" / "std_log.txt")
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
        record.save(self.folder)
        self.on_event("finished", record, None)


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
