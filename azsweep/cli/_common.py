"""What every command of the ``azsweep`` command line shares: exit codes, consoles, and library errors in flags.

Exit codes: 0 success, 1 the definition or the run failed, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from azsweep.errors import ArgumentError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

Command = Callable[[argparse.Namespace], int]


def usage(message: str, command: str = "azsweep") -> int:
    """A usage error: one line on stderr, exit code 2."""
    print(f"{command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def flag_message(exc: ArgumentError) -> str:
    """A library error about a Python argument, told in this command line's flags."""
    if exc.argument == "inputs":
        return exc.render(arg=f"--input {exc.key}", give=f"--input {exc.key}=PATH")
    if exc.argument == "name":
        return exc.render(arg="--name", give="--resume")
    flag = "--" + exc.argument.replace("_", "-")
    return exc.render(arg=flag, give=flag)


def console(stderr: bool = False) -> Any:
    """A rich console; 140 columns wide when the output is not a terminal (logs, CI), so tables do not fold."""
    from rich.console import Console

    c = Console(stderr=stderr)
    return c if c.is_terminal else Console(stderr=stderr, width=140)
