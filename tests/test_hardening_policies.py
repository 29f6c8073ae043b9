"""Policy judging is incremental and decides exactly as the judging over whole curves did.

The reference functions below are the policies' judging as it was before (each judgment a pass over
every curve); random curves with fixed seeds (NaN, infinities and ties included) are judged both ways.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from azsweep.policies import IncrementalJudge, RecordedTrial, make_policy, replay_curves
from azsweep.policies._replay import StopDecision
from azsweep.spec import Policy, best_value

# -- the judging over whole curves, as it was ------------------------------------------------------


def reference_judge(policy: Any, curve: Sequence[float], k: int, others: Sequence[Sequence[float]]) -> str | None:
    if policy.title == "Bandit":
        mine = best_value(curve[:k], policy.maximize)
        if mine is None:
            return None
        bests = [b for b in (best_value(c[:k], policy.maximize) for c in others) if b is not None] + [mine]
        top = best_value(bests, policy.maximize)
        assert top is not None
        s, a = policy.config.slack_factor, policy.config.slack_amount
        if s is not None:
            threshold = top - abs(top) * s / (1 + s) if policy.maximize else top + abs(top) * s
        else:
            threshold = top - (a or 0.0) if policy.maximize else top + (a or 0.0)
        return f"{mine!r} {threshold!r} {top!r}" if policy.worse(mine, threshold) else None
    if policy.title == "MedianStopping":
        mine = best_value(curve[:k], policy.maximize)
        if mine is None:
            return None
        averages = []
        for c in [curve, *others]:
            if len(c) >= k:
                values = [v for v in c[:k] if not math.isnan(v)]
                if values:
                    averages.append(math.fsum(values) / len(values))
        if len(averages) < 2:
            return None
        median = statistics.median(averages)
        return f"{mine!r} {median!r} {len(averages)}" if policy.worse(mine, median) else None
    if len(curve) < k:
        return None
    pool = [c[k - 1] for c in others if len(c) >= k]
    value = curve[k - 1]
    n = len(pool) + 1
    count = n * (policy.config.truncation_percentage or 0) // 100
    if count < 1:
        return None
    better = sum(1 for v in pool if policy._key(v) > policy._key(value))
    return f"{value!r} {count} {better}" if better >= n - count else None


POLICIES = [
    Policy(kind="bandit", evaluation_interval=1, delay_evaluation=0, slack_factor=0.1),
    Policy(kind="bandit", evaluation_interval=2, delay_evaluation=3, slack_amount=0.05),
    Policy(kind="median_stopping", evaluation_interval=1, delay_evaluation=0),
    Policy(kind="median_stopping", evaluation_interval=3, delay_evaluation=2),
    Policy(kind="truncation_selection", evaluation_interval=1, delay_evaluation=0, truncation_percentage=30),
    Policy(kind="truncation_selection", evaluation_interval=1, delay_evaluation=1, truncation_percentage=50),
]


def random_curve(rng: random.Random, length: int) -> list[float]:
    """A noisy falling or rising curve with repeated values, NaN, infinities and the largest float sprinkled in."""
    level, curve = rng.uniform(-2, 2), []
    for _ in range(length):
        level += rng.gauss(-0.01, 0.1)
        roll = rng.random()
        if roll < 0.04:
            curve.append(math.nan)
        elif roll < 0.05:
            curve.append(rng.choice([math.inf, -math.inf, 1.7976931348623157e308]))
        elif roll < 0.15 and curve:
            curve.append(curve[-1])  # ties
        else:
            curve.append(round(level, rng.choice([1, 2, 17])))
    return curve


def judge_or_error(fn: Any, *args: Any) -> Any:
    try:
        return "stop" if fn(*args) is not None else None
    except (ValueError, OverflowError) as exc:  # math.fsum's own errors (-inf + inf), raised alike
        return type(exc).__name__


@pytest.mark.parametrize("config", POLICIES, ids=lambda c: f"{c.kind}-{c.evaluation_interval}-{c.delay_evaluation}")
@pytest.mark.parametrize("maximize", [False, True])
def test_judge_decides_as_the_whole_curve_judging_on_random_curves(config: Policy, maximize: bool) -> None:
    rng = random.Random(1801)
    policy = make_policy(config, maximize=maximize)
    stops = 0
    for _ in range(40):
        curves = [random_curve(rng, rng.randint(0, 40)) for _ in range(rng.randint(1, 6))]
        for i, curve in enumerate(curves):
            others = curves[:i] + curves[i + 1 :]
            for k in range(1, len(curve) + 1):
                expected = judge_or_error(reference_judge, policy, curve[:k], k, others)
                assert judge_or_error(policy.judge, curve[:k], k, others) == expected, (curve[:k], k, others)
                stops += expected == "stop"
    assert stops > 20  # the curves do make the policy stop trials


def test_the_reasons_carry_the_same_numbers_as_before() -> None:
    """The reason's numbers are computed as before (the exact fsum average, the median of an even count)."""
    rng = random.Random(7)
    policy = make_policy(POLICIES[2], maximize=False)
    checked = 0
    for _ in range(2000):
        curves = [[rng.uniform(0, 1) for _ in range(rng.randint(1, 30))] for _ in range(4)]
        curve, others = curves[0], curves[1:]
        k = len(curve)
        reason = policy.judge(curve, k, others)
        expected = reference_judge(policy, curve, k, others)
        assert (reason is None) == (expected is None)
        if reason is not None and expected is not None:
            mine, median, n = expected.split()
            assert f"best {float(mine):.6g} > {float(median):.6g} = median of the running averages of {n} trials" in reason
            checked += 1
    assert checked > 20


@pytest.mark.parametrize("config", POLICIES, ids=lambda c: f"{c.kind}-{c.evaluation_interval}-{c.delay_evaluation}")
def test_the_incremental_judge_decides_as_before_while_curves_grow_are_cut_and_change(config: Policy) -> None:
    """A live sweep's curves: growing by a few values per look, one cut at a stop, one re-read with a value
    changed in the middle; at every look each new interval is judged both ways."""
    rng = random.Random(424242)
    for maximize in (False, True):
        policy = make_policy(config, maximize=maximize)
        for _ in range(15):
            full = {i: random_curve(rng, rng.randint(5, 60)) for i in range(rng.randint(2, 5))}
            shown = {i: 0 for i in full}
            curves: dict[int, list[float]] = {}
            judge = IncrementalJudge(policy)
            judged = {i: 0 for i in full}
            for look in range(30):
                for i in full:
                    shown[i] = min(len(full[i]), shown[i] + rng.randint(0, 4))
                    curves[i] = list(full[i][: shown[i]])  # a fresh list at each look, as read from the store
                if look == 10:  # a value in the middle of a curve changes (a re-ordered history)
                    i = rng.choice(list(full))
                    if shown[i] > 2:
                        full[i][shown[i] // 2] += 1.0
                        curves[i] = list(full[i][: shown[i]])
                judge.sync(curves)
                for i in sorted(curves):
                    for k in range(judged[i] + 1, len(curves[i]) + 1):
                        judged[i] = k
                        if not policy.due(k):
                            continue
                        others = [c for j, c in curves.items() if j != i]
                        expected = judge_or_error(reference_judge, policy, curves[i][:k], k, others)
                        assert judge_or_error(judge.judge, i, k) == expected
                        if expected == "stop" and look % 3 == 0:  # cut it there, as the loop does at a stop
                            curves[i] = curves[i][:k]
                            full[i] = full[i][:k]
                            shown[i] = k
                            judge.sync(curves)
                            break


def reference_replay(trials: Sequence[RecordedTrial], policy: Any) -> list[tuple[str, int]]:
    ordered = sorted(trials, key=lambda t: t.index)
    known = {t.index: 0 for t in ordered}
    stopped: dict[int, StopDecision] = {}
    events = sorted((ts, t.index, k) for t in ordered for k, ts in enumerate(t.timestamps, start=1))
    by_index = {t.index: t for t in ordered}
    for _, index, k in events:
        if index in stopped:
            continue
        known[index] = k
        if not policy.due(k):
            continue
        others = [o.values[: known[o.index]] for o in ordered if o.index != index]
        if reference_judge(policy, by_index[index].values[:k], k, others):
            stopped[index] = StopDecision(by_index[index].name, index, k, "", 0)
    return [(stopped[i].trial, stopped[i].interval) for i in sorted(stopped)]


@pytest.mark.parametrize("config", POLICIES, ids=lambda c: f"{c.kind}-{c.evaluation_interval}-{c.delay_evaluation}")
def test_replay_stops_what_the_whole_curve_judging_stopped(config: Policy) -> None:
    rng = random.Random(99)
    decisions = 0
    for _ in range(30):
        trials = []
        start = 0.0
        for i in range(rng.randint(2, 7)):
            values = [v for v in random_curve(rng, rng.randint(1, 40)) if math.isfinite(v)] or [0.5]
            start += rng.uniform(0, 20)
            trials.append(RecordedTrial(f"t_{i}", i, tuple(values), tuple(start + j for j in range(len(values)))))
        policy = make_policy(config, maximize=rng.random() < 0.5)
        result = replay_curves(trials, policy)
        expected = reference_replay(trials, policy)
        assert [(d.trial, d.interval) for d in result.decisions] == expected
        decisions += len(expected)
    assert decisions > 5


class CountingCurve(list):  # type: ignore[type-arg]
    """A curve that counts the values read from it (slices included)."""

    reads = 0

    def __getitem__(self, item: Any) -> Any:
        got = super().__getitem__(item)
        CountingCurve.reads += len(got) if isinstance(item, slice) else 1
        return got


@pytest.mark.parametrize("kind", ["bandit", "median_stopping", "truncation_selection"])
def test_judging_reads_each_value_a_bounded_number_of_times_however_long_the_curves(kind: str) -> None:
    """The defect: each judgment passed over every curve (two trials x 10,000 values took 34 s). Judging
    3 trials x 3,000 values as a live sweep does, look after look, now reads each value a few times."""
    config = {"bandit": POLICIES[0], "median_stopping": POLICIES[2], "truncation_selection": POLICIES[4]}[kind]
    policy = make_policy(config, maximize=False)
    judge = IncrementalJudge(policy)
    n = 3000
    full = [[1.0 / (1 + j) + 1e-4 * t for j in range(n)] for t in range(3)]
    CountingCurve.reads = 0
    judged = [0, 0, 0]
    for shown in range(100, n + 1, 100):
        curves = {t: CountingCurve(full[t][:shown]) for t in range(3)}
        judge.sync(curves)
        for t in range(3):
            judge.first_stop(t, judged[t] + 1, shown)  # the decisions are checked above; here the cost
            judged[t] = shown
    # a pass over every curve at each judgment reads about 3 * n * n / 2 values (13.5 million here);
    # incremental judging reads each value once, plus, at each look, the check that a re-read curve
    # starts as before (what reading the curve from the store costs anyway): about 0.3 million here
    assert CountingCurve.reads < 1_000_000


@pytest.mark.parametrize("kind", ["bandit", "median_stopping"])
def test_a_replay_of_long_curves_reads_each_value_a_bounded_number_of_times(kind: str) -> None:
    """``azsweep replay`` judged each event against every curve's prefix: quadratic in the values."""
    config = {"bandit": POLICIES[0], "median_stopping": POLICIES[2]}[kind]
    n = 3000
    trials = [
        RecordedTrial(f"t_{t}", t, CountingCurve(1.0 / (1 + j) + 1e-4 * t for j in range(n)), tuple(float(j) for j in range(n)))  # type: ignore[arg-type]
        for t in range(3)
    ]
    CountingCurve.reads = 0
    result = replay_curves(trials, make_policy(config, maximize=False))
    assert result.total_intervals == 3 * n
    assert CountingCurve.reads < 3 * n * 20  # a pass over every prefix at each event: about 13.5 million


# -- judging runs of intervals at once (IncrementalJudge.first_stop, EarlyTermination.first_stop_at) ------------

LARGEST = 1.7976931348623157e308


def long_curve(rng: random.Random, kind: str, length: int) -> list[float]:
    """Curves for judging in bulk: a noisy walk; a constant (every best ties the median); values a rounding tie
    apart; a sprinkling of NaN, infinities and the largest float (MLflow's stored infinity: sums overflow)."""
    if kind == "constant":
        return [rng.choice([0.5, 0.1, -0.7, 3.0])] * length
    if kind == "ties":
        return [0.5 + 0.1 * math.sin(i / 7) + rng.choice([0.0, 0.0, 1e-17, -1e-16]) for i in range(length)]
    if kind == "special":
        return [
            rng.choice([math.nan, math.inf, -math.inf, LARGEST, -LARGEST]) if rng.random() < 0.01 else rng.uniform(-1, 1)
            for _ in range(length)
        ]
    return random_curve(rng, length)


def first_stop_as_before(policy: Any, curves: dict[int, list[float]], i: int, first: int, last: int) -> Any:
    """The reference: ``reference_judge`` at each due interval in turn, up to the first stop (or error)."""
    for k in range(first, last + 1):
        if policy.due(k):
            others = [c for j, c in curves.items() if j != i]
            decision = judge_or_error(reference_judge, policy, curves[i][:k], k, others)
            if decision is not None:
                return (k, decision)
    return None


def first_stop_now(judge: IncrementalJudge, i: int, first: int, last: int) -> Any:
    try:
        stop = judge.first_stop(i, first, last)
    except (ValueError, OverflowError) as exc:
        return type(exc).__name__
    return (stop[0], "stop") if stop else None


def judge_sweeps_in_bulk(config: Policy, seed: int, sweeps: int = 8) -> int:
    """Sweeps whose trials log up to 80 values between looks, each look's new intervals judged in one
    ``first_stop`` (a stopped trial cut there), against the reference; the number of stops and errors."""
    rng = random.Random(seed)
    outcomes = 0
    for _ in range(sweeps):
        policy = make_policy(config, maximize=rng.random() < 0.5)
        kind = rng.choice(["walk", "constant", "ties", "special"])
        full = {
            i: long_curve(rng, kind if rng.random() < 0.8 else "walk", rng.randint(30, 250)) for i in range(rng.randint(2, 5))
        }
        curves: dict[int, list[float]] = {i: [] for i in full}
        judged = dict.fromkeys(full, 0)
        ended: set[int] = set()
        judge = IncrementalJudge(policy)
        for _look in range(12):
            for i in full:
                if i not in ended:
                    curves[i].extend(full[i][len(curves[i]) : len(curves[i]) + rng.randint(0, 80)])
            judge.sync(curves)
            for i in sorted(curves):
                if i in ended or judged[i] >= len(curves[i]):
                    continue
                first, last = judged[i] + 1, len(curves[i])
                expected = first_stop_as_before(policy, curves, i, first, last)
                got = first_stop_now(judge, i, first, last)
                if expected is not None and expected[1] != "stop":
                    assert got == expected[1], (kind, config, i, first, last)  # math.fsum's error, raised alike
                    ended.add(i)
                    outcomes += 1
                    continue
                assert got == expected, (kind, config, policy.maximize, i, first, last)
                judged[i] = last
                if got is not None:
                    outcomes += 1
                    ended.add(i)
                    curves[i] = curves[i][: got[0]]  # cut at the stop, as the loop does
                    judge.sync(curves)
    return outcomes


@pytest.mark.parametrize("config", POLICIES, ids=lambda c: f"{c.kind}-{c.evaluation_interval}-{c.delay_evaluation}")
def test_judging_runs_of_intervals_at_once_decides_as_before(config: Policy) -> None:
    assert judge_sweeps_in_bulk(config, seed=2024) > 0


@pytest.fixture(params=["no bounds", "no exact averages in bulk", "neither"])
def median_steps_left_out(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Median stopping with some of its bulk steps left out: each step alone must decide as before."""
    from azsweep.policies import Prefix
    from azsweep.policies._median import MedianStopping

    if request.param in ("no bounds", "neither"):
        bound = Prefix.average_bound

        def useless_bound(self: Prefix) -> Any:  # still a bound (and NaN where there is no average), just no help
            return np.where(np.isnan(bound(self)), np.nan, np.inf if self.maximize else -np.inf)

        monkeypatch.setattr(Prefix, "average_bound", useless_bound)
        monkeypatch.setattr(MedianStopping, "_goes_on_throughout", lambda *args: False)
    if request.param in ("no exact averages in bulk", "neither"):
        exact = Prefix.exact_averages
        monkeypatch.setattr(Prefix, "exact_averages", lambda self, at: np.full(np.shape(exact(self, at)), np.nan))
    return str(request.param)


def test_each_step_of_median_judging_in_bulk_decides_as_before(median_steps_left_out: str) -> None:
    assert judge_sweeps_in_bulk(POLICIES[2], seed=77, sweeps=6) + judge_sweeps_in_bulk(POLICIES[3], seed=78, sweeps=6) > 0


def test_ties_with_the_median_over_long_curves_are_settled_in_bulk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Constant curves: each best is as close to the median as can be, at every interval (no bound tells them
    apart; the exact averages do). ``judge_at`` is asked only where a trial stops: never with 0.5 (every average
    is 0.5, a tie: no stop), and with 0.1 once per trial (math.fsum's average of 43 values of 0.1 is just below
    0.1, so the best, 0.1, is worse than the median), at the interval the judging over whole curves gives."""
    from azsweep.policies._median import MedianStopping

    asked: list[tuple[int, bool]] = []
    judge_at = MedianStopping.judge_at

    def counted(self: Any, k: int, mine: Any, others: Any) -> Any:
        reason = judge_at(self, k, mine, others)
        asked.append((k, reason is not None))
        return reason

    monkeypatch.setattr(MedianStopping, "judge_at", counted)
    policy = make_policy(POLICIES[2], maximize=False)
    for value, stops in ((0.5, []), (0.1, [(43, True)] * 3)):
        asked.clear()
        judge = IncrementalJudge(policy)
        curves: dict[int, list[float]] = {t: [] for t in range(3)}
        ended: set[int] = set()
        for shown in range(500, 6001, 500):
            for t in set(curves) - ended:
                curves[t].extend([value] * (shown - len(curves[t])))
            judge.sync(curves)
            for t in sorted(set(curves) - ended):
                stop = judge.first_stop(t, shown - 499, shown)
                if stop:
                    assert reference_judge(policy, curves[t][: stop[0]], stop[0], [curves[o] for o in curves if o != t])
                    curves[t] = curves[t][: stop[0]]
                    ended.add(t)
                    judge.sync(curves)
        assert asked == stops


# -- running averages: math.fsum's, in bulk and one at a time --------------------------------------------------


def average_as_before(values: Sequence[float], k: int) -> Any:
    kept = [v for v in values[:k] if not math.isnan(v)]
    if not kept:
        return None
    try:
        return math.fsum(kept) / len(kept)
    except (ValueError, OverflowError) as exc:
        return type(exc).__name__


@pytest.mark.parametrize("maximize", [False, True])
def test_averages_are_math_fsum_s_in_bulk_and_one_at_a_time(maximize: bool) -> None:
    """``Prefix.average`` is ``math.fsum(...) / n`` or its error, ``exact_averages`` the same where known, and
    ``average_bound`` on the good side of it, on curves grown a chunk at a time: sums that cancel, values of
    very different sizes, ties, NaN, infinities and the largest float (math.fsum overflows)."""
    from azsweep.policies import Prefix

    rng = random.Random(31337)
    pools: list[Any] = [
        lambda: rng.uniform(-1, 1),
        lambda: rng.choice([0.1, 0.2, 0.3, 1e-16, 1.0, 2.0**-53, 1 + 2.0**-52]),
        lambda: rng.choice([1e16, 1.0, -1e16, 3.0, 0.5, -0.0]),
        lambda: rng.uniform(-1, 1) * 10.0 ** rng.randint(-300, 300),
        lambda: rng.choice([math.nan, math.inf, -math.inf, LARGEST, -LARGEST, 1e300]) if rng.random() < 0.03 else rng.random(),
    ]
    known = 0
    for _ in range(60):
        pool = rng.choice(pools)
        values = [pool() for _ in range(rng.randint(1, 400))]
        curve: list[float] = []
        prefix = Prefix(curve, maximize)
        while len(curve) < len(values):
            curve.extend(values[len(curve) : len(curve) + rng.randint(1, 150)])
            prefix.replace(curve)
            n = len(curve)
            bulk = prefix.exact_averages(slice(0, n, 1))
            bound = prefix.average_bound()
            for k in rng.sample(range(1, n + 1), min(n, 60)):
                expected = average_as_before(curve, k)
                try:
                    got = prefix.average(k)
                except (ValueError, OverflowError) as exc:
                    got = type(exc).__name__
                assert got == expected or (isinstance(got, float) and math.isnan(got) and math.isnan(expected)), (k, curve[:k])
                if isinstance(expected, float):
                    assert k <= prefix.raises_after()
                    assert (bound[k - 1] >= expected) if maximize else (bound[k - 1] <= expected)
                    if not math.isnan(bulk[k - 1]):
                        assert bulk[k - 1] == expected
                        known += 1
                else:
                    assert math.isnan(bulk[k - 1]) and math.isnan(bound[k - 1])
                    assert (k > prefix.raises_after()) == (expected is not None)
    assert known > 1000


@pytest.mark.parametrize(
    "values",
    [
        [1.0, 2.0**-53, 2.0**-160],
        [3.0, 2.0**-52, 2.0**-160],
        [1 + 2.0**-52, 2.0**-53, -(2.0**-160)],
        [-1.0, -(2.0**-53), -(2.0**-170)],
    ],
)
def test_an_exact_sum_a_hair_from_a_rounding_tie_is_rounded_as_math_fsum_does(values: list[float]) -> None:
    """The float running sum and its rounding errors sum to a rounding tie; a third, tiny value (itself lost in
    summing the errors) decides which way math.fsum rounds. The bulk averages must not round the tie."""
    from azsweep.policies import Prefix

    prefix = Prefix(values, maximize=False)
    expected = math.fsum(values) / 3
    assert (values[0] + values[1]) / 3 != expected  # rounding the tie would be wrong here
    bulk = prefix.exact_averages(slice(0, 3, 1))[2]
    assert math.isnan(bulk) or bulk == expected
    assert prefix.average(3) == expected


def test_the_simulated_fsum_is_math_fsum() -> None:
    """Where sums come near overflow the averages follow math.fsum's own steps: after each value, its result
    (bit for bit, the sign of a zero included) or its error."""
    from azsweep.policies._base import _Fsum

    rng = random.Random(5)
    pool = [LARGEST, -LARGEST, LARGEST / 2, -LARGEST / 2, 0.75 * LARGEST, math.inf, -math.inf, 1e308, -1e308]
    pool += [1e300, 1.0, -1.0, 0.1, 0.0, -0.0, 5e-324]
    for _ in range(3000):
        values = [
            rng.choice(pool) if rng.random() < 0.7 else rng.uniform(-1, 1) * 10.0 ** rng.randint(-320, 308)
            for _ in range(rng.randint(1, 12))
        ]
        model = _Fsum()
        for i, v in enumerate(values):
            model.add(v)
            try:
                expected: Any = math.fsum(values[: i + 1])
            except (ValueError, OverflowError):
                expected = None
            got = model.result()
            if expected is None or got is None:
                assert got is expected, values[: i + 1]
            else:
                assert got == expected and math.copysign(1, got) == math.copysign(1, expected), values[: i + 1]
