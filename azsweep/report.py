"""Reading a sweep back from MLflow (the record of truth) and presenting it: tables and JSON."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from azsweep.errors import AzsweepError
from azsweep.runner._tracking import SWEEP_TAG, TRIAL_TAG, Tracker

_STATUS = {"FINISHED": "Completed", "FAILED": "Failed", "KILLED": "Canceled", "RUNNING": "Running", "SCHEDULED": "Queued"}


@dataclass
class TrialView:
    name: str
    index: int
    status: str
    params: dict[str, str]
    score: float | None
    intervals: int
    run_id: str
    reason: str = ""
    stopped_by: str | None = None
    stopped_at: int | None = None

    @property
    def note(self) -> str:
        """A short note for tables: who stopped it, or why it failed."""
        if self.stopped_by:
            return f"{self.stopped_by} at {self.stopped_at}"
        return self.reason if len(self.reason) <= 60 else self.reason[:57] + "..."


@dataclass
class SweepView:
    name: str
    status: str
    experiment_name: str
    primary_metric: str
    goal: str
    parent_run_id: str
    tracking_uri: str
    best_trial: str | None
    best_score: float | None
    message: str = ""
    trials: list[TrialView] = field(default_factory=list)

    def ranked(self) -> list[TrialView]:
        """Trials best first; trials without a score last, in index order."""
        scored = [t for t in self.trials if t.score is not None and not math.isnan(t.score)]
        scored.sort(key=lambda t: (-t.score if self.goal == "maximize" else t.score, t.index))  # type: ignore[operator]
        rest = [t for t in self.trials if t not in scored]
        return scored + rest

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["trials"] = [asdict(t) for t in self.ranked()]
        data["counts"] = self.counts()
        return data

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in self.trials:
            counts[t.status] = counts.get(t.status, 0) + 1
        return counts


def _quote(value: str) -> str:
    return value.replace("'", "\\'")


def load_view(name: str, tracker: Tracker | None = None) -> SweepView:
    """A sweep as MLflow records it: parent run tagged with the name, and its child runs."""
    tracker = tracker or Tracker()
    client = tracker.client
    experiments = [e.experiment_id for e in client.search_experiments()]
    parents = client.search_runs(experiments, f"tags.`{SWEEP_TAG}` = '{_quote(name)}' and tags.`azureml.runType` = 'sweep'",
                                 max_results=5) if experiments else []
    if not parents:
        raise AzsweepError(f"no local sweep named {name!r} in the tracking store {tracker.uri}")
    parent = parents[0]
    tags = parent.data.tags
    metric = tags.get("azsweep.primary_metric", "")
    goal = tags.get("azsweep.goal", "minimize")
    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
                                  max_results=5000)
    trials = []
    for run in children:
        values = tracker.metric_values(run.info.run_id, metric) if metric else []
        clean = [v for v in values if not math.isnan(v)]
        score = (max(clean) if goal == "maximize" else min(clean)) if clean else None
        ctags = run.data.tags
        status = _STATUS.get(run.info.status, run.info.status.title())
        reason = "; ".join(x for x in (ctags.get("azsweep.reason", ""), ctags.get("azsweep.note", "")) if x)
        stopped_at = ctags.get("azsweep.stopped_at_interval")
        trials.append(TrialView(name=run.info.run_name, index=int(ctags.get(TRIAL_TAG, -1)), status=status,
                                params=dict(run.data.params), score=score, intervals=len(values),
                                run_id=run.info.run_id, reason=reason, stopped_by=ctags.get("azsweep.stopped_by"),
                                stopped_at=int(stopped_at) if stopped_at else None))
    trials.sort(key=lambda t: t.index)
    status = tags.get("azsweep.status") or _STATUS.get(parent.info.status, parent.info.status.title())
    if parent.info.status == "RUNNING":
        status = "Running"
    score = tags.get("score")
    best_id = tags.get("best_child_run_id")
    best = next((t.name for t in trials if t.run_id == best_id), None)
    return SweepView(name=name, status=status, experiment_name=client.get_experiment(parent.info.experiment_id).name,
                     primary_metric=metric, goal=goal, parent_run_id=parent.info.run_id, tracking_uri=tracker.uri,
                     best_trial=best, best_score=float(score) if score else None,
                     message=tags.get("azsweep.message", ""), trials=trials)


def format_score(score: float | None) -> str:
    return "N/A" if score is None else f"{score:.6g}"


def trials_table(view: SweepView, limit: int | None = None) -> Any:
    """A rich table of the trials, best first."""
    from rich.table import Table

    ranked = view.ranked()
    shown = ranked[:limit] if limit else ranked
    title = f"{view.name}: {view.status}, {len(view.trials)} trials, {view.goal} {view.primary_metric}"
    if limit and len(ranked) > limit:
        title += f" (best {limit} shown)"
    table = Table(title=title, title_justify="left")
    table.add_column("trial", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column(view.primary_metric or "score", justify="right", no_wrap=True)
    names = list(dict.fromkeys(k for t in view.trials for k in t.params))
    for name in names:
        table.add_column(name, justify="right")
    notes = any(t.note for t in shown)
    if notes:
        table.add_column("note", overflow="fold", min_width=20)
    for t in shown:
        mark = "*" if t.name == view.best_trial else ""
        row = [f"{mark}{t.index}", t.status, format_score(t.score), *(short(t.params.get(n, "")) for n in names)]
        table.add_row(*row, *([t.note] if notes else []))
    return table


def stop_reasons(view: SweepView) -> list[str]:
    """One line per trial an early-termination policy stopped, with the numbers it compared."""
    prefix = "stopped by the early-termination policy: "
    return [f"{t.name}: {t.reason.removeprefix(prefix)}" for t in view.trials if t.stopped_by]


def short(text: str) -> str:
    """A parameter as recorded (full precision), shortened for display when it is a long float."""
    try:
        value = float(text)
    except ValueError:
        return text
    return f"{value:.6g}" if "." in text or "e" in text.lower() else text
