"""Reading a sweep back from its record and presenting it: tables, JSON, the best command, parameter notes.

The sweep is read from MLflow (the record of truth, which a team's tracking server shares) through
``runner.tracking``, into the record types of ``runner.record``; its ``definition.json`` through
``RecordedDefinition``.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from azsweep.errors import AzsweepError
from azsweep.runner.command import render_command
from azsweep.runner.layout import Settings, TrialFolder
from azsweep.runner.record import STOPPED_BY_POLICY, RecordedDefinition, SweepRecord, Trial
from azsweep.runner.tracking import Tracker
from azsweep.spec import SweepSpec, best_value, ranked

_TRIAL_FIELDS = ("name", "index", "status", "params", "score", "intervals", "run_id", "reason", "stopped_by", "stopped_at")
_SWEEP_FIELDS = ("name", "status", "experiment_name", "primary_metric", "goal", "parent_run_id", "tracking_uri",
                 "best_trial", "best_score", "message")


@dataclass
class SweepView(SweepRecord):
    """A recorded sweep as ``show`` and ``plot`` present it: the record, with its recorded definition."""

    definition: RecordedDefinition | None = field(default=None, repr=False)

    @classmethod
    def of(cls, record: SweepRecord, definition: RecordedDefinition | None) -> SweepView:
        return cls(**{f.name: getattr(record, f.name) for f in fields(SweepRecord)}, definition=definition)

    @property
    def interrupted_attempts(self) -> int:
        """Trial attempts a stop of the driver interrupted (kept in MLflow as KILLED, and run again)."""
        return len(self.interrupted)

    def ranked(self) -> list[Trial]:
        """Trials best first; trials without a score last, in index order."""
        return ranked(self.trials, score=lambda t: t.score, maximize=self.maximize)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {k: getattr(self, k) for k in _SWEEP_FIELDS}
        data["trials"] = [{k: getattr(t, k) for k in _TRIAL_FIELDS} for t in self.ranked()]
        data["interrupted_attempts"] = self.interrupted_attempts
        data["counts"] = self.counts()
        data["best_command"] = best_command(self)
        data["parameter_notes"] = parameter_notes(self)
        return data


def load_view(name: str, tracker: Tracker | None = None, *, settings: Settings | None = None) -> SweepView:
    """The sweep ``name`` as its record holds it, with its recorded definition when kept."""
    settings = settings or Settings.resolve()
    tracker = tracker or Tracker.for_settings(settings)
    record = tracker.read_sweep(name, best_value)
    if record is None:
        raise AzsweepError(f"no local sweep named {name!r} in the tracking store {tracker.uri}")
    definition = None
    for folder in (tracker.folder_of(record), settings.folder(name)):
        try:
            definition = RecordedDefinition.load(folder) if folder is not None else None
        except AzsweepError:
            definition = None
        if definition is not None:
            break
    return SweepView.of(record, definition)


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
        row = [f"{mark}{t.index}", t.status.value, format_score(t.score), *(short(t.params.get(n, "")) for n in names)]
        table.add_row(*row, *([t.note] if notes else []))
    return table


def stop_reasons(view: SweepView) -> list[str]:
    """One line per trial an early-termination policy stopped, with the numbers it compared."""
    return [f"{t.name}: {t.reason.removeprefix(STOPPED_BY_POLICY)}" for t in view.trials if t.stopped_by]


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


def best_command(view: SweepView) -> str | None:
    """Exactly the command line the best trial ran, rendered by the runner's own ``render_command``
    from the recorded definition; None without a best trial or a recorded definition."""
    best = view.best()
    if best is None or view.definition is None:
        return None
    spec = view.definition.spec()
    outputs = {k: (TrialFolder(Path(best.workdir)).output(k) if best.workdir else f"./outputs/{k}") for k in spec.outputs}
    try:
        return render_command(spec.trial.command, best.params, _input_values(view.definition, spec), outputs)
    except KeyError:  # a parameter the record does not hold
        return None


def _input_values(definition: RecordedDefinition, spec: SweepSpec) -> dict[str, str | None]:
    """What ``${{inputs.x}}`` became; for a definition recorded before the values were, rebuilt from it."""
    if definition.input_values:
        return dict(definition.input_values)
    given = definition.input_overrides
    return {name: given.get(name, item.value if item.literal else item.path) for name, item in spec.inputs.items()}


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
    space = view.definition.spec().search_space.names if view.definition else ()
    ordered = [k for k in space if k in seen]
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
    means = ranked(sorted((sum(s) / len(s), v) for v, s in groups.items()), score=lambda m: m[0], maximize=maximize)
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
