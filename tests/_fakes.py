"""Test seams for the run loop: a fake clock, a scripted process launcher and an in-memory tracking store.

Only for unit tests of azsweep's own orchestration (limits, concurrency, policy decisions, failures,
timeouts, resume bookkeeping). Every capability is also tested end to end through real processes
and a real MLflow store.
"""

from __future__ import annotations

import heapq
import itertools
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azsweep.runner.record import JobStatus
from azsweep.runner.tracking import RunState, param_tag


class FakeClock:
    """Time that moves only when the loop sleeps; ``at(t, fn)`` calls ``fn`` once time reaches t."""

    def __init__(self) -> None:
        self.now = 0.0
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_700_000_000.0 + self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        while self._due and self._due[0][0] <= self.now:
            heapq.heappop(self._due)[2]()

    def at(self, t: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._due, (t, next(self._order), fn))


@dataclass
class Script:
    """What a fake trial does: writes ``output`` to its log and logs ``params`` at once (as a script's own
    ``mlflow.log_param``), then ``values`` of the metric one per second, then exits with ``exit_code`` one
    second after the last (``hang``: never exits by itself; ``ignore_sigterm``: only SIGKILL ends it)."""

    values: list[float] = field(default_factory=list)
    exit_code: int = 0
    hang: bool = False
    ignore_sigterm: bool = False
    metric: str = "loss"
    params: dict[str, str] = field(default_factory=dict)
    output: str = ""
    # files the trial writes when it starts: path (relative to its cwd; ``{VAR}`` is the trial's env value) -> text
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class Launched:
    command: str
    env: dict[str, str]
    cwd: Path
    log_path: Path


class FakeProcess:
    _pids = itertools.count(4_000_000)  # never a live pid

    def __init__(self, launcher: FakeLauncher, script: Script, run_id: str) -> None:
        self.pid = next(self._pids)
        self.launcher, self.script, self.run_id = launcher, script, run_id
        self.started = launcher.clock.now
        self.logged = 0
        self.code: int | None = None
        self.terminated = False
        launcher.store.log_params(run_id, script.params)  # what the script logs itself, before any metric

    def _advance(self) -> None:
        if self.code is not None:
            return
        elapsed = self.launcher.clock.now - self.started
        while self.logged < len(self.script.values) and elapsed >= self.logged + 1:
            self.launcher.store.log_metric(self.run_id, self.script.metric, self.script.values[self.logged])
            self.logged += 1
        if not self.script.hang and elapsed >= len(self.script.values) + 1:
            self._exit(self.script.exit_code)

    def _exit(self, code: int) -> None:
        self.code = code
        self.launcher.running.discard(self)

    def poll(self) -> int | None:
        self._advance()
        return self.code

    def terminate(self) -> None:
        self.terminated = True
        if self.code is None and not self.script.ignore_sigterm:
            self._exit(-signal.SIGTERM)

    def stop(self, grace: float) -> int:
        self.terminate()
        if self.code is None:
            self._exit(-signal.SIGKILL)
        assert self.code is not None
        return self.code

    def reap_group(self) -> None:
        pass


class FakeLauncher:
    """Starts ``FakeProcess``es scripted by ``behaviour(index, params) -> Script``; records what it was asked."""

    def __init__(self, clock: FakeClock, store: MemoryStore, behaviour: Callable[[int, dict[str, str]], Script]) -> None:
        self.clock, self.store, self.behaviour = clock, store, behaviour
        self.launched: list[Launched] = []
        self.processes: list[FakeProcess] = []
        self.running: set[FakeProcess] = set()
        self.most_at_once = 0
        self.leftovers_stopped: list[str] = []
        self.marked_stopped: list[tuple[str, ...]] = []

    def launch(self, command: str, *, cwd: Path, env: Mapping[str, str], log_path: Path) -> FakeProcess:
        self.launched.append(Launched(command, dict(env), cwd, log_path))
        params = {k.removeprefix("AZUREML_SWEEP_"): v for k, v in env.items() if k.startswith("AZUREML_SWEEP_")}
        script = self.behaviour(int(env.get("AZSWEEP_TRIAL_INDEX", 0)), params)  # a command job has no index
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(script.output)
        for name, text in script.files.items():
            target = cwd / name.format(**env)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        process = FakeProcess(self, script, env["MLFLOW_RUN_ID"])
        self.processes.append(process)
        self.running.add(process)
        self.most_at_once = max(self.most_at_once, len(self.running))
        return process

    def stop_leftovers(self, sweep_name: str, home: Path) -> None:
        self.leftovers_stopped.append(sweep_name)

    def stop_marked(self, *markers: str) -> list[int]:
        """The end-of-sweep scan for what trials left running (no process here is ever left)."""
        self.marked_stopped.append(markers)
        return []

    def wait(self, timeout: float) -> None:
        """Time passes as the loop asks, in steps of at most 0.1 s (the fake processes are looked at in between)."""
        self.clock.sleep(min(timeout, 0.1))


@dataclass
class _Run:
    run_id: str
    experiment_id: str
    name: str
    status: str = "RUNNING"
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, list[float]] = field(default_factory=dict)


class MemoryStore:
    """An in-memory tracking store with the runner's ``TrackingStore`` interface."""

    uri = "memory://"

    def __init__(self) -> None:
        self.experiments: dict[str, str] = {}
        self.runs: dict[str, _Run] = {}
        self._ids = itertools.count(1)
        self.artifacts: dict[str, dict[str, str]] = {}  # run id -> artifact path -> text
        self.artifact_calls: list[tuple[str, str]] = []  # (run id, artifact path) of each upload asked for
        self.artifacts_fail: str | None = None  # an error text: every upload raises OSError (an unwritable store)

    def experiment_id(self, name: str) -> str:
        return self.experiments.setdefault(name, str(len(self.experiments) + 1))

    def _create(self, experiment_id: str, name: str, tags: Mapping[str, str]) -> str:
        run_id = f"run{next(self._ids)}"
        self.runs[run_id] = _Run(run_id, experiment_id, name, tags=dict(tags))
        return run_id

    def start_parent(self, experiment_id: str, sweep_name: str, tags: Mapping[str, str], run_type: str = "sweep") -> str:
        name_tag = "azsweep.sweep" if run_type == "sweep" else "azsweep.job"
        return self._create(experiment_id, sweep_name, {name_tag: sweep_name, "azureml.runType": run_type, **tags})

    def log_params(self, run_id: str, values: Mapping[str, Any]) -> None:
        """As MLflow: a param logged again with other text is refused."""
        params = self.runs[run_id].params
        for k, v in values.items():
            if params.setdefault(k, str(v)) != str(v):
                raise ValueError(f"Changing param values is not allowed: {k!r} is {params[k]!r}, not {str(v)!r}")

    def start_child(
        self, experiment_id: str, parent_id: str, sweep_name: str, index: int, params: Mapping[str, Any], attempt: int = 1
    ) -> str:
        tags = {"mlflow.parentRunId": parent_id, "azsweep.trial": str(index), "azsweep.attempt": str(attempt)}
        return self._create(experiment_id, f"{sweep_name}_{index}", {**tags, **{param_tag(k): str(v) for k, v in params.items()}})

    def log_missing_params(self, run_id: str, values: Mapping[str, Any]) -> None:
        have = self.runs[run_id].params
        self.log_params(run_id, {k: v for k, v in values.items() if k not in have})

    def finish(self, run_id: str, status: JobStatus, tags: Mapping[str, str] | None = None) -> None:
        self.set_tags(run_id, tags or {})
        self.runs[run_id].status = status.mlflow

    def set_running(self, run_id: str) -> None:
        self.runs[run_id].status = "RUNNING"

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        self.runs[run_id].tags.update(tags)

    def log_best(self, parent_id: str, best_run_id: str | None, score: float | None, metric: str) -> None:
        if best_run_id is not None:
            self.set_tags(parent_id, {"best_child_run_id": best_run_id, "score": repr(score)})

    def run_state(self, run_id: str) -> RunState:
        run = self.runs[run_id]
        return RunState(run.run_id, run.status, dict(run.tags))

    def children(self, experiment_id: str, parent_id: str) -> list[RunState]:
        return [self.run_state(r.run_id) for r in self.runs.values() if r.tags.get("mlflow.parentRunId") == parent_id]

    def metric_values(self, run_id: str, key: str) -> list[float]:
        return list(self.runs[run_id].metrics.get(key, []))

    def metric_names(self, run_id: str) -> list[str]:
        return sorted(self.runs[run_id].metrics)

    def log_artifact_folder(self, run_id: str, folder: Path, artifact_path: str) -> None:
        self.artifact_calls.append((run_id, artifact_path))
        if self.artifacts_fail is not None:
            raise OSError(self.artifacts_fail)
        stored = self.artifacts.setdefault(run_id, {})
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                stored[f"{artifact_path}/{path.relative_to(folder).as_posix()}"] = path.read_text()

    def log_metric(self, run_id: str, key: str, value: float) -> None:
        self.runs[run_id].metrics.setdefault(key, []).append(value)


def make_view(
    trials: list[Any],
    best: str | None = None,
    *,
    goal: str = "minimize",
    metric: str = "loss",
    definition: Any = None,
    name: str = "v",
) -> Any:
    """A ``report.SweepView`` made by hand (for the presentation functions: tables, notes, plots)."""
    from azsweep.report import SweepView

    best_trial = next((t for t in trials if t.name == best), None)
    return SweepView(
        name=name,
        status=JobStatus.COMPLETED,
        experiment_name="e",
        experiment_id="1",
        parent_run_id="p",
        tracking_uri="",
        primary_metric=metric,
        goal=goal,
        algorithm="random",
        seed=1,
        max_total_trials=len(trials),
        max_concurrent_trials=1,
        best_trial=best,
        best_score=best_trial.score if best_trial else None,
        trials=trials,
        definition=definition,
    )


def make_trial(
    index: int, score: float | None, params: dict[str, str], *, status: str = "Completed", name: str = "v", **fields: Any
) -> Any:
    from azsweep.runner.record import Trial

    return Trial(
        index=index,
        name=f"{name}_{index}",
        params=params,
        run_id=str(index),
        status=JobStatus(status),
        score=score,
        intervals=fields.pop("intervals", 1),
        **fields,
    )


def make_definition(search_space: dict[str, list[Any]], command: str = "", *, name: str = "v") -> Any:
    """A ``RecordedDefinition`` made by hand, its search space in REST form (``{"lr": ["loguniform", [-9, -2]]}``)."""
    from azsweep.runner.record import RecordedDefinition

    command = command or "python train.py " + " ".join(f"--{k} ${{{{search_space.{k}}}}}" for k in search_space)
    props = {
        "searchSpace": search_space,
        "samplingAlgorithm": {"samplingAlgorithmType": "Random"},
        "objective": {"goal": "minimize", "primaryMetric": "loss"},
        "trial": {"command": command, "codeId": "src"},
        "limits": {"maxTotalTrials": 10, "maxConcurrentTrials": 1},
        "jobType": "Sweep",
    }
    return RecordedDefinition(name=name, props=props, effective=props, base_dir=".")
