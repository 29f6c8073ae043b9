"""``azsweep replay``: run a finished sweep's recorded curves through an early-termination policy."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from azsweep.errors import DefinitionError, InvalidValue, Problem
from azsweep.policies import RecordedTrial, ReplayResult, make_policy, replay_curves
from azsweep.spec import Policy, _Collector, _policy

_REST_KEYS = {
    "type": "policyType", "evaluation_interval": "evaluationInterval", "delay_evaluation": "delayEvaluation",
    "slack_factor": "slackFactor", "slack_amount": "slackAmount", "truncation_percentage": "truncationPercentage",
}


def policy_from(policy: Any, path: str = "early_termination") -> Policy:
    """A checked policy from a YAML-style dict (``{type: bandit, slack_factor: 0.1}``) or an azure-ai-ml
    policy object (``BanditPolicy(slack_factor=0.1)``). Raises ``DefinitionError`` naming the field."""
    if hasattr(policy, "_to_rest_object") and hasattr(policy, "type"):
        policy = {key: getattr(policy, key, None) for key in _REST_KEYS}
    if not isinstance(policy, Mapping):
        raise InvalidValue(path, f"expected a policy such as {{type: bandit, slack_factor: 0.1}} (got {policy!r})")
    unknown = sorted(set(policy) - set(_REST_KEYS))
    if unknown:
        raise InvalidValue(f"{path}.{unknown[0]}", f"unknown field; accepted: {', '.join(_REST_KEYS)}")
    wire = {_REST_KEYS[k]: v for k, v in policy.items() if v is not None}
    if not wire.get("policyType"):
        raise InvalidValue(f"{path}.type", "is required: bandit, median_stopping or truncation_selection")
    out = _Collector()
    checked = _policy(wire, out)
    errors = [p for p in out.problems if p.severity == "error"]
    if checked is None or errors:
        raise DefinitionError([Problem(p.severity, p.path.replace("early_termination", path, 1), p.message)
                               for p in out.problems])
    return checked


def policy_from_file(file: str | Path) -> Policy:
    """The ``early_termination`` block of a YAML file (a whole sweep YAML, or just the block)."""
    import yaml

    data = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
    if isinstance(data, Mapping) and "early_termination" in data:
        data = data["early_termination"]
    return policy_from(data, path=f"{file}: early_termination")


def recorded_trials(name: str, tracker: Any = None) -> tuple[list[RecordedTrial], str, str]:
    """The recorded primary-metric curves of sweep ``name`` from MLflow, with the metric and the goal."""
    from azsweep.report import load_view
    from azsweep.runner._tracking import Tracker

    tracker = tracker or Tracker()
    view = load_view(name, tracker)
    trials = []
    for t in view.trials:
        history = tracker.metric_history(t.run_id, view.primary_metric)
        trials.append(RecordedTrial(name=t.name, index=t.index, values=tuple(v for v, _ in history),
                                    timestamps=tuple(ts for _, ts in history)))
    return trials, view.primary_metric, view.goal


def replay(name: str, policy: Any, *, tracker: Any = None) -> ReplayResult:
    """Which trials of the recorded sweep ``name`` ``policy`` would have stopped, and what it saves.

    Args:
        name: a local sweep's name.
        policy: an azure-ai-ml policy object (``BanditPolicy(slack_factor=0.1, ...)``), a YAML-style dict,
            or an ``azsweep.spec.Policy``.
    """
    config = policy if isinstance(policy, Policy) else policy_from(policy)
    trials, _, goal = recorded_trials(name, tracker)
    return replay_curves(trials, make_policy(config, maximize=goal == "maximize"))
