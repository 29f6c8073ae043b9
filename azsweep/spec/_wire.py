"""The one YAML <-> REST vocabulary of a sweep job: top-level names, sections and each section's fields.

YAML names are what users write and what problem paths name (``early_termination.slack_factor``);
REST names are what azure-ai-ml sends (``earlyTermination.slackFactor``). Every translation between
the two goes through these tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Top level of a sweep job: YAML name -> REST name in the body's ``properties``.
PROPERTIES: Mapping[str, str] = {
    "name": "name",
    "display_name": "displayName",
    "experiment_name": "experimentName",
    "description": "description",
    "tags": "tags",
    "compute": "computeId",
    "search_space": "searchSpace",
    "sampling_algorithm": "samplingAlgorithm",
    "objective": "objective",
    "limits": "limits",
    "early_termination": "earlyTermination",
    "trial": "trial",
    "inputs": "inputs",
    "outputs": "outputs",
}
# REST name -> YAML name, for the top level.
YAML_NAMES: Mapping[str, str] = {rest: yaml for yaml, rest in PROPERTIES.items()}

# Each section with fixed fields: YAML field -> REST key.
FIELDS: Mapping[str, Mapping[str, str]] = {
    "sampling_algorithm": {"type": "samplingAlgorithmType", "seed": "seed", "rule": "rule", "logbase": "logbase"},
    "objective": {"goal": "goal", "primary_metric": "primaryMetric"},
    "limits": {
        "max_total_trials": "maxTotalTrials",
        "max_concurrent_trials": "maxConcurrentTrials",
        "timeout": "timeout",
        "trial_timeout": "trialTimeout",
    },
    "early_termination": {
        "type": "policyType",
        "evaluation_interval": "evaluationInterval",
        "delay_evaluation": "delayEvaluation",
        "slack_factor": "slackFactor",
        "slack_amount": "slackAmount",
        "truncation_percentage": "truncationPercentage",
    },
    "trial": {
        "command": "command",
        "code": "codeId",
        "environment": "environmentId",
        "environment_variables": "environmentVariables",
        "distribution": "distribution",
        "resources": "resources",
    },
}
# The fields of each entry of the name -> entry sections (one input, one output).
ENTRY_FIELDS: Mapping[str, Mapping[str, str]] = {
    "inputs": {"type": "jobInputType", "value": "value", "path": "uri", "mode": "mode"},
    "outputs": {"type": "jobOutputType"},
}


def yaml_name(rest_key: str) -> str:
    """The YAML name of a top-level REST key (``computeId`` -> ``compute``); an unknown key is returned as is."""
    return YAML_NAMES.get(rest_key, rest_key)


def rest_name(yaml_key: str) -> str:
    """The REST key of a top-level YAML name (``compute`` -> ``computeId``); an unknown name is returned as is."""
    return PROPERTIES.get(yaml_key, yaml_key)


def _table(section: str) -> Mapping[str, str]:
    return FIELDS[section] if section in FIELDS else ENTRY_FIELDS[section]


def section_from_rest(section: str, wire: Any) -> dict[str, Any]:
    """A REST section (or one input / output entry) by YAML field names; unknown keys are left out, and
    anything but a mapping reads as empty."""
    if not isinstance(wire, Mapping):
        return {}
    return {name: wire[key] for name, key in _table(section).items() if key in wire}


def section_to_rest(section: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """YAML fields of a section (or of one input / output entry) by their REST keys; unknown fields are left out."""
    table = _table(section)
    return {table[name]: value for name, value in values.items() if name in table}
