"""``azsweep run`` and ``azsweep show``: local sweeps from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from azsweep.cli import _common as cli
from azsweep.errors import AzsweepError, DefinitionError


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("run", help="run a sweep (or a command job) locally: real processes, tracked in MLflow")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--name", help="the sweep's name (default: a new Azure-style name)")
    p.add_argument("--max-total-trials", type=int, help="local override of limits.max_total_trials")
    p.add_argument("--max-concurrent-trials", type=int, help="local override (also lifts the CPU-count cap)")
    p.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=PATH_OR_VALUE",
        help="replace an input (e.g. a remote dataset) with a local path or value",
    )
    p.add_argument("--json", action="store_true", help="print a machine-readable summary instead of tables")
    p.add_argument("--all-params", action="store_true", help="the final table: every param logged, not only the swept ones")
    p.add_argument(
        "--resume", action="store_true", help="continue the interrupted sweep --name NAME (start it when it does not exist yet)"
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help="a short check run (2 trials, short timeouts) that fails when a trial crashes or never logs the primary metric",
    )
    p.add_argument(
        "--environment",
        choices=["current", "build"],
        default="current",
        help="what the trials run on, each in its own overlay: this Python environment (current), or one built "
        "from the job's declared conda file, cached (build)",
    )
    p.add_argument(
        "--gpus",
        metavar="LIST|N|none",
        help="the GPUs to share out among trials (default: CUDA_VISIBLE_DEVICES, else those nvidia-smi lists)",
    )
    p.add_argument(
        "--gpus-per-trial",
        type=float,
        metavar="N",
        help="GPUs each trial gets: whole GPUs, or 1/k (0.5: two trials per GPU); default 1 per process when the "
        "job asks for GPU compute (a compute named *gpu*, a GPU instance_type), else 0",
    )
    p.add_argument(
        "--keep-going",
        action="store_true",
        help="run on when every trial of the first wave (the first max_concurrent_trials) failed; "
        "by default the sweep then stops, Failed, as on Azure",
    )

    p = sub.add_parser("show", help="the trials of a local sweep, best first")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--json", action="store_true")
    p.add_argument("--all-params", action="store_true", help="every param the trials logged, not only the swept ones")

    p = sub.add_parser("replay", help="what an early-termination policy would have stopped in a recorded sweep")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--policy", choices=["bandit", "median_stopping", "truncation_selection"])
    p.add_argument("--policy-file", metavar="YAML", help="a YAML file holding an early_termination block")
    p.add_argument("--slack-factor", type=float)
    p.add_argument("--slack-amount", type=float)
    p.add_argument("--truncation-percentage", type=int)
    p.add_argument("--evaluation-interval", type=int, default=1)
    p.add_argument("--delay-evaluation", type=int, default=0)
    p.add_argument("--json", action="store_true")


def _parse_inputs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise AzsweepError(f"--input {item!r}: expected NAME=PATH_OR_VALUE")
        out[name] = value
    return out


def run(args: argparse.Namespace) -> int:
    from azsweep.runner import PreparedCommand, Settings, prepare, run_prepared

    err = cli.console(stderr=True)
    err.soft_wrap = True  # a failed trial's log path stays on one line, as printed
    from azsweep.pipeline_definition import is_pipeline

    if is_pipeline(args.file):
        from azsweep.cli.pipeline import run_pipeline_command

        return run_pipeline_command(args, _parse_inputs(args.input), err)
    if args.resume and not args.name:
        return cli.usage("--resume needs --name NAME (the sweep to continue)")
    settings = Settings.resolve()
    try:
        prepared = prepare(
            args.file,
            settings=settings,
            name=args.name,
            max_total_trials=args.max_total_trials,
            max_concurrent_trials=args.max_concurrent_trials,
            inputs=_parse_inputs(args.input),
            resume=args.resume,
            smoke=args.smoke,
            keep_going=args.keep_going,
            environment=args.environment,
            gpus=args.gpus,
            gpus_per_trial=args.gpus_per_trial,
        )
    except DefinitionError as exc:
        for p in exc.problems:
            print(f"{args.file}: {p}", file=sys.stderr)
        return cli.EXIT_FAILED
    for note in prepared.notes + prepared.base_environment()[1]:  # a build runs here, once per environment
        err.print(note, markup=False, highlight=False)
    if isinstance(prepared, PreparedCommand):
        return _run_command(args, prepared, err)
    if prepared.finished:
        err.print(f"sweep {prepared.name} has already finished; nothing to resume", markup=False)
        return _report(args, prepared.name, settings, prepared.tracking_uri, err)
    display = _Progress(err, prepared.spec.objective.primary_metric, quiet=args.json)
    try:
        record, runner = run_prepared(prepared, on_event=display.event)
    except KeyboardInterrupt:
        display.stop()
        err.print(
            f"interrupted: running trials were stopped and recorded as canceled; continue with: "
            f"azsweep run {args.file} --name {prepared.name} --resume",
            markup=False,
            highlight=False,
        )
        return cli.EXIT_INTERRUPTED
    finally:
        display.stop()
    if record.status == "Canceled" and runner.resumable:
        return cli.EXIT_INTERRUPTED
    code = _report(args, prepared.name, settings, prepared.tracking_uri, err)
    if args.smoke:
        from azsweep.runner.smoke import verdict

        passed, lines = verdict(args.file, record, prepared.spec, runner.tracker.metric_names)
        for line in lines:
            print(line, file=sys.stderr)
        return cli.EXIT_OK if passed else cli.EXIT_FAILED
    return cli.EXIT_FAILED if record.status == "Failed" else code


def _run_command(args: argparse.Namespace, prepared: Any, err: Any) -> int:
    """A command job in the foreground: its log printed as it grows, then how it ended (exit 1 unless Completed)."""
    import threading

    from azsweep.runner import run_prepared
    from azsweep.runner.process import LogFollower

    folder = prepared.folder.trial(prepared.name)
    follower = LogFollower(folder.log)
    done = threading.Event()

    def follow() -> None:
        while not done.wait(0.2):
            if not args.json:
                sys.stdout.write(follower.read_new())
                sys.stdout.flush()

    if not args.json:
        err.print(f"command job {prepared.name}: log {folder.log}", markup=False, highlight=False)
    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        record, _ = run_prepared(prepared)
    except KeyboardInterrupt:
        err.print(f"interrupted: command job {prepared.name} was stopped and recorded as canceled", markup=False)
        return cli.EXIT_INTERRUPTED
    finally:
        done.set()
        thread.join()
    job = record.trials[0]
    if args.json:
        summary: dict[str, Any] = {"name": record.name, "type": "command", "status": record.status.value}
        summary.update(message=record.message, run_id=job.run_id, exit_code=job.exit_code, log=str(job.log))
        summary["tracking_uri"] = record.tracking_uri
        print(json.dumps(summary))
    else:
        sys.stdout.write(follower.read_rest())
        line = f"command job {record.name}: {record.status.value}" + (f" ({record.message})" if record.message else "")
        err.print(line, markup=False, highlight=False)
        uri = record.tracking_uri
        err.print(f"tracking store: {uri}   (mlflow ui --backend-store-uri {uri})", markup=False, highlight=False)
    return cli.EXIT_OK if record.status.value == "Completed" else cli.EXIT_FAILED


def _report(args: argparse.Namespace, name: str, settings: Any, uri: str, err: Any) -> int:
    """The end of ``run``: the table (or JSON) and the exit code, from the recorded sweep."""
    from azsweep.report import load_view, trials_table, view_json
    from azsweep.runner import Tracker

    view = load_view(name, Tracker.for_settings(settings, uri), settings=settings)
    failing = (view.best_trial is None or view.status == "Failed") and not args.smoke
    if args.json:
        print(json.dumps(view_json(view, all_params=args.all_params), default=str))
    else:
        cli.console().print(trials_table(view, limit=20, all_params=args.all_params))
        _print_footer(err, view, uri, message=not failing)  # a failure's message is the error line below
    if failing:
        err.print(
            f"error: {view.message or 'no trial logged the primary metric ' + repr(view.primary_metric)}",
            markup=False,
            highlight=False,
        )
        return cli.EXIT_FAILED
    return cli.EXIT_OK


def _print_footer(err: Any, view: Any, uri: str, *, message: bool = True) -> None:
    from azsweep.report import stop_reasons

    for line in stop_reasons(view):
        err.print(line, markup=False, highlight=False)
    if view.best_trial:
        err.print(f"best trial: {view.best_trial} with {view.primary_metric} = {view.best_score:.6g}", markup=False)
    if view.message and message:
        err.print(view.message, markup=False, highlight=False)
    err.print(f"tracking store: {uri}   (mlflow ui --backend-store-uri {uri})", markup=False, highlight=False)


def show(args: argparse.Namespace) -> int:

    from azsweep.report import extras_lines, load_view, trials_table, view_json
    from azsweep.runner.pipeline import load_pipeline

    pipeline = load_pipeline(args.name)
    if pipeline is not None:
        from azsweep.cli.pipeline import show_pipeline

        return show_pipeline(args, pipeline)
    view = load_view(args.name)
    if args.json:
        print(json.dumps(view_json(view, all_params=args.all_params), default=str))
        return cli.EXIT_OK
    cli.console().print(trials_table(view, all_params=args.all_params))
    for line in extras_lines(view, all_params=args.all_params):  # the best command line (plain print) and the notes
        print(line)
    _print_footer(cli.console(stderr=True), view, view.tracking_uri)
    return cli.EXIT_OK


class _Progress:
    """A live line (running / completed / failed / best) plus one line per finished trial."""

    def __init__(self, console: Any, metric: str, quiet: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console, self.metric, self.quiet = console, metric, quiet
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=quiet,
        )
        self.task: Any = None

    def event(self, kind: str, record: Any, trial: Any) -> None:
        if self.quiet:
            return
        if kind == "started":
            self.console.print(
                f"sweep {record.name}: experiment {record.experiment_name!r}, {record.algorithm} sampling"
                + (f" (seed {record.seed})" if record.seed is not None else "")
                + f", up to {record.max_total_trials} trials, {record.max_concurrent_trials} at once",
                markup=False,
                highlight=False,
            )
            self.progress.start()
            self.task = self.progress.add_task(record.name, total=record.max_total_trials, status="")
            return
        if kind == "note":
            self.progress.console.print(record.notes[-1], markup=False, highlight=False)
        if kind == "trial_ended" and trial is not None:
            score = "N/A" if trial.score is None else f"{trial.score:.6g}"
            note = f" ({trial.reason})" if trial.reason else ""
            self.progress.console.print(
                f"{trial.name}: {trial.status.lower()}, {self.metric} = {score}{note}", markup=False, highlight=False
            )
        if self.task is not None:
            counts = {s: sum(t.status == s for t in record.trials) for s in ("Running", "Completed", "Failed", "Canceled")}
            best = "" if record.best_score is None else f" best {record.best_score:.6g}"
            status = " ".join(f"{k.lower()} {v}" for k, v in counts.items() if v) + best
            done = len(record.trials) - counts["Running"]
            self.progress.update(self.task, completed=done, status=status)

    def stop(self) -> None:
        self.progress.stop()


def replay(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from rich.table import Table

    from azsweep.policies import make_policy, replay_curves
    from azsweep.report.replay import policy_from, policy_from_file, recorded_trials

    if bool(args.policy) == bool(args.policy_file):
        return cli.usage("give exactly one of --policy or --policy-file")
    try:
        if args.policy_file:
            config = policy_from_file(args.policy_file)
        else:
            config = policy_from(
                {
                    "type": args.policy,
                    "slack_factor": args.slack_factor,
                    "slack_amount": args.slack_amount,
                    "truncation_percentage": args.truncation_percentage,
                    "evaluation_interval": args.evaluation_interval,
                    "delay_evaluation": args.delay_evaluation,
                }
            )
    except DefinitionError as exc:
        for p in exc.problems:
            print(f"azsweep: {p}", file=sys.stderr)
        return cli.EXIT_FAILED
    trials, metric, goal = recorded_trials(args.name)
    result = replay_curves(trials, make_policy(config, maximize=goal == "maximize"))
    if args.json:
        data = asdict(result)
        data.update(share_saved=result.share_saved, sweep=args.name, primary_metric=metric, goal=goal)
        print(json.dumps(data))
        return cli.EXIT_OK
    out = cli.console()
    table = Table(title=f"{args.name}: {result.policy} on {goal} {metric}", title_justify="left")
    for column in ("trial", "stopped at", "saved", "reason"):
        table.add_column(column, overflow="fold")
    lengths = {t.name: len(t.values) for t in trials}
    for d in result.decisions:
        table.add_row(d.trial, f"interval {d.interval} of {lengths[d.trial]}", str(d.intervals_saved), d.reason)
    out.print(table)
    print(
        f"{len(result.decisions)} of {len(trials)} trials stopped; {result.saved_intervals} of "
        f"{result.total_intervals} intervals saved ({result.share_saved:.0%})"
    )
    if result.best_trial is not None:
        verdict = "survives" if result.best_survived else "would have been STOPPED"
        print(
            f"best trial {result.best_trial} ({metric} = {result.best_score:.6g}) {verdict}; with the policy the sweep "
            f"would report {result.best_trial_with_policy} ({result.best_score_with_policy:.6g})"
        )
    return cli.EXIT_OK
