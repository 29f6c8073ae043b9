"""Early termination over long curves: the run loop judging 3 trials x 100,000 values with median stopping,
against the same sweep without a policy, measured in the same run (nothing here asserts a time).

    python benchmarks/policy_long_curves.py [--values 100000] [--trials 3] [--per-second 2000]

Both sweeps run through the real run loop (``SweepRunner``) with the test seams of ``tests/_fakes.py``:
a fake clock, an in-memory store, and trials that log ``--per-second`` values of a falling curve per
(fake) second, all at once. Median stopping judges every value (evaluation_interval 1, no delay) and
stops nothing on these curves, so both sweeps do the same work but the judging. Target: <= 2x.

Also printed: the time spent judging (``SweepRunner._apply_policy``) and re-reading each running trial's
curve (``SweepRunner._update_score``, the loop's metric poll, every 0.5 s with a policy and every 1 s
without), so the ratio can be read apart. Each sweep runs ``--repeat`` times, the two alternating; the
figures are medians (with the range of the wall times), as a shared machine's noise is large at this size;
the CPU time of the run (``time.process_time``), which waits on a busy disk do not reach, is printed too.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _fakes import FakeClock, FakeLauncher, FakeProcess, MemoryStore, Script  # noqa: E402

from azsweep.runner.inputs import ResolvedInputs  # noqa: E402
from azsweep.runner.layout import SweepFolder  # noqa: E402
from azsweep.runner.lifecycle import start  # noqa: E402
from azsweep.runner.loop import SweepRunner  # noqa: E402
from azsweep.spec import SweepSpec, spec_from_rest  # noqa: E402


class FastProcess(FakeProcess):
    """A fake trial that logs ``rate`` values per second of the fake clock, then exits 0."""

    rate = 1000

    def _advance(self) -> None:
        if self.code is not None:
            return
        elapsed = self.launcher.clock.now - self.started
        target = min(len(self.script.values), int(elapsed * self.rate))
        logged: int = self.logged
        if target > logged:
            run = self.launcher.store.runs[self.run_id]
            run.metrics.setdefault(self.script.metric, []).extend(self.script.values[logged:target])
            self.logged = target
        if elapsed >= len(self.script.values) / self.rate + 1:
            self._exit(0)


class FastLauncher(FakeLauncher):
    """The tests' fake launcher, starting ``FastProcess``es: trial i logs ``curves[i]``."""

    def __init__(self, clock: FakeClock, store: MemoryStore, curves: list[list[float]]) -> None:
        super().__init__(clock, store, lambda i, _: Script(curves[i]))

    def launch(self, command: str, *, cwd: Path, env: Mapping[str, str], log_path: Path) -> FakeProcess:
        process = FastProcess(self, self.behaviour(int(env["AZSWEEP_TRIAL_INDEX"]), {}), env["MLFLOW_RUN_ID"])
        self.running.add(process)
        return process


def make_spec(trials: int, policy: dict[str, Any] | None) -> SweepSpec:
    return spec_from_rest(
        {
            "searchSpace": {"x": ["choice", [list(range(trials))]]},
            "samplingAlgorithm": {"samplingAlgorithmType": "grid"},
            "objective": {"goal": "minimize", "primaryMetric": "loss"},
            "limits": {"maxTotalTrials": trials, "maxConcurrentTrials": trials},
            "trial": {"command": "python train.py --x ${{search_space.x}}"},
            "earlyTermination": policy,
            "experimentName": "long-curves",
        }
    )


SPENT: dict[str, float] = {}


def timed(name: str, method: Any) -> Any:
    def wrapper(*args: Any) -> Any:
        began = time.perf_counter()
        try:
            return method(*args)
        finally:
            SPENT[name] = SPENT.get(name, 0.0) + time.perf_counter() - began

    return wrapper


def run(spec: SweepSpec, curves: list[list[float]], home: Path) -> tuple[float, Any, dict[str, float]]:
    store, clock = MemoryStore(), FakeClock()
    folder = SweepFolder(home, "long")
    launcher = FastLauncher(clock, store, curves)
    runner = SweepRunner(
        spec,
        start(spec, folder, store),
        folder=folder,
        inputs=ResolvedInputs({}, {}),
        tracker=store,
        launcher=launcher,
        clock=clock,
    )
    SPENT.clear()
    began, cpu = time.perf_counter(), time.process_time()
    record = runner.run()
    SPENT["cpu"] = time.process_time() - cpu
    return time.perf_counter() - began, record, dict(SPENT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=100_000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--per-second", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each sweep, alternating; medians are printed")
    args = parser.parse_args()
    FastProcess.rate = args.per_second
    # falling curves, equal at the first value, then apart by a small offset per trial: each trial's best
    # (its latest value) beats the median of the running averages, so median stopping judges every value and stops none
    curves = [[1.0 / (1 + i / 100) + 1e-4 * t * i / (i + 1) for i in range(args.values)] for t in range(args.trials)]
    median = {"policyType": "MedianStopping", "evaluationInterval": 1, "delayEvaluation": 0}
    SweepRunner._apply_policy = timed("judging", SweepRunner._apply_policy)  # type: ignore[method-assign]
    SweepRunner._update_score = timed("polling", SweepRunner._update_score)  # type: ignore[method-assign]
    runs: dict[str, list[tuple[float, dict[str, float]]]] = {"without": [], "median": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            base, base_record, base_spent = run(make_spec(args.trials, None), curves, Path(tmp) / f"without-{i}")
            judged, judged_record, judged_spent = run(make_spec(args.trials, median), curves, Path(tmp) / f"median-{i}")
            stopped = [t.name for t in judged_record.trials if t.stopped_by]
            intervals = [[t.intervals for t in r.trials] for r in (base_record, judged_record)]
            assert intervals == [[args.values] * args.trials] * 2 and not stopped, (intervals, stopped)
            runs["without"].append((base, base_spent))
            runs["median"].append((judged, judged_spent))

    def mid(name: str, part: str | None = None) -> float:
        return statistics.median(spent.get(part, 0.0) if part else wall for wall, spent in runs[name])

    def spread(name: str) -> str:
        walls = [wall for wall, _ in runs[name]]
        return f"{min(walls):.2f}-{max(walls):.2f}"

    n = args.trials * args.values
    print(
        f"{args.trials} trials x {args.values:,} values, {args.per_second:,} values per trial per (fake) second; "
        f"medians of {args.repeat} runs each"
    )
    print(
        f"  without a policy:          {mid('without'):7.2f} s ({spread('without')}; re-reading curves "
        f"{mid('without', 'polling'):.2f} s)"
    )
    print(
        f"  median stopping, judged:   {mid('median'):7.2f} s ({spread('median')}; re-reading curves "
        f"{mid('median', 'polling'):.2f} s, judging {mid('median', 'judging'):.2f} s: "
        f"{mid('median', 'judging') / n * 1e6:.2f} µs per value; stopped: none)"
    )
    print(
        f"  ratio: {mid('median') / mid('without'):.2f}x (target <= 2x); in CPU time {mid('median', 'cpu'):.2f} s / "
        f"{mid('without', 'cpu'):.2f} s = {mid('median', 'cpu') / mid('without', 'cpu'):.2f}x"
    )


if __name__ == "__main__":
    main()
