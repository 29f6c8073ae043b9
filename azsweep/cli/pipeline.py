"""``azsweep run`` and ``azsweep show`` for a pipeline job: its steps, in the order they run."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from azsweep.cli import _common as cli
from azsweep.errors import DefinitionError


def run_pipeline_command(args: argparse.Namespace, inputs: dict[str, str], err: Any) -> int:
    """Run a pipeline in the foreground: a line per step started (and its notes), kept (``--resume``) and ended (a
    failed step with its log), a line per finished trial of a sweep step, then the steps' table; exit 1 unless
    every step completed, 130 when interrupted (Ctrl-C, SIGTERM), with the line that resumes it."""
    from azsweep.runner.pipeline import run_pipeline

    if args.resume and not args.name:
        return cli.usage("--resume needs --name NAME (the pipeline to continue)")
    started: list[str] = []  # the pipeline's name, once its record is saved

    def on_step(kind: str, record: Any, step: Any) -> None:
        if args.json:
            return
        if kind == "step_started":
            line = f"step {step.name} ({step.kind}): running as local job {step.job}"
        elif kind == "step_kept":
            line = f"step {step.name}: {step.status} (kept: local job {step.job})"
        else:
            line = f"step {step.name}: {step.status}" + (f" ({step.message})" if step.message else "")
            if step.status == "Failed" and step.log:
                line += f"; log: {step.log}"
        err.print(line, markup=False, highlight=False)

    def on_event(kind: str, record: Any, trial: Any) -> None:
        if args.json:
            return
        if kind == "started":  # the step's notes: its environment, how its trials reach the store
            for note in record.notes:
                err.print(f"  {note}", markup=False, highlight=False)
        if kind != "trial_ended" or trial is None or record.is_command:
            return
        score = "N/A" if trial.score is None else f"{trial.score:.6g}"
        note = f" ({trial.reason})" if trial.reason else ""
        err.print(
            f"  {trial.name}: {trial.status.lower()}, {record.primary_metric} = {score}{note}", markup=False, highlight=False
        )

    try:
        record = run_pipeline(
            args.file,
            name=args.name,
            inputs=inputs,
            max_total_trials=args.max_total_trials,
            max_concurrent_trials=args.max_concurrent_trials,
            keep_going=args.keep_going,
            environment=args.environment,
            smoke=args.smoke,
            gpus=args.gpus,
            gpus_per_trial=args.gpus_per_trial,
            resume=args.resume,
            on_step=on_step,
            on_event=on_event,
            on_prepared=lambda r: started.append(r.name),
        )
    except DefinitionError as exc:
        for p in exc.problems:
            print(f"{args.file}: {p}", file=sys.stderr)
        return cli.EXIT_FAILED
    except KeyboardInterrupt:
        return _interrupted(args, started[0] if started else None, err)
    if record.interrupted:
        return _interrupted(args, record.name, err)
    if not started:
        err.print(f"pipeline {record.name} has already finished; nothing to resume", markup=False, highlight=False)
    if args.json:
        print(json.dumps(asdict(record), default=str))
    else:
        cli.console().print(steps_table(record))
        line = f"pipeline {record.name}: {record.status}" + (f" ({record.message})" if record.message else "")
        err.print(line, markup=False, highlight=False)
        uri = record.tracking_uri
        err.print(f"tracking store: {uri}   (mlflow ui --backend-store-uri {uri})", markup=False, highlight=False)
    return cli.EXIT_OK if record.status == "Completed" else cli.EXIT_FAILED


def _interrupted(args: argparse.Namespace, name: str | None, err: Any) -> int:
    """Ctrl-C or SIGTERM: what was stopped, and the command that continues the pipeline."""
    if name is None:
        err.print("interrupted before the pipeline started", markup=False, highlight=False)
    else:
        err.print(
            f"interrupted: the running steps were stopped and recorded as canceled; continue with: "
            f"azsweep run {args.file} --name {name} --resume",
            markup=False,
            highlight=False,
        )
    return cli.EXIT_INTERRUPTED


def steps_table(record: Any) -> Any:
    """The steps in run order: kind, local job, status, best trial (a sweep step's), and the outputs' folders."""
    from rich.table import Table

    table = Table(title=f"pipeline {record.name} ({record.status})")
    for column in ("step", "kind", "job", "status", "best trial", "outputs / message"):
        table.add_column(column, overflow="fold")
    for step in record.steps:
        detail = "\n".join(f"{k}: {v}" for k, v in step.outputs.items()) or step.message
        table.add_row(step.name, step.kind, step.job, step.status, step.best_trial or "", detail)
    return table


def show_pipeline(args: argparse.Namespace, record: Any) -> int:
    """``azsweep show PIPELINE``: its steps, then each sweep step's trials (as ``azsweep show <its job>`` lists
    them, at most 20 each)."""
    from azsweep.report import load_view, trials_table

    if args.json:
        print(json.dumps(asdict(record), default=str))
        return cli.EXIT_OK
    console = cli.console()
    console.print(steps_table(record))
    err = cli.console(stderr=True)
    for step in record.steps:
        if step.kind != "sweep" or step.status == "NotStarted":
            continue
        view = load_view(step.job)
        table = trials_table(view, limit=20, all_params=args.all_params)
        console.print(f"step {step.name}: sweep {step.job}, {len(view.trials)} trials", markup=False, highlight=False)
        console.print(table)
        if view.best_trial:
            err.print(f"best trial: {view.best_trial} with {view.primary_metric} = {view.best_score:.6g}", markup=False)
    if record.message:
        err.print(record.message, markup=False, highlight=False)
    return cli.EXIT_OK
