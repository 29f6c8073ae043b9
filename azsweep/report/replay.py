"""``azsweep replay``: run a finished sweep's recorded curves through an early-termination policy."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from azsweep.errors import DefinitionError, Problem
from azsweep.policies import RecordedTrial, ReplayResult, make_policy, replay_curves
from azsweep.spec import Policy, check_policy, has_errors, policy_wire


def policy_from(policy: Any, path: str = "early_termination") -> Policy:
    """A checked policy from a YAML-style dict (``{type: bandit, slack_factor: 0.1}``) or an azure-ai-ml
    policy object (``BanditPolicy(slack_factor=0.1)``). Raises ``DefinitionError`` naming the field."""
    checked, problems = check_policy(policy_wire(policy, path))
    if checked is None or has_errors(problems):
        raise DefinitionError([Problem(p.severity, p.path.replace("early_termination", path, 1), p.message) for p in problems])
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
    from azsweep.runner import Tracker

    tracker = tracker or Tracker()
    view = load_view(name, tracker)
    trials = []
    for t in view.trials:
        history = tracker.metric_history(t.run_id, view.primary_metric)
        trials.append(
            RecordedTrial(
                name=t.name, index=t.index, values=tuple(v for v, _ in history), timestamps=tuple(ts for _, ts in history)
            )
        )
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
