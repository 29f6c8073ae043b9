"""In-process optimization: the sweep samplers driving a Python callable instead of trial processes.

For notebooks, quick prototyping and benchmarks. The search space, sampling algorithms and their
rules are the same as a sweep's; each trial is one call ``fn(params) -> float`` in this process.
Nothing here imports azure or mlflow (unless the search space holds azure-ai-ml objects).

The module is not named ``optimize`` on purpose: importing a submodule binds its name on the
package, which would shadow the lazily exported function ``azsweep.optimize``.
"""

from __future__ import annotations

import copy
import math
import numbers
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from azsweep.api import checked_sampler
from azsweep.errors import InvalidValue, SweepFailed
from azsweep.samplers import Observation
from azsweep.spec import best_item, check_max_total_trials, parse_goal

__all__ = ["OptimizeResult", "TrialResult", "optimize"]

TrialState = Literal["completed", "failed"]


@dataclass(frozen=True)
class TrialResult:
    """One call of the objective: what was tried, what came back, and how long it took."""

    index: int
    params: dict[str, Any]
    value: float | None  # None when the trial failed
    state: TrialState
    error: str | None  # "ExceptionType: message", or why the returned value was refused
    duration: float  # seconds


@dataclass(frozen=True)
class OptimizeResult:
    """The outcome of ``optimize``: the best trial and every trial in proposal order."""

    best_params: dict[str, Any]
    best_value: float
    best_trial: int  # index into ``trials``
    trials: list[TrialResult]
    seed: int  # the seed the sampler used: pass it back to repeat the run
    goal: Literal["minimize", "maximize"]


def optimize(
    fn: Callable[[dict[str, Any]], float],
    *,
    search_space: Mapping[str, Any],
    goal: str,
    sampling_algorithm: Any = "random",
    max_total_trials: int,
    seed: int | None = None,
) -> OptimizeResult:
    """Minimize or maximize ``fn`` over a search space with a sweep's samplers, one call per trial.

    Configurations are asked for one at a time, after the previous result is recorded, so a
    model-based sampler can use every result so far. A call that raises, or returns NaN or a
    non-number, is recorded as a failed trial and the loop goes on; ``inf`` is a valid value.
    A grid stops when exhausted. Ties go to the earlier trial.

    Args:
        fn: the objective; receives a fresh dict of sampled values per call.
        search_space: name -> distribution (azsweep's, azure-ai-ml's, or the REST list form).
        goal: "minimize" or "maximize" (any case).
        sampling_algorithm: "random", "sobol", "grid", "bayesian" or an azure-ai-ml algorithm object.
        max_total_trials: how many calls at most, from 1 to a sweep's limit (``azsweep.spec.MAX_TRIALS``).
        seed: the sampler's seed (wins over one carried by the algorithm object); None draws a
            fresh one, reported as ``result.seed``.

    Raises:
        InvalidValue: a bad argument, naming it and the value.
        DefinitionError: the search space breaks the sampling algorithm's rules.
        SweepFailed: no trial succeeded (the message includes the first error).
    """
    if not callable(fn):
        raise InvalidValue("fn", f"must be callable, taking a dict of params and returning a number (got {fn!r})")
    maximize = parse_goal(goal, "goal") == "maximize"
    check_max_total_trials(max_total_trials, "max_total_trials", integer_only=True)

    sampler = checked_sampler(search_space, sampling_algorithm, seed, maximize=maximize)

    history: list[Observation] = []
    trials: list[TrialResult] = []
    first_exception: BaseException | None = None
    for index in range(max_total_trials):
        if sampler.is_exhausted(history):
            break
        proposed = sampler.ask(history, 1)
        if not proposed:
            break
        params = proposed[0]
        start = time.perf_counter()
        try:
            value, error = _checked(fn(copy.deepcopy(params)))
        except Exception as exc:  # the objective's own failure: recorded, and the loop goes on
            value, error = None, f"{type(exc).__name__}: {exc}"
            first_exception = first_exception or exc
        duration = time.perf_counter() - start
        state: TrialState = "failed" if value is None else "completed"
        trials.append(TrialResult(index=index, params=params, value=value, state=state, error=error, duration=duration))
        history.append(Observation(params=params, value=value, state=state))

    best = best_item(trials, score=lambda t: t.value, maximize=maximize)  # the earlier trial on a tie
    if best is None:
        if not trials:
            raise SweepFailed("the sampler proposed no configuration")
        first_error = " ".join(str(trials[0].error).split())  # one line
        raise SweepFailed(f"all {len(trials)} trials failed; first error (trial 0): {first_error}") from first_exception
    assert best.value is not None  # the best trial has a value
    return OptimizeResult(
        best_params=best.params,
        best_value=best.value,
        best_trial=best.index,
        trials=trials,
        seed=sampler.seed,
        goal="maximize" if maximize else "minimize",
    )


def _checked(returned: Any) -> tuple[float | None, str | None]:
    """The objective's value as a float, or None and the reason it is refused."""
    value = returned
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        return None, f"fn must return a number (got {returned!r} of type {type(returned).__name__})"
    value = float(value)
    if math.isnan(value):
        return None, "fn returned NaN"
    return value, None
