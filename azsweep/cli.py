"""The ``azsweep`` command: a thin ``main(argv) -> int``, testable in-process.

Exit codes: 0 success, 1 the definition or the run failed, 2 usage error, 130 interrupted.
Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from azsweep.errors import ArgumentError, AzsweepError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

Command = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        _COMMANDS[name] = fn
        return fn
    return register


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # usage errors: one line, exit 2
        self.print_usage(sys.stderr)
        print(f"azsweep: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="azsweep", description="Run, validate and submit Azure ML sweep jobs, offline first.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=f"azsweep {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("validate", help="check sweep YAML files the way Azure would")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per problem")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")

    p = sub.add_parser("sample", help="print the first configurations a local run would try")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-n", type=int, default=10, help="how many (default 10)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the file's, else a fresh one)")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")

    for extend in _EXTENSIONS:
        extend(sub)
    return parser


_EXTENSIONS: list[Callable[[Any], None]] = []


def _version() -> str:
    from azsweep import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    _load_extensions()
    args = build_parser().parse_args(argv)
    import logging

    logging.getLogger("mlflow").setLevel(logging.DEBUG if args.debug else logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.DEBUG if args.debug else logging.WARNING)
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("azsweep: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except AzsweepError as exc:
        if args.debug:
            raise
        message = flag_message(exc) if isinstance(exc, ArgumentError) else str(exc)
        print(f"azsweep: error: {message}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # the last line of defence: one line unless --debug
        if args.debug:
            raise
        print(f"azsweep: error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILED


def flag_message(exc: ArgumentError) -> str:
    """A library error about a Python argument, told in this command line's flags."""
    if exc.argument == "inputs":
        return exc.render(arg=f"--input {exc.key}", give=f"--input {exc.key}=PATH")
    if exc.argument == "name":
        return exc.render(arg="--name", give="--resume")
    flag = "--" + exc.argument.replace("_", "-")
    return exc.render(arg=flag, give=flag)


def _load_extensions() -> None:
    """Import the modules that register further commands (run, show, ...), when present."""
    import importlib

    for module in ("azsweep.cli_local", "azsweep.cli_submit", "azsweep.cli_plot"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


@command("validate")
def _validate(args: argparse.Namespace) -> int:
    from azsweep.definition import load_spec

    failed = False
    for file in args.files:
        problems = load_spec(file)[1].problems
        for p in problems:
            if args.quiet and p.severity != "error":
                continue
            if args.json:
                print(json.dumps({"file": file, "severity": p.severity, "path": p.path, "message": p.message}))
            else:
                print(f"{file}: {p}")
        errors = sum(p.severity == "error" for p in problems)
        failed = failed or errors > 0
        if not args.json and not args.quiet:
            warnings = len(problems) - errors
            verdict = "invalid" if errors else "ok"
            print(f"{file}: {verdict} ({errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)})",
                  file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


@command("sample")
def _sample(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from azsweep.definition import require_spec
    from azsweep.runner.command import format_value
    from azsweep.samplers import make_sampler

    if args.n < 0:
        print("azsweep: error: -n must be >= 0", file=sys.stderr)
        return EXIT_USAGE
    spec, _ = require_spec(args.file)
    algorithm = spec.algorithm
    if args.seed is not None:
        algorithm = replace(algorithm, seed=args.seed)
    sampler = make_sampler(algorithm, spec.search_space)
    configs = sampler.ask([], args.n) if args.n else []
    if args.json:
        for config in configs:
            print(json.dumps(config))
        return EXIT_OK
    from rich.table import Table

    label = spec.algorithm.kind + (f", seed {sampler.seed}" if spec.algorithm.kind != "grid" else "")
    if sampler.size is not None:
        label += f", {sampler.size} combinations"
    table = Table(title=f"{args.file}: first {len(configs)} configurations ({label})")
    table.add_column("#", justify="right")
    for name in spec.search_space.names:
        table.add_column(name, justify="right")
    for i, config in enumerate(configs):
        table.add_row(str(i), *(format_value(config[name]) for name in spec.search_space.names))
    console().print(table)
    return EXIT_OK


def console(stderr: bool = False) -> Any:
    """A rich console; 140 columns wide when the output is not a terminal (logs, CI), so tables do not fold."""
    from rich.console import Console

    c = Console(stderr=stderr)
    return c if c.is_terminal else Console(stderr=stderr, width=140)


if __name__ == "__main__":  # pragma: no cover - ``python -m azsweep.cli``: use the registered module
    from azsweep.cli import main as registered_main

    sys.exit(registered_main())
