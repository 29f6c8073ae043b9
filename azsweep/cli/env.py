"""``azsweep env list`` and ``azsweep env prune``: the cache of environments ``--environment build`` makes."""

from __future__ import annotations

import argparse
import datetime
from typing import Any

from azsweep.cli import _common as cli


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("env", help="the environments built for --environment build: list or prune the cache")
    actions = p.add_subparsers(dest="env_action", metavar="ACTION")
    actions.required = True
    actions.add_parser("list", help="each cached environment: key, what it was built from, size, when")
    prune = actions.add_parser("prune", help="remove cached environments (every one, or those named)")
    prune.add_argument("keys", nargs="*", metavar="KEY", help="the environments to remove (default: all)")


def env(args: argparse.Namespace) -> int:
    from azsweep.runner import environments

    cache = environments.cache_root()
    if args.env_action == "prune":
        removed = environments.prune(args.keys or None, cache)
        unknown = sorted(set(args.keys) - {p.name for p in removed})
        for path in removed:
            print(f"removed {path}")
        if unknown:
            return cli.usage(f"no cached environment named {', '.join(unknown)} in {cache}")
        return cli.EXIT_OK
    print(f"cache: {cache} (set AZSWEEP_ENV_CACHE to move it)")
    for root, info, size in environments.cached(cache):
        if info is None:
            print(f"{root.name}  (unfinished build, {size / 1e6:.1f} MB; rebuilt on next use)")
            continue
        when = datetime.datetime.fromtimestamp(info.created).strftime("%Y-%m-%d %H:%M")
        print(f"{root.name}  {info.label}  python {info.python}  {size / 1e6:.1f} MB  built {when}")
    return cli.EXIT_OK
