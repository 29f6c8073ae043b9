"""The trials of a recorded sweep as a table, best first, and one line per trial a policy stopped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from azsweep.report.view import param_values
from azsweep.runner.record import STOPPED_BY_POLICY

if TYPE_CHECKING:
    from azsweep.report.view import SweepView

PARAMETERS = "parameters"  # the header of the stacked parameters column
NOTE_MIN_WIDTH = 20
ALL_PARAMS_FLAG = "--all-params"


def format_score(score: float | None) -> str:
    return "N/A" if score is None else f"{score:.6g}"


def short(text: str) -> str:
    """A parameter as recorded (full precision), shortened for display when it is a long float."""
    try:
        value = float(text)
    except ValueError:
        return text
    return f"{value:.6g}" if "." in text or "e" in text.lower() else text


def hidden_note(view: SweepView, all_params: bool = False, how: str = ALL_PARAMS_FLAG) -> str:
    """The line under a table or a chart that presents the swept parameters only: how many other params the
    trials logged were left out, and ``how`` to show them; empty when none were (or ``all_params``)."""
    hidden = [] if all_params else view.hidden_parameters()
    if not hidden:
        return ""
    n = len(hidden)
    return f"{n} other logged param{'s' if n != 1 else ''} not shown (not swept): {how} shows {'them' if n != 1 else 'it'}"


class _Row(NamedTuple):
    trial: str
    status: str
    score: str
    values: dict[str, str]  # the parameters shown, as displayed
    note: str


class TrialsTable:
    """The trials table, best first, as rich renders it at the console's width.

    One column per parameter when every column fits whole (names and values) beside a note column of at least
    20 cells; otherwise the parameters are stacked in one ``parameters`` column, one ``name = value`` line each
    (then the trial's note, ``note: ...``), which breaks at the spaces and folds what is longer than the column:
    a value is never cut to ``…``. A caption under the table says how many other logged params were left out.
    """

    def __init__(self, view: SweepView, limit: int | None = None, *, all_params: bool = False) -> None:
        ranked = view.ranked()
        self.view = view
        self.trials = ranked[:limit] if limit else ranked
        self.title = f"{view.name}: {view.status}, {len(view.trials)} trials, {view.goal} {view.primary_metric}"
        if limit and len(ranked) > limit:
            self.title += f" (best {limit} shown)"
        self.names = view.parameter_names(all_params)
        self.caption = hidden_note(view, all_params)
        self.notes = any(t.note for t in self.trials)
        self.rows = [
            _Row(
                f"{'*' if t.name == view.best_trial else ''}{t.index}",
                t.status.value,
                format_score(t.score),
                {k: short(v) for k, v in param_values(t, self.names).items()},
                t.note,
            )
            for t in self.trials
        ]

    def _fixed_headers(self) -> list[str]:
        return ["trial", "status", self.view.primary_metric or "score"]

    def fits(self, width: int) -> bool:
        """One column per parameter fits in ``width`` cells, each as wide as its name and its longest value."""
        from rich.cells import cell_len

        fixed = [(row.trial, row.status, row.score) for row in self.rows]
        widths = [max([cell_len(h), *(cell_len(cells[i]) for cells in fixed)]) for i, h in enumerate(self._fixed_headers())]
        widths += [max([cell_len(n), *(cell_len(row.values.get(n, "")) for row in self.rows)]) for n in self.names]
        if self.notes:
            widths.append(NOTE_MIN_WIDTH)
        return sum(w + 2 for w in widths) + len(widths) + 1 <= width  # padding of 1 each side, a border between and around

    def table(self, stacked: bool) -> Any:
        """The rich table: one column per parameter, or (``stacked``) one column holding them all and the note."""
        from rich.table import Table
        from rich.text import Text

        table = Table(title=self.title, title_justify="left", caption=self.caption or None, caption_justify="left")
        trial, status, metric = self._fixed_headers()
        # stacked: every column may fold, so that no cell is cut at any width; the parameters column, the widest,
        # gives way first and its lines break at the spaces of "name = value"
        table.add_column(trial, justify="right", no_wrap=not stacked, overflow="fold")
        table.add_column(status, no_wrap=not stacked, overflow="fold")
        table.add_column(metric, justify="right", no_wrap=not stacked, overflow="fold")
        if stacked:
            if self.names or self.notes:
                table.add_column(PARAMETERS if self.names else "note", overflow="fold")
        else:
            for name in self.names:
                table.add_column(name, justify="right", no_wrap=True, overflow="fold")
            if self.notes:
                table.add_column("note", overflow="fold", min_width=NOTE_MIN_WIDTH)
        for index, state, score, values, note in self.rows:
            if stacked:
                lines = [f"{k} = {v}" for k, v in values.items()] + ([f"note: {note}" if self.names else note] if note else [])
                cells = [Text("\n".join(lines))] if self.names or self.notes else []
            else:
                cells = [Text(values.get(n, "")) for n in self.names] + ([Text(note)] if self.notes else [])
            table.add_row(index, state, score, *cells)
        return table

    def __rich_console__(self, console: Any, options: Any) -> Any:
        yield self.table(stacked=not self.fits(options.max_width))

    def __rich_measure__(self, console: Any, options: Any) -> Any:
        from rich.measure import Measurement

        return Measurement.get(console, options, self.table(stacked=not self.fits(options.max_width)))


def trials_table(view: SweepView, limit: int | None = None, *, all_params: bool = False) -> TrialsTable:
    """A rich renderable of the trials, best first: the swept parameters (``all_params``: every param logged)."""
    return TrialsTable(view, limit, all_params=all_params)


def stop_reasons(view: SweepView) -> list[str]:
    """One line per trial an early-termination policy stopped, with the numbers it compared."""
    return [f"{t.name}: {t.reason.removeprefix(STOPPED_BY_POLICY)}" for t in view.trials if t.stopped_by]
