"""Early-termination policies: should this running trial stop? Pure code; the runner acts."""

from __future__ import annotations

from collections.abc import Callable

from azsweep.policies._bandit import Bandit
from azsweep.policies._base import Curve, EarlyTermination, Prefix
from azsweep.policies._incremental import IncrementalJudge
from azsweep.policies._median import MedianStopping
from azsweep.policies._replay import RecordedTrial, ReplayResult, StopDecision, replay_curves
from azsweep.policies._truncation import TruncationSelection
from azsweep.spec import Policy

__all__ = [
    "Bandit",
    "Curve",
    "EarlyTermination",
    "IncrementalJudge",
    "MedianStopping",
    "Prefix",
    "RecordedTrial",
    "ReplayResult",
    "StopDecision",
    "TruncationSelection",
    "make_policy",
    "replay_curves",
]

_KINDS: dict[str, Callable[..., EarlyTermination]] = {
    "bandit": Bandit,
    "median_stopping": MedianStopping,
    "truncation_selection": TruncationSelection,
}


def make_policy(config: Policy, *, maximize: bool) -> EarlyTermination:
    """The policy object for a spec's ``early_termination``."""
    return _KINDS[config.kind](config, maximize=maximize)
