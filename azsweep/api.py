"""Library entry points for checking and sampling sweep definitions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from azsweep.errors import DefinitionError, InvalidValue, Problem
from azsweep.samplers import Sampler, make_sampler
from azsweep.space import SearchSpace, from_wire, parse_log_base
from azsweep.spec import Algorithm, check_algorithm_rules, distribution_wire, has_errors, python_algorithm


def validate(definition: Any) -> list[Problem]:
    """Every problem found in a job (errors and warnings): a YAML path (a sweep or command job; any other file
    gets one warning saying azsweep does not check it, as ``azsweep validate`` notes), a ``SweepJob``, a
    ``.sweep()`` node, a command job (``command(...)``, a ``CommandJob``) or a pipeline (a ``PipelineJob``,
    e.g. from a ``@pipeline`` function)."""
    import os

    if isinstance(definition, (str, os.PathLike)):
        from azsweep.validation import check_file

        report = check_file(os.fspath(definition))
        return [Problem("error" if f.severity == "error" else "warning", f.path, f.message) for f in report.findings]
    from azsweep.definition import load_job_spec
    from azsweep.pipeline_definition import is_pipeline, read_pipeline

    if is_pipeline(definition):
        return read_pipeline(definition).problems
    return load_job_spec(definition, commands=True)[1].problems


def load_job(path: Any) -> Any:
    """Read a CLI v2 sweep YAML (``type: sweep``) into azure-ai-ml's ``SweepJob``.

    The distributions in its search space are azsweep's (they add ``sample``); the REST form is
    unchanged. Raises ``DefinitionError`` with one line per problem when azure-ai-ml refuses the file.
    """
    from azsweep.definition import read_definition
    from azsweep.sweep import local_distribution

    d = read_definition(path)
    if d.job is None:
        raise DefinitionError(d.problems, d.source)
    d.job.search_space = {k: local_distribution(v) for k, v in (d.job.search_space or {}).items()}
    return d.job


def search_space_from(search_space: Mapping[str, Any], *, log_base: Any = None) -> SearchSpace:
    """A pure ``SearchSpace`` from a dict of name -> azsweep / azure-ai-ml distribution (or wire list)."""
    if not isinstance(search_space, Mapping) or not search_space:
        raise InvalidValue("search_space", f"must be a non-empty dict of name -> distribution (got {search_space!r})")
    base = parse_log_base(log_base)
    params = {}
    for name, dist in search_space.items():
        params[name] = from_wire(f"search_space.{name}", distribution_wire(dist), log_base=base)
    return SearchSpace(params)


def algorithm_from(sampling_algorithm: Any, seed: int | None = None) -> Algorithm:
    """An ``Algorithm`` from a string (random, sobol, grid, bayesian) or an azure-ai-ml algorithm object.

    The argument is turned into the REST form and checked by the same rule as a YAML file's
    ``sampling_algorithm`` (``azsweep.spec.check_algorithm``); errors name ``sampling_algorithm`` or ``seed``.
    """
    return python_algorithm(sampling_algorithm, seed)


def sample(
    search_space: Mapping[str, Any], n: int, *, sampling_algorithm: Any = "random", seed: int | None = None
) -> list[dict[str, Any]]:
    """The first ``n`` configurations a local run would try.

    Args:
        search_space: name -> distribution (azsweep's or azure-ai-ml's).
        n: how many; a grid returns at most its size.
        sampling_algorithm: "random", "sobol", "grid", "bayesian" or an azure-ai-ml algorithm object
            (``RandomSamplingAlgorithm(rule="sobol", seed=7, logbase=10)``).
        seed: used when the algorithm object carries none; None draws a fresh one.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise InvalidValue("n", f"must be an integer >= 0 (got {n!r})")
    # Bayesian: with no results, the proposals are its space-filling (Sobol) design.
    return checked_sampler(search_space, sampling_algorithm, seed).ask([], n) if n else []


def checked_sampler(
    search_space: Mapping[str, Any], sampling_algorithm: Any, seed: int | None, *, maximize: bool = False
) -> Sampler:
    """The sampler for a search space and an algorithm, after the algorithm's rules (grid: only choice, ...)."""
    algorithm = algorithm_from(sampling_algorithm, seed)
    space = search_space_from(search_space, log_base=algorithm.log_base)
    problems = check_algorithm_rules(space.params, algorithm.kind)
    if has_errors(problems):
        raise DefinitionError(problems)
    return make_sampler(algorithm, space, maximize=maximize)
