"""One immutable, validated sweep spec, built from Azure's REST wire form; every rule of a definition once.

``build_spec`` reads the ``properties`` of the body azure-ai-ml would send (``searchSpace``,
``samplingAlgorithm``, ``objective``, ``limits``, ``earlyTermination``, ``trial``, ``inputs``,
``outputs``) and checks every rule Azure applies, plus those the service applies but the SDK lets
through. It returns the spec and the list of problems found, so ``validate`` and the runner share
one set of rules. Field paths in messages use the YAML names users write.

Where each thing lives:

* ``_model``: the value objects (``SweepSpec``, ``Algorithm``, ``Objective``, ...);
* ``_score``: which score is better, a curve's best value, a ranking (``better``, ``best_value``, ``ranked``,
  ``finite_score``);
* ``_wire``: the one YAML <-> REST vocabulary (``PROPERTIES``, ``FIELDS``, ``yaml_name``, ...);
* ``_rules``: ``build_spec`` and the public check functions (``check_max_total_trials``, ``parse_goal``, ...);
* ``_python``: Python arguments (strings, azure-ai-ml objects) turned into the wire form for the same rules.

Nothing here imports azure or mlflow.
"""

from __future__ import annotations

from azsweep.spec._model import (
    Algorithm,
    CommandSpec,
    DistributionSpec,
    InputSpec,
    JobSpec,
    Limits,
    Objective,
    Policy,
    SweepSpec,
    TrialSpec,
)
from azsweep.spec._python import PYTHON_ALGORITHMS, algorithm_wire, distribution_wire, policy_wire, python_algorithm
from azsweep.spec._rules import (
    ALGORITHMS,
    BAYESIAN_DISTRIBUTIONS,
    DEFAULT_MAX_TOTAL_TRIALS,
    GOALS,
    KEY_NAME,
    LEGACY_REFERENCE,
    MAX_TRIALS,
    OPTIONAL_BLOCK,
    POLICY_NAMES,
    RANDOM_RULES,
    REFERENCE,
    build_command_spec,
    build_spec,
    check_algorithm,
    check_algorithm_rules,
    check_environment_variables,
    check_key_name,
    check_max_total_trials,
    check_policy,
    check_yaml_integers,
    format_duration,
    has_errors,
    is_command_job,
    job_spec_from_rest,
    parse_duration,
    parse_goal,
    raise_first_error,
    spec_from_rest,
)
from azsweep.spec._score import best_item, best_value, better, finite_score, ranked
from azsweep.spec._wire import (
    ENTRY_FIELDS,
    FIELDS,
    PROPERTIES,
    YAML_NAMES,
    rest_name,
    section_from_rest,
    section_to_rest,
    yaml_name,
)

__all__ = [
    "ALGORITHMS",
    "BAYESIAN_DISTRIBUTIONS",
    "DEFAULT_MAX_TOTAL_TRIALS",
    "ENTRY_FIELDS",
    "FIELDS",
    "GOALS",
    "KEY_NAME",
    "LEGACY_REFERENCE",
    "MAX_TRIALS",
    "OPTIONAL_BLOCK",
    "POLICY_NAMES",
    "PROPERTIES",
    "PYTHON_ALGORITHMS",
    "RANDOM_RULES",
    "REFERENCE",
    "YAML_NAMES",
    "Algorithm",
    "CommandSpec",
    "DistributionSpec",
    "InputSpec",
    "JobSpec",
    "Limits",
    "Objective",
    "Policy",
    "SweepSpec",
    "TrialSpec",
    "algorithm_wire",
    "best_item",
    "best_value",
    "better",
    "build_command_spec",
    "build_spec",
    "check_algorithm",
    "check_environment_variables",
    "check_yaml_integers",
    "check_algorithm_rules",
    "check_key_name",
    "check_max_total_trials",
    "check_policy",
    "distribution_wire",
    "finite_score",
    "format_duration",
    "has_errors",
    "is_command_job",
    "job_spec_from_rest",
    "parse_duration",
    "parse_goal",
    "policy_wire",
    "python_algorithm",
    "raise_first_error",
    "ranked",
    "rest_name",
    "section_from_rest",
    "section_to_rest",
    "spec_from_rest",
    "yaml_name",
]
