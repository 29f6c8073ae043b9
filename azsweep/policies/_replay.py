"""Replay recorded metric curves through a policy: which trials it would have stopped, and the saving."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from azsweep.policies._base import EarlyTermination, Prefix
from azsweep.spec import best_item, best_value


@dataclass(frozen=True)
class RecordedTrial:
    """A trial's recorded primary-metric values, with the time (any unit) each was logged."""

    name: str
    index: int
    values: tuple[float, ...]
    timestamps: tuple[float, ...]


@dataclass(frozen=True)
class StopDecision:
    trial: str
    index: int
    interval: int
    reason: str
    intervals_saved: int


@dataclass
class ReplayResult:
    policy: str
    decisions: list[StopDecision] = field(default_factory=list)
    total_intervals: int = 0
    saved_intervals: int = 0
    best_trial: str | None = None  # best of the recorded curves
    best_score: float | None = None
    best_survived: bool = True
    best_trial_with_policy: str | None = None  # what the sweep would have reported with the policy
    best_score_with_policy: float | None = None

    @property
    def share_saved(self) -> float:
        return self.saved_intervals / self.total_intervals if self.total_intervals else 0.0


def _leader(trials: Sequence[tuple[RecordedTrial, Sequence[float]]], maximize: bool) -> tuple[str | None, float | None]:
    """The best trial's name and score (in index order: ties keep the earlier trial)."""
    scores = [(trial.name, best_value(values, maximize)) for trial, values in trials]
    return best_item(scores, score=lambda pair: pair[1], maximize=maximize) or (None, None)


def replay_curves(trials: Sequence[RecordedTrial], policy: EarlyTermination) -> ReplayResult:
    """Simulate ``policy`` over recorded curves, in the order the values were logged.

    Each logged value is an event; at each event the trial is judged against every other trial's
    curve as far as it had been logged by then (a trial the policy stopped is cut at its stop).
    With trials run one at a time, this is exactly what a live run with the policy decides. Each
    trial's running aggregates (``Prefix``) are kept over the simulation, so an event costs one look
    per other trial.
    """
    ordered = sorted(trials, key=lambda t: t.index)
    # each whole curve's aggregates, shown as far as the curve had been logged (``Prefix.length``)
    prefixes = {t.index: Prefix(t.values, policy.maximize) for t in ordered}
    for prefix in prefixes.values():
        prefix.length = 0
    stopped: dict[int, StopDecision] = {}
    events = sorted((ts, t.index, k) for t in ordered for k, ts in enumerate(t.timestamps, start=1))
    by_index = {t.index: t for t in ordered}
    for _, index, k in events:
        if index in stopped:
            continue
        trial = by_index[index]
        prefixes[index].length = min(k, len(trial.values))
        if not policy.due(k):
            continue
        others = [prefixes[o.index] for o in ordered if o.index != index]
        reason = policy.judge_at(k, prefixes[index], others)
        if reason:
            stopped[index] = StopDecision(trial.name, index, k, reason, len(trial.values) - k)
    result = ReplayResult(policy=policy.describe())
    result.decisions = [stopped[i] for i in sorted(stopped)]
    result.total_intervals = sum(len(t.values) for t in ordered)
    result.saved_intervals = sum(d.intervals_saved for d in result.decisions)
    maximize = policy.maximize
    result.best_trial, result.best_score = _leader([(t, t.values) for t in ordered], maximize)
    result.best_trial_with_policy, result.best_score_with_policy = _leader(
        [(t, t.values[: stopped[t.index].interval] if t.index in stopped else t.values) for t in ordered], maximize
    )
    best_index = next((t.index for t in ordered if t.name == result.best_trial), None)
    result.best_survived = best_index is None or best_index not in stopped
    return result
