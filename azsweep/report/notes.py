"""What ``show`` adds under the table: the best trial's command line, and how the score varied with each parameter."""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azsweep.report.tables import format_score, short
from azsweep.report.view import param_value, param_values
from azsweep.runner.command import render_command
from azsweep.runner.layout import TrialFolder
from azsweep.runner.record import RecordedDefinition
from azsweep.spec import SweepSpec, ranked

if TYPE_CHECKING:
    from azsweep.report.view import SweepView


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


def parameter_names(view: SweepView, all_params: bool = False) -> list[str]:
    """The swept parameters' names, in search-space order (without a recorded definition: the names in
    ``Trial.params`` as recorded); ``all_params`` adds the other params the trials logged. See
    ``SweepView.parameter_names``."""
    return view.parameter_names(all_params)


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


def parameter_notes(view: SweepView, all_params: bool = False) -> dict[str, str]:
    """For each swept parameter (``all_params``: each param logged), one line on how the score varied with it
    (over the trials with a finite score)."""
    scored = [(t, float(t.score)) for t in view.trials if t.score is not None and math.isfinite(t.score)]
    maximize = view.maximize
    notes = {}
    for name in parameter_names(view, all_params):
        pairs = [(value, score) for t, score in scored if (value := param_value(t, name)) is not None]
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
    return text if len(text) <= width else text[: width - 3] + "..."


def extras_lines(view: SweepView, all_params: bool = False) -> list[str]:
    """What ``azsweep show`` prints under the table: the best command line and one note per swept parameter
    (``all_params``: per param logged)."""
    lines = []
    best = view.best()
    if best is not None:
        command = best_command(view)
        lines.append(f"best configuration ({best.name}, {view.primary_metric} = {format_score(best.score)}):")
        if command is None:
            values = " ".join(f"{k}={shlex.quote(v)}" for k, v in param_values(best, parameter_names(view)).items())
            lines.append(f"  {values}   (no recorded definition.json: the trial command cannot be rendered)")
        else:
            lines.append(f"  {command}")
    notes = parameter_notes(view, all_params)
    if notes:
        lines.append(f"how {view.primary_metric or 'the score'} varied with each parameter ({view.goal}):")
        lines.extend(f"  {name}: {note}" for name, note in notes.items())
    return lines


_TRIAL_FIELDS = (
    "name",
    "index",
    "status",
    "params",
    "score",
    "intervals",
    "run_id",
    "reason",
    "stopped_by",
    "stopped_at",
    "gpus",
)
_SWEEP_FIELDS = (
    "name",
    "status",
    "experiment_name",
    "primary_metric",
    "goal",
    "parent_run_id",
    "tracking_uri",
    "best_trial",
    "best_score",
    "message",
)


def view_json(view: SweepView, all_params: bool = False) -> dict[str, Any]:
    """What ``run --json`` and ``show --json`` print: the sweep, its trials best first, counts, the best
    trial's command line and the parameter notes.

    Each trial's ``params`` are its swept values (without a recorded definition: its params as recorded);
    ``hidden_params`` names the other params the trials logged. With ``all_params`` each trial also has
    ``logged_params`` (those other params, with its values) and the notes cover them too.
    """
    swept = parameter_names(view)
    others = view.hidden_parameters()
    data: dict[str, Any] = {k: getattr(view, k) for k in _SWEEP_FIELDS}
    data["trials"] = []
    for t in view.ranked():
        trial = {k: getattr(t, k) for k in _TRIAL_FIELDS}
        trial["params"] = param_values(t, swept)
        if all_params:
            trial["logged_params"] = param_values(t, others)
        data["trials"].append(trial)
    data["hidden_params"] = [] if all_params else others
    data["interrupted_attempts"] = view.interrupted_attempts
    data["counts"] = view.counts()
    data["best_command"] = best_command(view)
    data["parameter_notes"] = parameter_notes(view, all_params)
    return data
