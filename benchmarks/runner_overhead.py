"""Local runner speed: schedule efficiency, per-trial overhead, and metric logging under concurrency.

Prints ratios measured in this run (the machine is shared and noisy; nothing here asserts a time).

    python benchmarks/runner_overhead.py [--trial-seconds 1.0]

1. 16 trials that each take a known time (``sleep T`` between two time stamps the trial writes, so T is
   measured per trial), each in its own environment as every trial runs, at 4 concurrent: the wall time
   of the sweep against the ideal schedule ``ceil(16 / 4) * T_trial`` (target <= 1.10 for T = 1 s).
2. azsweep's own per-trial cost: MLflow bookkeeping (child run, params, final status) and launch.
3. 8 concurrent trials that each log 200 values with ``mlflow.log_metric``: values counted in the
   store (none may be lost) and wall time, against one trial logging all 1,600 values alone.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml


def _sweep(folder: Path, command: str, total: int, concurrent: int, script: str = "") -> Path:
    src = folder / "src"
    src.mkdir(parents=True, exist_ok=True)
    (src / "log.py").write_text(script)
    doc = {
        "type": "sweep",
        "experiment_name": folder.name,
        "trial": {"code": "src", "command": command, "environment": "azureml:env@latest"},
        "sampling_algorithm": {"type": "random", "seed": 1},
        "search_space": {"x": {"type": "uniform", "min_value": 0, "max_value": 1}},
        "objective": {"goal": "minimize", "primary_metric": "loss"},
        "limits": {"max_total_trials": total, "max_concurrent_trials": concurrent},
    }
    path = folder / "sweep.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _run(path: Path, name: str, home: Path):  # type: ignore[no-untyped-def]
    from azsweep.runner import Settings, prepare, run_prepared

    settings = Settings(home=home, tracking_uri=os.environ["MLFLOW_TRACKING_URI"])
    prepared = prepare(path, settings=settings, name=name, max_concurrent_trials=prepare_concurrency(path))
    started = time.perf_counter()
    record, runner = run_prepared(prepared, signals={})
    return record, time.perf_counter() - started, runner


def prepare_concurrency(path: Path) -> int:
    """The sweep's own max_concurrent_trials (above this machine's CPU count too: the trials only sleep)."""
    return int(yaml.safe_load(path.read_text())["limits"]["max_concurrent_trials"])


def schedule(home: Path, trial_seconds: float) -> None:
    from azsweep.runner import tracking as _tracking

    timings: dict[str, list[float]] = {"start_child": [], "finish": [], "metric_values": []}
    for method in timings:
        original = getattr(_tracking.Tracker, method)

        def timed(self, *a, _original=original, _name=method, **k):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            try:
                return _original(self, *a, **k)
            finally:
                timings[_name].append(time.perf_counter() - t)

        setattr(_tracking.Tracker, method, timed)

    folder = home / "schedule"
    stamps = folder / "stamps"
    stamps.mkdir(parents=True)
    # The trial: stamps its start and end, sleeps T. (No Python start-up inside, so T is known.)
    command = (
        f"echo $(date +%s.%N) > {stamps}/$AZUREML_RUN_ID.start; sleep {trial_seconds}; "
        f"echo $(date +%s.%N) > {stamps}/$AZUREML_RUN_ID.end"
    )
    path = _sweep(folder, command, total=16, concurrent=4)
    record, wall, _ = _run(path, "schedule", home)
    durations = []
    for t in record.trials:
        start = float((stamps / f"{t.name}.start").read_text())
        end = float((stamps / f"{t.name}.end").read_text())
        durations.append(end - start)
    ideal = math.ceil(16 / 4) * statistics.mean(durations)
    print(f"1. schedule: 16 trials x {statistics.mean(durations):.2f} s, 4 concurrent")
    print(
        f"   sweep wall time {wall:.2f} s (incl. parent-run set-up), ideal schedule {ideal:.2f} s"
        f" -> ratio {wall / ideal:.3f} (target <= 1.10)"
    )
    per_trial = (wall - ideal) * 4 / 16
    print(f"   azsweep overhead per trial slot: {per_trial * 1000:.0f} ms")
    for name, values in timings.items():
        if values:
            print(f"2. {name:14s} median {statistics.median(values) * 1000:6.1f} ms  (n={len(values)})")


LOGGER = """
import sys, mlflow
n = int(sys.argv[1])
for i in range(n):
    mlflow.log_metric("loss", float(i), step=i)
"""


def logging_load(home: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    folder = home / "log8"
    path = _sweep(folder, "python log.py 200 # ${{search_space.x}}", total=8, concurrent=8, script=LOGGER)
    record, wall8, _ = _run(path, "log8", home)
    counts = [len(client.get_metric_history(t.run_id, "loss")) for t in record.trials]
    failed = [t.name for t in record.trials if t.status != "Completed"]
    folder1 = home / "log1"
    path1 = _sweep(folder1, "python log.py 1600 # ${{search_space.x}}", total=1, concurrent=1, script=LOGGER)
    record1, wall1, _ = _run(path1, "log1", home)
    count1 = len(client.get_metric_history(record1.trials[0].run_id, "loss"))
    print(
        f"3. 8 concurrent trials x 200 log_metric: {sum(counts)} of 1600 values in the store, "
        f"failed trials: {failed or 'none'}, wall {wall8:.1f} s"
    )
    print(
        f"   1 trial x 1600 log_metric alone: {count1} of 1600 values, wall {wall1:.1f} s"
        f" -> concurrent/alone wall ratio {wall8 / wall1:.2f}"
    )
    print(
        f"   per log_metric call: {wall1 / 1600 * 1000:.1f} ms alone (incl. start-up), "
        f"{wall8 / 1600 * 1000:.1f} ms aggregate with 8 writers"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trial-seconds", type=float, default=1.0)
    parser.add_argument("--skip-logging", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["AZSWEEP_HOME"] = str(home)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{home / 'mlflow.db'}"
        from azsweep.runner import Tracker

        Tracker().experiment_id("warmup")  # create the schema outside the measurements
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, store {os.environ['MLFLOW_TRACKING_URI']}")
        schedule(home, args.trial_seconds)
        if not args.skip_logging:
            logging_load(home)


if __name__ == "__main__":
    main()
