"""Reading a sweep back from MLflow (the record of truth) and presenting it: tables and JSON."""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from azsweep.errors import AzsweepError
from azsweep.runner._tracking import SWEEP_TAG, TRIAL_TAG, Tracker, azsweep_home
from azsweep.spec import LEGACY_REFERENCE, REFERENCE, best_value

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
    interrupted_attempts: int = 0  # trial attempts a crash interrupted (kept in MLflow as KILLED, re-run)
    definition: dict[str, Any] | None = field(default=None, repr=False)  # the sweep's definition.json, when kept

    def ranked(self) -> list[TrialView]:
        """Trials best first; trials without a score last, in index order."""
        scored = [t for t in self.trials if t.score is not None and not math.isnan(t.score)]
        scored.sort(key=lambda t: (-t.score if self.goal == "maximize" else t.score, t.index))  # type: ignore[operator]
        rest = [t for t in self.trials if t not in scored]
        return scored + rest

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("definition")
        data["trials"] = [asdict(t) for t in self.ranked()]
        data["counts"] = self.counts()
        data["best_command"] = best_command(self)
        data["parameter_notes"] = parameter_notes(self)
        return data

    def best(self) -> TrialView | None:
        """The best trial as recorded on the parent run (``best_child_run_id``)."""
        return next((t for t in self.trials if t.name == self.best_trial), None)

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
    interrupted = 0
    for run in children:
        if run.data.tags.get("azsweep.status") == "Interrupted":  # an attempt a crash cut short; it was run again
            interrupted += 1
            continue
        values = tracker.metric_values(run.info.run_id, metric) if metric else []
        score = best_value(values, goal == "maximize")
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
                     message=tags.get("azsweep.message", ""), trials=trials, interrupted_attempts=interrupted,
                     definition=_read_definition(name, tags.get("azsweep.folder")))


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


def metric_curves(view: SweepView, tracker: Tracker | None = None) -> dict[str, list[float]]:
    """Each trial's primary-metric values in logging order (one value = one interval), by trial name."""
    if not view.primary_metric:
        return {t.name: [] for t in view.trials}
    tracker = tracker or Tracker(view.tracking_uri)
    return {t.name: tracker.metric_values(t.run_id, view.primary_metric) for t in view.trials}


def _read_definition(name: str, folder: str | None) -> dict[str, Any] | None:
    """``definition.json`` of a local sweep (its folder as tagged on the parent run, else ``$AZSWEEP_HOME/sweeps/NAME``)."""
    for candidate in (Path(folder) if folder else None, azsweep_home() / "sweeps" / name):
        path = candidate / "definition.json" if candidate else None
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and isinstance(data.get("props"), dict):
                return data
    return None


# ---- show additions: the best configuration as a command line, and how the score varied with each parameter

_OPTIONAL_BLOCK = re.compile(r"\[([^\[\]]*\$\{\{\s*inputs\.[^\]]*)\]")


def recorded_command(definition: Mapping[str, Any], params: Mapping[str, str]) -> str:
    """``trial.command`` of a recorded definition rendered for recorded (text) parameter values.

    ``${{search_space.x}}`` becomes the shell-quoted value, ``${{inputs.x}}`` the literal input's value
    (the local ``--input`` override when one was given) and stays a placeholder for data inputs,
    ``${{outputs.x}}`` becomes ``./outputs/x``; optional ``[...]`` blocks are kept or dropped as the runner does.
    """
    props = definition["props"]
    command = str(props["trial"]["command"])
    command = LEGACY_REFERENCE.sub(lambda m: "${{" + f"{m.group(1)}.{m.group(2)}" + "}}", command)
    inputs = props.get("inputs") or {}
    overrides = definition.get("input_overrides") or {}
    literals: dict[str, str] = {}
    given: set[str] = set()
    for name, item in inputs.items():
        literal = str((item or {}).get("jobInputType") or "literal") == "literal"
        value = overrides.get(name, (item or {}).get("value") if literal else (item or {}).get("uri"))
        if value is not None:
            given.add(name)
            if literal:
                literals[name] = str(value)

    def optional(m: re.Match[str]) -> str:
        names = [r.group(2) for r in REFERENCE.finditer(m.group(1)) if r.group(1) == "inputs"]
        return m.group(1) if all(n in given for n in names) else ""

    def substitute(m: re.Match[str]) -> str:
        family, name = m.group(1), m.group(2)
        if family == "search_space":
            return shlex.quote(params[name]) if name in params else m.group(0)
        if family == "inputs":
            return shlex.quote(literals[name]) if name in literals else m.group(0)
        return shlex.quote(f"./outputs/{name}")

    return REFERENCE.sub(substitute, _OPTIONAL_BLOCK.sub(optional, command))


def best_command(view: SweepView) -> str | None:
    """The best trial's command line, ready to paste; None without a best trial or a recorded definition."""
    best = view.best()
    if best is None or view.definition is None:
        return None
    try:
        return recorded_command(view.definition, best.params)
    except (KeyError, TypeError):
        return None


def as_numbers(values: Sequence[str]) -> list[float] | None:
    """The values as finite numbers, or None when any of them is not one (then the parameter is categorical)."""
    out = []
    for text in values:
        if text.strip().lower() in ("true", "false"):
            return None
        try:
            number = float(text)
        except ValueError:
            return None
        if not math.isfinite(number):
            return None
        out.append(number)
    return out


def parameter_names(view: SweepView) -> list[str]:
    """Parameter names in search-space order when the definition is kept, else in order of first appearance."""
    seen = list(dict.fromkeys(k for t in view.trials for k in t.params))
    space = ((view.definition or {}).get("props") or {}).get("searchSpace") or {}
    ordered = [k for k in space if k in seen] if isinstance(space, dict) else []
    return ordered + [k for k in seen if k not in ordered]


def _ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when either side is constant."""
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx, syy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else math.nan


TREND_THRESHOLD = 0.3  # |Spearman| below this reads as "no clear trend"
MIN_TRIALS = 3


def parameter_notes(view: SweepView) -> dict[str, str]:
    """For each parameter, one line on how the score varied with it (over the trials with a finite score)."""
    scored = [t for t in view.trials if t.score is not None and math.isfinite(t.score)]
    maximize = view.goal == "maximize"
    notes = {}
    for name in parameter_names(view):
        pairs = [(t.params[name], float(t.score)) for t in scored if name in t.params]  # type: ignore[arg-type]
        if len(pairs) < MIN_TRIALS:
            notes[name] = f"too few trials ({len(pairs)} scored, {MIN_TRIALS} needed)"
            continue
        values, scores = [p[0] for p in pairs], [p[1] for p in pairs]
        numbers = as_numbers(values)
        if len(set(values)) == 1:
            notes[name] = f"the same value in every scored trial ({short(values[0])})"
        elif numbers is not None:
            notes[name] = _numeric_note(numbers, scores, maximize)
        else:
            notes[name] = _categorical_note(values, scores, maximize)
    return notes


def _numeric_note(numbers: list[float], scores: list[float], maximize: bool) -> str:
    rho = spearman(numbers, scores)
    where = f"Spearman {rho:.2f}, {len(numbers)} trials"
    if math.isnan(rho):
        return f"no clear trend (the score did not vary, {len(numbers)} trials)"
    if abs(rho) < TREND_THRESHOLD:
        return f"no clear trend ({where})"
    higher = (rho > 0) == maximize
    return f"{'higher' if higher else 'lower'} is better ({where})"


def _categorical_note(values: list[str], scores: list[float], maximize: bool) -> str:
    groups: dict[str, list[float]] = {}
    for value, score in zip(values, scores):
        groups.setdefault(value, []).append(score)
    means = sorted(((sum(s) / len(s), v) for v, s in groups.items()), key=lambda m: (-m[0] if maximize else m[0], m[1]))
    (best_mean, best), rest = means[0], means[1:]
    shown = ", ".join(f"{_label(v)} {m:.3g}" for m, v in rest[:4]) + (f", {len(rest) - 4} more" if len(rest) > 4 else "")
    return f"{_label(best)} best (mean {best_mean:.3g} vs {shown})"


def _label(value: str, width: int = 30) -> str:
    text = short(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def extras_lines(view: SweepView) -> list[str]:
    """What ``azsweep show`` prints under the table: the best command line and one note per parameter."""
    lines = []
    best = view.best()
    if best is not None:
        command = best_command(view)
        lines.append(f"best configuration ({best.name}, {view.primary_metric} = {format_score(best.score)}):")
        if command is None:
            values = " ".join(f"{k}={shlex.quote(v)}" for k, v in best.params.items())
            lines.append(f"  {values}   (no recorded definition.json: the trial command cannot be rendered)")
        else:
            lines.append(f"  {command}")
    notes = parameter_notes(view)
    if notes:
        lines.append(f"how {view.primary_metric or 'the score'} varied with each parameter ({view.goal}):")
        lines.extend(f"  {name}: {note}" for name, note in notes.items())
    return lines
