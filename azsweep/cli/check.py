"""``azsweep validate`` and ``azsweep sample``: check sweep files, and show the configurations a run would try."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from azsweep.cli._common import EXIT_FAILED, EXIT_OK, console, usage


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("validate", help="check sweep YAML files the way Azure would")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per problem")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")

    p = sub.add_parser("sample", help="print the first configurations a local run would try")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-n", type=int, default=10, help="how many (default 10)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the file's, else a fresh one)")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")


def validate(args: argparse.Namespace) -> int:
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
            print(
                f"{file}: {verdict} ({errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)})",
                file=sys.stderr,
            )
    return EXIT_FAILED if failed else EXIT_OK


def sample(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from azsweep.definition import require_spec
    from azsweep.runner.command import format_value
    from azsweep.samplers import make_sampler

    if args.n < 0:
        return usage("-n must be >= 0")
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
