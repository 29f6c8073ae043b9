"""Bayesian sampling benchmark: azsweep bayesian against random, Sobol, Optuna (TPE, multivariate TPE, GP) and Hyperopt.

Every method runs every problem for every seed with the largest budget; the regret at a smaller
budget is that of the same run's first trials (no compared method plans for its budget). Regret is
the best value found minus the problem's optimum (for the tuning task, minus the best value any run
found). Results go to ``--out``: ``runs.jsonl`` (one line per run, appended as runs finish, reused by
``--reuse``), ``results.json`` (the summary and the speed figures) and ``results.md`` (the tables).

Usage::

    python benchmarks/bayesian/run.py                 # 10 seeds, budgets 30 and 60, all problems and methods (~45 min)
    python benchmarks/bayesian/run.py --quick         # 3 seeds, budget 30, the six main problems (~3 min), into results-quick/
    python benchmarks/bayesian/run.py --speed-only    # only the time of one proposal after 200 trials
    python benchmarks/bayesian/run.py --methods azsweep-bayesian --reuse   # rerun one method, keep the others' runs

Threads are limited to one per process (the machine is shared); ``--workers`` runs that many
processes at once (default 1).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from methods import METHODS, run  # noqa: E402
from problems import by_name, problems  # noqa: E402

HERE = Path(__file__).resolve().parent
BAYES, CONCURRENT, RANDOM = "azsweep-bayesian", "azsweep-bayesian-c4", "azsweep-random"
TPES, GP = ("optuna-tpe", "hyperopt-tpe"), "optuna-gp"


def _task(args: tuple[str, str, int, int]) -> dict[str, Any]:
    problem, method, seed, budget = args
    start = time.perf_counter()
    result = run(method, by_name(problem), seed, budget)
    return {
        "problem": problem,
        "method": method,
        "seed": seed,
        "budget": budget,
        "values": result.values,
        "sampler_seconds": round(result.sampler_seconds, 3),
        "wall_seconds": round(time.perf_counter() - start, 3),
    }


def run_all(tasks: list[tuple[str, str, int, int]], workers: int, log: Path) -> None:
    def record(row: dict[str, Any], done: int) -> None:
        with log.open("a") as f:
            f.write(json.dumps(row) + "\n")
        best = min(row["values"])
        print(
            f"[{done}/{len(tasks)}] {row['problem']:16s} {row['method']:20s} seed {row['seed']:2d}: best {best:.6g} "
            f"(sampler {row['sampler_seconds']:.1f} s, wall {row['wall_seconds']:.1f} s)",
            flush=True,
        )

    if workers <= 1:
        for i, task in enumerate(tasks, 1):
            record(_task(task), i)
        return
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for i, row in enumerate(pool.imap_unordered(_task, tasks), 1):
            record(row, i)


def load_runs(log: Path) -> dict[tuple[str, str, int], dict[str, Any]]:
    runs: dict[tuple[str, str, int], dict[str, Any]] = {}
    if log.exists():
        for line in log.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                runs[(row["problem"], row["method"], row["seed"])] = row
    return runs


# --- summary -----------------------------------------------------------------------------------


def summarize(runs: list[dict[str, Any]], budgets: list[int], names: list[str], methods: list[str]) -> dict[str, Any]:
    optimum: dict[str, float] = {}
    for name in names:
        known = by_name(name).optimum
        seen = [min(r["values"]) for r in runs if r["problem"] == name]
        optimum[name] = known if known is not None else (min(seen) if seen else math.nan)
    table: dict[str, Any] = {}
    for budget in budgets:
        for name in names:
            for method in methods:
                regrets = [
                    max(min(r["values"][:budget]) - optimum[name], 0.0)
                    for r in runs
                    if r["problem"] == name and r["method"] == method and len(r["values"]) >= budget
                ]
                if regrets:
                    q25, median, q75 = np.percentile(regrets, [25, 50, 75])
                    table[f"{budget}|{name}|{method}"] = {
                        "median": float(median),
                        "q25": float(q25),
                        "q75": float(q75),
                        "n": len(regrets),
                    }
    return {"optimum": optimum, "regret": table, "goal": goal(table, budgets, names)}


def _median(table: dict[str, Any], budget: int, name: str, method: str) -> float | None:
    cell = table.get(f"{budget}|{name}|{method}")
    return None if cell is None else cell["median"]


def goal(table: dict[str, Any], budgets: list[int], names: list[str]) -> dict[str, Any]:
    """The issue's goal at the largest budget, on the main problems.

    "No worse than GPSampler": a median regret at most GPSampler's plus 1% of random search's
    median regret on that problem (medians that close are a tie at this number of seeds).
    """
    budget = max(budgets)
    main = [n for n in names if by_name(n).main]
    out: dict[str, Any] = {"budget": budget, "problems": {}}
    for name in main:
        b, r, gp, c4 = (_median(table, budget, name, m) for m in (BAYES, RANDOM, GP, CONCURRENT))
        tpes = [_median(table, budget, name, m) for m in TPES]
        if b is None:
            continue
        row: dict[str, Any] = {}
        if all(t is not None for t in tpes):
            row["beats_tpes"] = bool(all(b < t for t in tpes))  # type: ignore[operator]
        if gp is not None and r is not None:
            row["no_worse_than_gp"] = bool(b <= gp + 0.01 * r)
        if c4 is not None and r is not None and r > b:
            row["concurrency_lost_fraction"] = float((c4 - b) / (r - b))
        out["problems"][name] = row
    out["concurrency_lost_fraction_by_budget"] = {}
    for each in budgets:  # the share of the advantage over random search lost with 4 concurrent trials
        lost = {}
        for name in main:
            b, r, c4 = (_median(table, each, name, m) for m in (BAYES, RANDOM, CONCURRENT))
            if None not in (b, r, c4) and r > b:  # type: ignore[operator]
                lost[name] = float((c4 - b) / (r - b))  # type: ignore[operator]
        out["concurrency_lost_fraction_by_budget"][each] = lost
    rows = out["problems"].values()
    out["beats_tpes"] = sum(bool(r.get("beats_tpes")) for r in rows)
    out["no_worse_than_gp"] = sum(bool(r.get("no_worse_than_gp")) for r in rows)
    lost = [r["concurrency_lost_fraction"] for r in rows if "concurrency_lost_fraction" in r]
    out["concurrency_lost_fraction_median"] = float(np.median(lost)) if lost else None
    out["concurrency_lost_fraction_max"] = float(np.max(lost)) if lost else None
    out["of"] = len(out["problems"])
    return out


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 1000 or abs(x) < 0.001:
        return f"{x:.2g}"
    return f"{x:.3g}"


def markdown(summary: dict[str, Any], budgets: list[int], names: list[str], methods: list[str], seeds: int) -> str:
    table = summary["regret"]
    lines = []
    for budget in budgets:
        lines.append(
            f"**Final regret after {budget} trials** — median [25th, 75th percentile] over {seeds} seeds "
            "(lower is better; best median in bold)\n"
        )
        lines.append("| problem | " + " | ".join(methods) + " |")
        lines.append("|---" * (len(methods) + 1) + "|")
        for name in names:
            cells = [table.get(f"{budget}|{name}|{m}") for m in methods]
            medians = [c["median"] for c in cells if c]
            best = min(medians) if medians else None
            row = []
            for c in cells:
                if not c:
                    row.append("–")
                    continue
                text = f"{_fmt(c['median'])} [{_fmt(c['q25'])}, {_fmt(c['q75'])}]"
                row.append(f"**{text}**" if c["median"] == best else text)
            label = name if by_name(name).main else f"{name} *"
            lines.append(f"| {label} | " + " | ".join(row) + " |")
        lines.append("")
    g = summary["goal"]
    if g["problems"]:
        lines.append(
            f"Goal at {g['budget']} trials on the {g['of']} main problems: azsweep bayesian has a lower median "
            f"regret than both Optuna TPE and Hyperopt TPE on **{g['beats_tpes']} of {g['of']}**, and is no "
            f"worse than Optuna's GPSampler on **{g['no_worse_than_gp']} of {g['of']}** (within 1% of random "
            "search's median regret)."
        )
        for each, lost in g["concurrency_lost_fraction_by_budget"].items():
            if lost:
                worst = max(lost, key=lost.get)
                lines.append(
                    f"With 4 concurrent trials, at {each} trials it loses a median "
                    f"{max(float(np.median(list(lost.values()))), 0.0):.0%} of its advantage over random search "
                    f"(most on {worst}: {max(lost[worst], 0.0):.0%})."
                )
        lines.append("")
    svc = summary["optimum"].get("svc-digits", math.nan)
    lines.append(
        "\\* variant with quniform / choice dimensions (not one of the six main problems). "
        f"svc-digits: regret from the best cross-validated error any run found ({svc:.4g})."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds are FIRST_SEED .. FIRST_SEED+SEEDS-1")
    parser.add_argument("--budgets", default="30,60")
    parser.add_argument("--problems", default="all", help="comma-separated names, 'main' or 'all'")
    parser.add_argument("--methods", default="all", help=f"comma-separated from: {', '.join(METHODS)}")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="default: results/ (results-quick/ with --quick)")
    parser.add_argument("--reuse", action="store_true", help="keep runs already in OUT/runs.jsonl; run only the missing ones")
    parser.add_argument("--quick", action="store_true", help="3 seeds, budget 30, main problems")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--speed-only", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.budgets = min(args.seeds, 3), "30"
        if args.problems == "all":
            args.problems = "main"
    args.out = args.out or HERE / ("results-quick" if args.quick else "results")
    budgets = sorted(int(b) for b in args.budgets.split(","))
    all_names = [p.name for p in problems()]
    if args.problems == "all":
        names = all_names
    elif args.problems == "main":
        names = [p.name for p in problems() if p.main]
    else:
        names = args.problems.split(",")
    methods = list(METHODS) if args.methods == "all" else args.methods.split(",")
    for m in methods:
        if m not in METHODS:
            parser.error(f"unknown method {m!r}; known: {', '.join(METHODS)}")
    for n in names:
        by_name(n)
    args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores; "
        f"threads per process: {os.environ['OMP_NUM_THREADS']}",
        flush=True,
    )

    speed = None
    if not args.no_speed:
        from speed import measure

        speed = measure(repeats=3 if args.quick else 7)
        (args.out / "speed.json").write_text(json.dumps(speed, indent=1))
    if args.speed_only:
        return 0

    log = args.out / "runs.jsonl"
    existing = load_runs(log) if args.reuse else {}
    if not args.reuse and log.exists():
        log.unlink()
    budget = max(budgets)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    tasks = [
        (n, m, s, budget)
        for s in seeds
        for n in names
        for m in methods
        if len(existing.get((n, m, s), {}).get("values", [])) < budget
    ]
    if existing:
        print(f"reusing {len(existing)} runs from {log}; {len(tasks)} to run", flush=True)
    run_all(tasks, args.workers, log)

    runs = [r for r in load_runs(log).values() if r["seed"] in seeds and r["problem"] in names]
    shown = [m for m in METHODS if any(r["method"] == m for r in runs)]
    summary = summarize(runs, budgets, names, shown)
    text = markdown(summary, budgets, names, shown, args.seeds)
    if speed is None and (args.out / "speed.json").exists():
        speed = json.loads((args.out / "speed.json").read_text())
    (args.out / "results.md").write_text(text + ("\n" + speed["markdown"] if speed else ""))
    (args.out / "results.json").write_text(
        json.dumps(
            {
                "seeds": list(seeds),
                "budgets": budgets,
                "problems": names,
                "methods": shown,
                "summary": summary,
                "speed": speed,
                "runs": "runs.jsonl",  # one line per run: every trial's value, in proposal order
            },
            indent=1,
        )
    )
    print(text)
    if speed:
        print(speed["markdown"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
