"""Presenting a recorded sweep: the view (record + definition), tables, the notes of ``show``, the charts of
``plot`` (``charts``, matplotlib: imported on use) and what a policy would have stopped (``replay``)."""

from __future__ import annotations

from azsweep.report.notes import (
    as_numbers,
    best_command,
    extras_lines,
    parameter_names,
    parameter_notes,
    spearman,
    view_json,
)
from azsweep.report.tables import TrialsTable, format_score, hidden_note, short, stop_reasons, trials_table
from azsweep.report.view import SweepView, load_view, metric_curves, param_value, param_values

__all__ = [
    "SweepView",
    "TrialsTable",
    "as_numbers",
    "best_command",
    "extras_lines",
    "format_score",
    "hidden_note",
    "load_view",
    "metric_curves",
    "param_value",
    "param_values",
    "parameter_names",
    "parameter_notes",
    "short",
    "spearman",
    "stop_reasons",
    "trials_table",
    "view_json",
]
