"""``azsweep submit``: check a sweep, then submit it to Azure ML through azure-ai-ml, or show offline what it would send."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from azsweep.cli import _common as cli
from azsweep.errors import DefinitionError, Problem


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("submit", help="check a sweep, then submit it to an Azure ML workspace (--dry-run: show the request)")
    p.add_argument("file", nargs="?", metavar="FILE", help="a CLI v2 sweep YAML (type: sweep)")
    p.add_argument("--from-local", metavar="NAME", help="submit the definition the local sweep NAME ran")
    p.add_argument(
        "--keep-local-overrides",
        action="store_true",
        help="with --from-local: also submit the local run's --max-total-trials / --input / smoke limits",
    )
    p.add_argument("--subscription", metavar="ID", help="subscription id (default: from config.json)")
    p.add_argument("-g", "--resource-group", metavar="NAME", help="resource group (default: from config.json)")
    p.add_argument(
        "-w", "--workspace", "--workspace-name", dest="workspace", metavar="NAME", help="workspace (default: from config.json)"
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="extend",
        nargs="+",
        default=[],
        metavar="PATH=VALUE",
        help="override a field, as az ml job create --set does (e.g. limits.max_total_trials=50)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="send nothing: print the check and the exact request azure-ai-ml would send (no credentials)",
    )
    p.add_argument("--stream", action="store_true", help="wait for the sweep and print its log, like az ml job stream")
    p.add_argument("--force", action="store_true", help="skip azsweep's checks (azure-ai-ml's own still apply)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def _usage(message: str) -> int:
    return cli.usage(message, "azsweep submit")


def submit(args: argparse.Namespace) -> int:
    if not args.file and not args.from_local and any("=" not in item for item in args.overrides):
        return _usage("--set takes PATH=VALUE items: put FILE before --set")
    if bool(args.file) == bool(args.from_local):
        return _usage("give a FILE or --from-local NAME (one of them)")
    if args.keep_local_overrides and not args.from_local:
        return _usage("--keep-local-overrides goes with --from-local")
    if args.dry_run and args.stream:
        return _usage("--stream needs a real submission (drop --dry-run)")
    _quiet_azure_logging(args.debug)
    from azsweep.submission import bridge
    from azsweep.submission.dry_run import dry_run
    from azsweep.submission.from_local import from_local

    overrides = bridge.parse_set(args.overrides)
    workspace = {
        "subscription_id": args.subscription,
        "resource_group_name": args.resource_group,
        "workspace_name": args.workspace,
    }
    job: Any = args.file
    label = args.file
    if args.from_local:
        local = from_local(args.from_local, keep_local_overrides=args.keep_local_overrides)
        for note in local.notes:
            print(note, file=sys.stderr)
        job = local.job
        label = job if isinstance(job, str) else f"local sweep {args.from_local}"
        if overrides and not isinstance(job, str):
            print(
                f"azsweep: error: --set needs the sweep's YAML file; {label} is rebuilt from its record (change the "
                "definition and run it again, or submit the file)",
                file=sys.stderr,
            )
            return cli.EXIT_FAILED
        overrides = local.params_override + overrides
    try:
        if args.dry_run:
            result = dry_run(job, force=args.force, params_override=overrides, **workspace)
            return _print_dry_run(label, result, args.json, checked=not args.force)
        submission = bridge.load_submission(job, params_override=overrides, force=args.force)
    except DefinitionError as exc:
        return _print_invalid(label, exc.problems, args.json)
    _print_check(label, submission.problems, submission.checked, args.json)
    ws = bridge.resolve_workspace(**workspace)
    client = bridge.build_client(ws)
    created = bridge.send(submission, client)
    name, status = created.name, _status(created)
    url = getattr(created, "studio_url", None)
    if args.json and not args.stream:
        print(json.dumps({"name": name, "status": status, "studio_url": url, "workspace": ws.workspace_name}))
        return cli.EXIT_OK
    print(f"submitted {name} to {ws}: {status}", file=sys.stderr if args.json else sys.stdout)
    if url:
        print(f"studio: {url}", file=sys.stderr if args.json else sys.stdout)
    if not args.stream:
        return cli.EXIT_OK
    print(f"streaming {name}; Ctrl-C stops watching (the sweep keeps running on Azure)", file=sys.stderr)
    final = bridge.stream(client, name)
    status = _status(final)
    if args.json:
        print(json.dumps({"name": name, "status": status, "studio_url": url, "workspace": ws.workspace_name}))
    else:
        print(f"{name}: {status}")
    return cli.EXIT_OK if status == "Completed" else cli.EXIT_FAILED


def _status(job: Any) -> str:
    status = getattr(job, "status", None)
    return str(getattr(status, "value", status))


def _quiet_azure_logging(debug: bool) -> None:
    """azure-identity logs each failed sign-in attempt as a warning; the one-line error says it all."""
    import logging

    if not debug:
        logging.getLogger("azure.identity").setLevel(logging.ERROR)


def _print_invalid(label: str, problems: list[Problem], as_json: bool) -> int:
    if as_json:
        print(json.dumps({"source": label, "valid": False, "problems": [vars(p) for p in problems]}))
    for p in problems:
        print(f"{label}: {p}", file=sys.stderr)
    errors = sum(p.severity == "error" for p in problems)
    print(f"{label}: invalid ({errors} error{'s' * (errors != 1)}): nothing was sent", file=sys.stderr)
    return cli.EXIT_FAILED


def _print_check(label: str, problems: list[Problem], checked: bool, as_json: bool) -> None:
    for p in problems:
        print(f"{label}: {p}", file=sys.stderr)
    if not checked:
        print(f"{label}: azsweep's checks skipped (--force)", file=sys.stderr)
        return
    warnings = len(problems)
    print(f"{label}: ok ({warnings} warning{'s' * (warnings != 1)})", file=sys.stderr)


def _print_dry_run(label: str, result: Any, as_json: bool, checked: bool) -> int:
    _print_check(label, result.problems, checked, as_json)
    if as_json:
        print(
            json.dumps(
                {
                    "source": label,
                    "valid": True,
                    "problems": [vars(p) for p in result.problems],
                    "exact": result.exact,
                    "method": result.method,
                    "url": result.url,
                    "body": result.body,
                    "notes": result.notes,
                }
            )
        )
        return cli.EXIT_OK
    print(
        "dry run: nothing was sent; this is the request azure-ai-ml's create_or_update built, answered offline", file=sys.stderr
    )
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"{result.method} {result.url}")
    print(json.dumps(result.body, indent=2))
    return cli.EXIT_OK
