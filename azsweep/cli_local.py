"""``azsweep run`` and ``azsweep show``: local sweeps from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from azsweep import cli
from azsweep.errors import AzsweepError, DefinitionError


def _add_commands(sub: Any) -> None:
    p = sub.add_parser("run", help="run a sweep locally: real trial processes, tracked in MLflow")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--name", help="the sweep's name (default: a new Azure-style name)")
    p.add_argument("--max-total-trials", type=int, help="local override of limits.max_total_trials")
    p.add_argument("--max-concurrent-trials", type=int, help="local override (also lifts the CPU-count cap)")
    p.add_argument("--input", action="append", default=[], metavar="NAME=PATH_OR_VALUE",
                   help="replace an input (e.g. a remote dataset) with a local path or value")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary instead of tables")

    p = sub.add_parser("show", help="the trials of a local sweep, best first")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true")


cli._EXTENSIONS.append(_add_commands)


def _parse_inputs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise AzsweepError(f"--input {item!r}: expected NAME=PATH_OR_VALUE")
        out[name] = value
    return out


@cli.command("run")
def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from azsweep.report import load_view, trials_table
    from azsweep.runner import SweepRunner, prepare, tracking_uri
    from azsweep.runner._tracking import Tracker

    err = Console(stderr=True)
    try:
        prepared = prepare(args.file, name=args.name, max_total_trials=args.max_total_trials,
                           max_concurrent_trials=args.max_concurrent_trials, inputs=_parse_inputs(args.input))
    except DefinitionError as exc:
        for p in exc.problems:
            print(f"{args.file}: {p}", file=sys.stderr)
        return cli.EXIT_FAILED
    for note in prepared.notes:
        err.print(note, markup=False, highlight=False)
    prepared.write_definition()
    tracker = Tracker(tracking_uri())
    display = _Progress(err, prepared.spec.objective.primary_metric, quiet=args.json)
    runner = SweepRunner(prepared.spec, name=prepared.name, folder=prepared.folder, tracker=tracker,
                         max_concurrent=prepared.max_concurrent, input_overrides=prepared.input_overrides,
                         on_event=display.event)
    import signal

    previous = signal.signal(signal.SIGTERM, lambda *_: runner.cancel("terminated (SIGTERM)"))
    try:
        record = runner.run()
    except KeyboardInterrupt:
        display.stop()
        err.print(f"interrupted: running trials were stopped and recorded as canceled; see: azsweep show {prepared.name}")
        return cli.EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
        display.stop()
    view = load_view(prepared.name, tracker)
    if args.json:
        print(json.dumps(view.to_json(), default=str))
    else:
        Console().print(trials_table(view, limit=20))
        _print_footer(err, view, tracker.uri)
    if record.best_trial is None:
        err.print(f"error: {record.message}", markup=False, highlight=False)
        return cli.EXIT_FAILED
    if record.status == "Canceled" and record.message.startswith("terminated"):
        return cli.EXIT_INTERRUPTED
    return cli.EXIT_OK


def _print_footer(err: Any, view: Any, uri: str) -> None:
    if view.best_trial:
        err.print(f"best trial: {view.best_trial} with {view.primary_metric} = {view.best_score:.6g}", markup=False)
    if view.message:
        err.print(view.message, markup=False, highlight=False)
    err.print(f"tracking store: {uri}   (mlflow ui --backend-store-uri {uri})", markup=False, highlight=False)


@cli.command("show")
def _show(args: argparse.Namespace) -> int:
    from rich.console import Console

    from azsweep.report import load_view, trials_table

    view = load_view(args.name)
    if args.json:
        print(json.dumps(view.to_json(), default=str))
        return cli.EXIT_OK
    Console().print(trials_table(view))
    _print_footer(Console(stderr=True), view, view.tracking_uri)
    return cli.EXIT_OK


class _Progress:
    """A live line (running / completed / failed / best) plus one line per finished trial."""

    def __init__(self, console: Any, metric: str, quiet: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console, self.metric, self.quiet = console, metric, quiet
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=console,
                                 transient=True, disable=quiet)
        self.task: Any = None

    def event(self, kind: str, record: Any, trial: Any) -> None:
        if self.quiet:
            return
        if kind == "started":
            self.console.print(f"sweep {record.name}: experiment {record.experiment_name!r}, {record.algorithm} sampling"
                               + (f" (seed {record.seed})" if record.seed is not None else "")
                               + f", up to {record.max_total_trials} trials, {record.max_concurrent_trials} at once",
                               markup=False, highlight=False)
            self.progress.start()
            self.task = self.progress.add_task(record.name, total=record.max_total_trials, status="")
            return
        if kind == "trial_ended" and trial is not None:
            score = "N/A" if trial.score is None else f"{trial.score:.6g}"
            note = f" ({trial.reason})" if trial.reason else ""
            self.progress.console.print(f"{trial.name}: {trial.status.lower()}, {self.metric} = {score}{note}",
                                        markup=False, highlight=False)
        if self.task is not None:
            counts = {s: sum(t.status == s for t in record.trials) for s in ("Running", "Completed", "Failed", "Canceled")}
            best = "" if record.best_score is None else f" best {record.best_score:.6g}"
            status = " ".join(f"{k.lower()} {v}" for k, v in counts.items() if v) + best
            done = len(record.trials) - counts["Running"]
            self.progress.update(self.task, completed=done, status=status)

    def stop(self) -> None:
        self.progress.stop()
