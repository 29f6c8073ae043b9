"""A trial's command line and environment, as Azure builds them (pure: no processes here)."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from azsweep.spec import LEGACY_REFERENCE, OPTIONAL_BLOCK, REFERENCE, JobSpec


def format_value(value: Any) -> str:
    """A sampled value as text: floats so that ``float()`` reads back the same number (``repr``),
    ints as ints, strings as they are, dicts (conditional choices) as JSON."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def render_command(
    template: str, params: Mapping[str, Any], inputs: Mapping[str, str | None], outputs: Mapping[str, str | Path]
) -> str:
    """``trial.command`` with ``${{search_space.x}}``, ``${{inputs.x}}`` and ``${{outputs.x}}`` substituted.

    The one renderer: trials run what it returns, and ``show`` prints the best trial's command with it.
    Every value is shell-quoted, so a Choice value like ``a; touch pwned`` stays one argument; a
    sampled value is written by ``format_value`` (text read back from MLflow stays as it is).
    ``[... ${{inputs.x}}]`` optional blocks are kept without brackets when x is given, dropped otherwise.
    """
    command = LEGACY_REFERENCE.sub(lambda m: "${{" + f"{m.group(1)}.{m.group(2)}" + "}}", template)

    def optional(m: re.Match[str]) -> str:
        block = m.group(0)[1:-1]  # without its brackets
        names = [r.group(2) for r in REFERENCE.finditer(block) if r.group(1) == "inputs"]
        return block if all(inputs.get(n) is not None for n in names) else ""

    command = OPTIONAL_BLOCK.sub(optional, command)

    def substitute(m: re.Match[str]) -> str:
        family, name = m.group(1), m.group(2)
        if family == "search_space":
            return shlex.quote(format_value(params[name]))
        if family == "inputs":
            return shlex.quote(str(inputs[name]))
        return shlex.quote(str(outputs[name]))

    return REFERENCE.sub(substitute, command)


def trial_environment(
    spec: JobSpec,
    params: Mapping[str, Any],
    literal_inputs: Mapping[str, str],
    *,
    job_name: str,
    experiment_name: str,
    workspace: Mapping[str, str],
    inputs: Mapping[str, str | None],
    outputs: Mapping[str, str | Path],
) -> dict[str, str]:
    """The variables Azure gives a trial (MLflow's variables are added by the runner):

    * ``AZUREML_SWEEP_<name>`` per sampled value, ``AZUREML_PARAMETER_<name>`` per literal input, then
      ``trial.environment_variables``;
    * Azure's own, which win over the user's: ``AZUREML_RUN_ID`` (``job_name``, the trial's name),
      ``AZUREML_ARM_SUBSCRIPTION`` / ``AZUREML_ARM_RESOURCEGROUP`` / ``AZUREML_ARM_WORKSPACE_NAME``
      (``workspace``: ``subscription_id`` / ``resource_group_name`` / ``workspace_name``, as
      ``workspace_config.read_config`` gives them), ``AZUREML_ARM_PROJECT_NAME`` (``experiment_name``),
      ``AZURE_ML_INPUT_<name>`` per input given (``inputs``: what ``${{inputs.name}}`` becomes) and
      ``AZURE_ML_OUTPUT_<name>`` per named output (``outputs``: its folder).
    """
    env = {f"AZUREML_SWEEP_{k}": format_value(v) for k, v in params.items()}
    env.update({f"AZUREML_PARAMETER_{k}": str(v) for k, v in literal_inputs.items()})
    env.update(spec.trial.environment_variables)
    env.update(
        {
            "AZUREML_RUN_ID": job_name,
            "AZUREML_ARM_SUBSCRIPTION": workspace["subscription_id"],
            "AZUREML_ARM_RESOURCEGROUP": workspace["resource_group_name"],
            "AZUREML_ARM_WORKSPACE_NAME": workspace["workspace_name"],
            "AZUREML_ARM_PROJECT_NAME": experiment_name,
        }
    )
    env.update({f"AZURE_ML_INPUT_{k}": str(v) for k, v in inputs.items() if v is not None})
    env.update({f"AZURE_ML_OUTPUT_{k}": str(v) for k, v in outputs.items()})
    return env
