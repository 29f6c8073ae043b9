"""Early-termination policies: hand-computed cases, maximize and minimize, with Azure's rules and our choices."""

from __future__ import annotations

import math

import pytest
from azure.ai.ml.sweep import BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy

from azsweep.errors import DefinitionError, InvalidValue
from azsweep.policies import IncrementalJudge, RecordedTrial, make_policy, replay_curves
from azsweep.report.replay import policy_from
from azsweep.spec import Policy


def bandit(maximize: bool, *, factor: float | None = None, amount: float | None = None, interval: int = 1, delay: int = 0):
    return make_policy(Policy("bandit", interval, delay, slack_factor=factor, slack_amount=amount), maximize=maximize)


def median(maximize: bool, interval: int = 1, delay: int = 0):
    return make_policy(Policy("median_stopping", interval, delay), maximize=maximize)


def truncation(maximize: bool, percentage: int, interval: int = 1, delay: int = 0):
    return make_policy(Policy("truncation_selection", interval, delay, truncation_percentage=percentage), maximize=maximize)


# --- when a policy is applied ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "delay", "due"),
    [
        (1, 0, [1, 2, 3, 4, 5, 6]),
        (2, 0, [2, 4, 6]),
        (1, 3, [3, 4, 5, 6]),
        (2, 3, [4, 6]),
        (3, 5, [6]),
    ],
)
def test_due_at_multiples_of_the_interval_from_the_delay_on(interval: int, delay: int, due: list[int]) -> None:
    policy = median(True, interval, delay)
    assert [k for k in range(1, 7) if policy.due(k)] == due


def test_interval_zero_behaves_as_one() -> None:
    assert [k for k in range(1, 4) if median(True, 0, 0).due(k)] == [1, 2, 3]


# --- Bandit ------------------------------------------------------------------------------------


def test_bandit_slack_factor_maximize_matches_the_docs_example() -> None:
    # B = 0.8, s = 0.2 -> threshold 0.8 / 1.2 = 0.6667 (semantics doc worked example)
    policy = bandit(True, factor=0.2)
    leader = [0.5, 0.8]
    assert policy.judge([0.6, 0.66], 2, [leader]) is not None  # 0.66 < 0.6667
    assert policy.judge([0.6, 0.67], 2, [leader]) is None  # 0.67 >= 0.6667
    reason = policy.judge([0.6, 0.66], 2, [leader])
    assert "0.66 < 0.666667" in reason and "B(2) = 0.8" in reason


def test_bandit_slack_amount_maximize() -> None:
    policy = bandit(True, amount=0.25)  # exact binary fractions: 0.75 - 0.25 == 0.5
    assert policy.judge([0.49], 1, [[0.75]]) is not None  # 0.49 < 0.75 - 0.25
    assert policy.judge([0.5], 1, [[0.75]]) is None  # equal to the threshold: not strictly worse


def test_bandit_minimize_is_the_mirror_image() -> None:
    factor = bandit(False, factor=0.5)  # B = 0.4 -> threshold 0.6
    assert factor.judge([0.61], 1, [[0.4]]) is not None
    assert factor.judge([0.6], 1, [[0.4]]) is None
    amount = bandit(False, amount=0.1)  # threshold 0.5
    assert amount.judge([0.51], 1, [[0.4]]) is not None
    assert amount.judge([0.5], 1, [[0.4]]) is None


def test_bandit_uses_each_trials_best_up_to_the_interval_not_later_values() -> None:
    policy = bandit(True, amount=0.1)
    # the leader reached 0.9 only at its interval 3; at k = 2 its best is 0.5
    leader = [0.5, 0.4, 0.9]
    assert policy.judge([0.45, 0.41], 2, [leader]) is None  # 0.45 >= 0.5 - 0.1
    assert policy.judge([0.45, 0.41, 0.42], 3, [leader]) is not None  # 0.45 < 0.9 - 0.1
    # the judged trial's own best so far counts, not its last value
    assert policy.judge([0.95, 0.1, 0.1], 3, [leader]) is None


def test_bandit_counts_shorter_trials_with_the_values_they_have() -> None:
    policy = bandit(True, amount=0.1)
    assert policy.judge([0.5, 0.5, 0.5], 3, [[0.9]]) is not None  # a finished one-interval trial still sets B


def test_bandit_never_stops_the_leader_even_with_negative_metrics() -> None:
    # our choice: the factor is applied to |B|; B = -1.0, s = 0.25 maximize -> threshold -1.2
    policy = bandit(True, factor=0.25)
    assert policy.judge([-1.0], 1, [[-3.0]]) is None  # the leader itself
    assert policy.judge([-1.19], 1, [[-1.0]]) is None
    assert policy.judge([-1.21], 1, [[-1.0]]) is not None
    minimize = bandit(False, factor=0.25)  # B = -2.0 -> threshold -1.5
    assert minimize.judge([-2.0], 1, [[-1.0]]) is None
    assert minimize.judge([-1.6], 1, [[-2.0]]) is None
    assert minimize.judge([-1.4], 1, [[-2.0]]) is not None


def test_bandit_ties_with_the_leader_survive() -> None:
    assert bandit(True, factor=0.0001).judge([0.8], 1, [[0.8]]) is None


# --- Median stopping ---------------------------------------------------------------------------


def test_median_stopping_hand_computed_maximize() -> None:
    policy = median(True)
    others = [[0.2, 0.4], [0.6, 0.8], [0.9, 0.5]]  # running averages at k=2: 0.3, 0.7, 0.7
    # judged trial [0.1, 0.5]: average 0.3, best 0.5; averages 0.3, 0.3, 0.7, 0.7 -> median 0.5
    assert policy.judge([0.1, 0.5], 2, others) is None  # 0.5 is not worse than 0.5
    # [0.1, 0.45]: average 0.275; averages 0.275, 0.3, 0.7, 0.7 -> median 0.5 > best 0.45
    reason = policy.judge([0.1, 0.45], 2, others)
    assert reason is not None and "0.45 < 0.5" in reason and "4 trials" in reason


def test_median_stopping_minimize_and_odd_count() -> None:
    policy = median(False)
    others = [[1.0, 1.0], [3.0, 1.0]]  # averages 1.0, 2.0
    # judged [2.0, 2.4]: average 2.2 best 2.0; averages 1.0, 2.0, 2.2 -> median 2.0; 2.0 not worse
    assert policy.judge([2.0, 2.4], 2, others) is None
    # judged [2.5, 2.1]: average 2.3 best 2.1 > median 2.0 -> stop
    assert policy.judge([2.5, 2.1], 2, others) is not None


def test_median_counts_only_trials_that_reached_the_interval_and_the_judged_trial() -> None:
    policy = median(True)
    # the only other trial has one value: at k=2 the pool is just the judged trial -> nothing to compare
    assert policy.judge([0.0, 0.0], 2, [[100.0]]) is None
    assert policy.judge([0.0], 1, [[100.0]]) is not None


# --- Truncation selection ----------------------------------------------------------------------


def test_truncation_stops_the_worst_percentage_at_the_same_interval() -> None:
    policy = truncation(True, 25)
    others = [[0.9, 0.5], [0.8, 0.6], [0.7, 0.7]]
    # at k=2, values 0.5, 0.6, 0.7 and the judged trial's; n=4 -> floor(4*25/100) = 1 stopped
    assert policy.judge([0.1, 0.4], 2, others) is not None  # the worst value at k=2
    assert policy.judge([0.1, 0.55], 2, others) is None  # 0.5 is worse
    # ranked by the value AT k, not the best so far: a high first value does not save it
    assert policy.judge([0.99, 0.45], 2, others) is not None


def test_truncation_rounds_the_count_down_and_compares_only_trials_at_k() -> None:
    policy = truncation(False, 30)
    # n = 3 -> floor(0.9) = 0: nothing stops
    assert policy.judge([9.0], 1, [[1.0], [2.0]]) is None
    # n = 4 -> floor(1.2) = 1; a trial that has not reached k=2 is not in the pool
    assert policy.judge([0.0, 9.0], 2, [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]) is not None
    assert policy.judge([0.0, 9.0], 2, [[1.0, 1.0], [2.0, 2.0], [3.0]]) is None


def test_truncation_ties_are_resolved_in_the_judged_trials_favour() -> None:
    policy = truncation(True, 50)  # n = 4 -> 2 stopped
    assert policy.judge([0.1], 1, [[0.1], [0.1], [0.9]]) is None  # tied at the boundary: keeps running
    assert policy.judge([0.1], 1, [[0.2], [0.3], [0.9]]) is not None


def test_truncation_finished_trials_are_in_the_pool_and_nan_ranks_worst() -> None:
    policy = truncation(True, 50)
    assert policy.judge([math.nan], 1, [[0.1]]) is not None


def test_no_value_no_decision() -> None:
    for policy in (bandit(True, factor=0.1), median(True), truncation(True, 50)):
        assert policy.judge([], 1, [[1.0], [2.0]]) is None


# --- a live sweep's look: a run of new intervals judged at once --------------------------------


def _first_stops(policy, curves: list[list[float]]) -> list:
    """Each trial's first stop over its whole curve, judged as the run loop does after one look."""
    judge = IncrementalJudge(policy)
    judge.sync(dict(enumerate(curves)))
    return [judge.first_stop(i, 1, len(curve)) for i, curve in enumerate(curves)]


@pytest.mark.parametrize(
    ("maximize", "factor", "amount", "top", "threshold"),
    [
        (True, 0.5, None, 3.0, 2.0),  # 3 - 3 * 0.5 / 1.5
        (False, 0.5, None, 1.0, 1.5),  # 1 + 1 * 0.5
        (True, None, 0.25, 0.75, 0.5),
        (False, None, 0.5, 1.0, 1.5),
    ],
)
def test_bandit_over_a_run_of_intervals_stops_exactly_past_the_threshold(maximize, factor, amount, top, threshold) -> None:
    """A trial exactly at the threshold goes on at all of its 1,000 intervals; one a float worse stops at the
    first due one (interval 3, delay 5: interval 6)."""
    policy = bandit(maximize, factor=factor, amount=amount, interval=3, delay=5)
    worse = math.nextafter(threshold, -math.inf if maximize else math.inf)
    stops = _first_stops(policy, [[top] * 1000, [threshold] * 1000, [worse] * 1000])
    assert stops[0] is None and stops[1] is None
    assert (
        stops[2] is not None
        and stops[2][0] == 6
        and stops[2][1] == policy.judge([worse] * 6, 6, [[top] * 1000, [threshold] * 1000])
    )


@pytest.mark.parametrize("maximize", [False, True])
def test_median_over_a_run_of_intervals_ties_go_on_and_a_float_worse_stops(maximize: bool) -> None:
    """Constant curves of 0.5: every average is 0.5, the median 0.5, each best ties it: no stop in 2,000
    intervals. A trial a float worse than 0.5 is worse than the median from its first interval."""
    policy = median(maximize)
    assert _first_stops(policy, [[0.5] * 2000] * 3) == [None] * 3
    worse = math.nextafter(0.5, -math.inf if maximize else math.inf)
    stops = _first_stops(policy, [[0.5] * 2000, [0.5] * 2000, [worse] * 2000])
    assert stops[:2] == [None, None] and stops[2] is not None and stops[2][0] == 1


def test_truncation_over_a_run_of_intervals_resolves_ties_in_the_judged_trials_favour() -> None:
    policy = truncation(True, 25)  # 4 trials -> the worst 1 stops at each interval
    stops = _first_stops(policy, [[0.1] * 1000, [0.1] * 1000, [0.2] * 1000, [0.9] * 1000])
    assert stops == [None] * 4  # the two worst tie: both keep running
    worse = math.nextafter(0.1, -math.inf)
    stops = _first_stops(policy, [[worse] * 1000, [0.1] * 1000, [0.2] * 1000, [0.9] * 1000])
    assert stops[0] is not None and stops[0][0] == 1 and stops[1:] == [None] * 3


# --- replay ------------------------------------------------------------------------------------


def _sequential(curves: list[list[float]]) -> list[RecordedTrial]:
    trials, clock = [], 0.0
    for i, values in enumerate(curves):
        stamps = tuple(clock + j for j in range(len(values)))
        clock += len(values) + 10
        trials.append(RecordedTrial(f"t_{i}", i, tuple(values), stamps))
    return trials


def test_replay_cuts_stopped_trials_and_counts_the_saving() -> None:
    # minimize, slack_amount 0.5, delay 2
    curves = [[1.0, 0.8, 0.6, 0.5], [3.0, 2.0, 1.9, 0.1], [0.9, 1.4, 1.2, 1.1], [2.0, 1.5, 0.9, 0.4]]
    result = replay_curves(_sequential(curves), bandit(False, amount=0.5, delay=2))
    # t_1 at k=2: best 2.0 > B(2) 0.8 + 0.5 -> stop (2 intervals saved)
    # t_2 at k=2: best 0.9 <= 0.8 + 0.5; k=3: 0.9 <= 0.6 + 0.5; k=4: 0.9 <= 0.5 + 0.5 -> runs to the end
    # t_3 at k=2: best 1.5 > 0.8 + 0.5 -> stop; t_1 is cut at 2 so its 0.1 never counted
    assert [(d.trial, d.interval, d.intervals_saved) for d in result.decisions] == [("t_1", 2, 2), ("t_3", 2, 2)]
    assert result.total_intervals == 16 and result.saved_intervals == 4 and result.share_saved == 0.25
    assert result.best_trial == "t_1" and result.best_score == 0.1 and not result.best_survived
    assert result.best_trial_with_policy == "t_0" and result.best_score_with_policy == 0.5


def test_replay_concurrent_trials_see_only_values_logged_before() -> None:
    # two trials interleaved in time: t_1's second value is judged against t_0's first two values only
    t0 = RecordedTrial("t_0", 0, (0.9, 0.9, 0.1), (0.0, 2.0, 10.0))
    t1 = RecordedTrial("t_1", 1, (0.95, 0.85), (1.0, 3.0))
    result = replay_curves([t0, t1], bandit(False, amount=0.5))
    assert result.decisions == []  # had t_0's later 0.1 been visible, t_1 would have been stopped at 2


# --- policy inputs -----------------------------------------------------------------------------


def test_policy_from_azure_objects_and_yaml_dicts() -> None:
    assert policy_from(BanditPolicy(slack_factor=0.1, evaluation_interval=2, delay_evaluation=5)) == Policy(
        "bandit", 2, 5, slack_factor=0.1
    )
    assert policy_from(MedianStoppingPolicy(delay_evaluation=5)).kind == "median_stopping"
    assert policy_from(TruncationSelectionPolicy(truncation_percentage=20, evaluation_interval=1)).truncation_percentage == 20
    assert policy_from({"type": "bandit", "slack_amount": 0.3}).slack_amount == 0.3


@pytest.mark.parametrize(
    ("policy", "field", "text"),
    [
        ({"type": "bandit"}, "early_termination", "neither is set"),
        ({"type": "bandit", "slack_factor": 0.1, "slack_amount": 0.2}, "early_termination", "slack_amount=0.2"),
        ({"type": "truncation_selection", "truncation_percentage": 0}, "early_termination.truncation_percentage", "(got 0)"),
        ({"type": "truncation_selection", "truncation_percentage": 100}, "early_termination.truncation_percentage", "(got 100)"),
        ({"type": "median_stopping", "evaluation_interval": -1}, "early_termination.evaluation_interval", "(got -1)"),
        ({"type": "median_stopping", "delay_evaluation": -2}, "early_termination.delay_evaluation", "(got -2)"),
    ],
)
def test_impossible_policies_are_refused_naming_the_field(policy: dict, field: str, text: str) -> None:
    with pytest.raises(DefinitionError) as info:
        policy_from(policy)
    message = str(info.value)
    assert f"{field}: " in message and text in message and "\n" not in message


def test_unknown_policy_fields_are_refused() -> None:
    with pytest.raises(InvalidValue, match="early_termination.exclude_finished_jobs: unknown field"):
        policy_from({"type": "truncation_selection", "truncation_percentage": 10, "exclude_finished_jobs": True})
