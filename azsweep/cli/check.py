"""``azsweep validate`` and ``azsweep sample``: check job files and folders, and show the configurations a run would try."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from azsweep.cli._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, console, usage


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "validate",
        help="check Azure ML job files (sweep and command jobs) the way Azure would",
        description="Check job YAML files, and the *.yml / *.yaml job files under folders. Exit 0: no error "
        "(warnings and notes allowed); 1: an error; 2: a usage error (a path that does not exist).",
    )
    p.add_argument("files", nargs="+", metavar="PATH", help="a job file, or a folder searched recursively")
    p.add_argument(
        "--format",
        choices=("text", "github", "json"),
        default="text",
        help="text: FILE:LINE:COL: severity: path: message (default); github: GitHub Actions annotations; "
        "json: one object per file",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per problem (JSON lines), no summary")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only, no summary")

    p = sub.add_parser("sample", help="print the first configurations a local run would try")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-n", type=int, default=10, help="how many (default 10)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the file's, else a fresh one)")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")


def validate(args: argparse.Namespace) -> int:
    import logging

    from azsweep.validation import check_paths, format_github, format_json, format_text, summary

    # azure-ai-ml's "This is an experimental field / class" lines are not findings: keep them out of the output
    # (and its other warnings, e.g. on anonymous asset names): azure-ai-ml's refusals arrive as exceptions
    for logger in ("azure.ai.ml", "azure.ai.ml._schema.core.fields", "azure.ai.ml._utils._experimental"):
        logging.getLogger(logger).setLevel(logging.DEBUG if getattr(args, "debug", False) else logging.ERROR)
    reports, missing = check_paths(args.files)
    if missing:
        for path in missing:
            print(f"azsweep validate: error: {path}: no such file or folder", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        for report in reports:
            for f in report.findings:
                if args.quiet and f.severity != "error":
                    continue
                problem = {"file": report.file, "severity": f.severity, "path": f.path, "message": f.message}
                print(json.dumps({**problem, "line": f.line, "column": f.column}))
    else:
        render = {"text": format_text, "github": format_github, "json": format_json}[args.format]
        for line in render(reports, errors_only=args.quiet):
            print(line)
        if not args.quiet:
            text = summary(reports)
            print(json.dumps({"summary": text}) if args.format == "json" else text)
    return EXIT_FAILED if any(r.errors for r in reports) else EXIT_OK


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
