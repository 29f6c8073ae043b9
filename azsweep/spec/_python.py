"""Python arguments (strings, azure-ai-ml objects, YAML-style dicts) turned into the REST wire form, so they
go through the same rules as a YAML file; errors name the Python arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from azsweep.errors import InvalidValue
from azsweep.space import shown
from azsweep.spec._model import Algorithm
from azsweep.spec._rules import check_algorithm
from azsweep.spec._wire import FIELDS, section_to_rest

PYTHON_ALGORITHMS = ("random", "sobol", "grid", "bayesian")  # "sobol" is short for random with rule sobol


def algorithm_wire(sampling_algorithm: Any, seed: Any = None) -> dict[str, Any]:
    """The REST ``samplingAlgorithm`` of a string (random, sobol, grid, bayesian; any case) or an azure-ai-ml
    algorithm object; ``seed``, when given, wins over the object's. Nothing is checked here."""
    fields: dict[str, Any]
    if isinstance(sampling_algorithm, str):
        kind = sampling_algorithm.lower()
        fields = {"type": "random", "rule": "sobol"} if kind == "sobol" else {"type": kind}
    else:
        fields = {name: getattr(sampling_algorithm, name, None) for name in FIELDS["sampling_algorithm"]}
        if isinstance(fields["rule"], str):
            fields["rule"] = fields["rule"].lower()
    if seed is not None:
        fields["seed"] = seed
    return section_to_rest("sampling_algorithm", {k: v for k, v in fields.items() if v is not None})


def python_algorithm(sampling_algorithm: Any, seed: Any = None) -> Algorithm:
    """``check_algorithm`` applied to ``algorithm_wire``; a seed must be an int.

    Raises:
        InvalidValue: naming the Python argument (``sampling_algorithm``, ``seed``) or the algorithm's field,
            the arguments before the object's other fields (rule, logbase).
    """
    wire = algorithm_wire(sampling_algorithm, seed)
    keys = FIELDS["sampling_algorithm"]
    arguments = {k: v for k, v in wire.items() if k in (keys["type"], keys["seed"])}
    for part in (arguments, wire):
        algorithm, problems = check_algorithm(part, integer_seed=True)
        if problems:
            problem = problems[0]
            if problem.path == "sampling_algorithm":
                raise InvalidValue(
                    "sampling_algorithm",
                    f"must be {', '.join(PYTHON_ALGORITHMS[:-1])} or {PYTHON_ALGORITHMS[-1]} (got {shown(sampling_algorithm)})",
                )
            if problem.path == "sampling_algorithm.seed":
                raise InvalidValue("seed", f"must be an integer >= 0 (got {shown(wire[keys['seed']])})")
            raise InvalidValue(problem.path, problem.message)
    assert algorithm is not None  # no problem means an algorithm
    return algorithm


def distribution_wire(dist: Any) -> Any:
    """The REST form (``["uniform", [0, 1]]``) of an azsweep or azure-ai-ml distribution; anything else as is."""
    return dist._to_rest_object() if hasattr(dist, "_to_rest_object") else dist


def policy_wire(policy: Any, path: str = "early_termination") -> dict[str, Any]:
    """The REST ``earlyTermination`` of a YAML-style dict (``{type: bandit, slack_factor: 0.1}``) or an
    azure-ai-ml policy object (``BanditPolicy(slack_factor=0.1)``); fields that are None are left out.

    Raises:
        InvalidValue: not a policy, an unknown field, or no type (naming ``path``).
    """
    names = FIELDS["early_termination"]
    if hasattr(policy, "_to_rest_object") and hasattr(policy, "type"):
        policy = {name: getattr(policy, name, None) for name in names}
    if not isinstance(policy, Mapping):
        raise InvalidValue(path, f"expected a policy such as {{type: bandit, slack_factor: 0.1}} (got {shown(policy)})")
    unknown = sorted(set(policy) - set(names))
    if unknown:
        raise InvalidValue(f"{path}.{unknown[0]}", f"unknown field; accepted: {', '.join(names)}")
    if not policy.get("type"):
        raise InvalidValue(f"{path}.type", "is required: bandit, median_stopping or truncation_selection")
    return section_to_rest("early_termination", {k: v for k, v in policy.items() if v is not None})
