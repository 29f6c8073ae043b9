"""The ``azsweep`` command: a thin ``main(argv) -> int``, testable in-process.

Every command is in the table below, one module per group: ``check`` (validate, sample), ``local``
(run, show, replay), ``plot``, ``submit``, ``env`` (the cache of built environments). Exit codes: 0 success,
1 the definition or the run failed, 2 usage error, 130 interrupted. Tracebacks only with ``--debug``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from azsweep.cli import check, env, local, plot, submit
from azsweep.cli._common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Command, flag_message
from azsweep.errors import ArgumentError, AzsweepError

__all__ = ["COMMANDS", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

# name -> what runs it; the parsers are added by each module's ``add_parsers``, in this order
COMMANDS: dict[str, Command] = {
    "validate": check.validate,
    "sample": check.sample,
    "run": local.run,
    "show": local.show,
    "replay": local.replay,
    "submit": submit.submit,
    "plot": plot.plot,
    "env": env.env,
}
PARSERS: tuple[Callable[[Any], None], ...] = (
    check.add_parsers,
    local.add_parsers,
    submit.add_parsers,
    plot.add_parsers,
    env.add_parsers,
)


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
    for add_parsers in PARSERS:
        add_parsers(sub)
    return parser


def _version() -> str:
    from azsweep import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command not in ("validate", "sample"):  # the commands that use MLflow: its telemetry off, here and below
        import os

        from azsweep.runner.tracking import TELEMETRY_OFF

        os.environ.update(TELEMETRY_OFF)
    import logging

    logging.getLogger("mlflow").setLevel(logging.DEBUG if args.debug else logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.DEBUG if args.debug else logging.WARNING)
    # azure-ai-ml's "This is an experimental class" lines, printed when it loads a command job's schema
    logging.getLogger("azure.ai.ml._utils._experimental").setLevel(logging.DEBUG if args.debug else logging.ERROR)
    try:
        return COMMANDS[args.command](args)
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
