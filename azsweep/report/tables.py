"""The trials of a recorded sweep as a table, best first, and one line per trial a policy stopped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from azsweep.runner.record import STOPPED_BY_POLICY

if TYPE_CHECKING:
    from azsweep.report.view import SweepView


def format_score(score: float | None) -> str:
    return "N/A" if score is None else f"{score:.6g}"


def short(text: str) -> str:
    """A parameter as recorded (full precision), shortened for display when it is a long float."""
    try:
        value = float(text)
    except ValueError:
        return text
    return f"{value:.6g}" if "." in text or "e" in text.lower() else text


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
