"""Benchmark problems as azsweep search spaces: standard test functions with known optima, and one real tuning task.

Every problem is minimized. ``optimum`` is the known minimum over the search space as written
(for the variants with quniform and choice dimensions it is the minimum over that mixed domain,
computed once by exhaustive search over the discrete part and multi-start L-BFGS-B over the rest).
The real task's optimum is unknown: its regret is measured from the best value any run found.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from azsweep.sweep import Choice, QUniform, Uniform


@dataclass(frozen=True)
class Problem:
    name: str
    space: dict[str, Any]  # name -> azsweep distribution (uniform, quniform, choice only)
    fn: Callable[[dict[str, Any]], float]
    optimum: float | None  # None: unknown (regret from the best value seen in the benchmark)
    main: bool = True  # one of the six problems the goal is stated on
    note: str = field(default="")


# --- test functions on plain vectors -----------------------------------------------------------


def branin(x: np.ndarray) -> float:
    x1, x2 = x
    return float(
        (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10
    )


_HA = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_HP = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_HALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(x: np.ndarray) -> float:
    return float(-np.sum(_HALPHA * np.exp(-np.sum(_HA * (x - _HP) ** 2, axis=1))))


def rosenbrock(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def ackley(x: np.ndarray) -> float:
    d = len(x)
    return float(
        -20 * math.exp(-0.2 * math.sqrt(np.sum(x * x) / d)) - math.exp(np.sum(np.cos(2 * math.pi * x)) / d) + 20 + math.e
    )


def levy(x: np.ndarray) -> float:
    w = 1 + (x - 1) / 4
    return float(
        math.sin(math.pi * w[0]) ** 2
        + np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
        + (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    )


# --- search spaces -----------------------------------------------------------------------------


def _vector(names: list[str], decode: dict[str, Callable[[Any], float]] | None = None) -> Callable[[dict[str, Any]], np.ndarray]:
    decode = decode or {}
    return lambda p: np.array([decode[n](p[n]) if n in decode else float(p[n]) for n in names])


def _problem(
    name: str,
    f: Callable[[np.ndarray], float],
    space: dict[str, Any],
    optimum: float | None,
    decode: dict[str, Callable[[Any], float]] | None = None,
    main: bool = True,
    note: str = "",
) -> Problem:
    vector = _vector(list(space), decode)
    return Problem(name=name, space=space, fn=lambda p: f(vector(p)), optimum=optimum, main=main, note=note)


def _mixed_optimum(
    f: Callable[[np.ndarray], float], continuous: list[tuple[float, float]], discrete: list[list[float]], order: list[int]
) -> float:
    """min f over continuous boxes x discrete sets; ``order`` maps (continuous..., discrete...) to f's argument order."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    best = math.inf
    bounds = np.array(continuous)
    for combo in itertools.product(*discrete):

        def g(c: np.ndarray, combo: tuple[float, ...] = combo) -> float:
            full = np.concatenate([c, combo])
            return f(full[np.argsort(order)])

        starts = bounds[:, 0] + rng.random((20, len(bounds))) * (bounds[:, 1] - bounds[:, 0])
        for start in starts:
            best = min(best, float(minimize(g, start, method="L-BFGS-B", bounds=bounds).fun))
    return best


@functools.lru_cache(maxsize=1)
def problems() -> tuple[Problem, ...]:
    """The benchmark problems: the five test functions on uniform spaces, the tuning task, then the mixed variants."""
    u = Uniform
    hartmann_levels = {"a": 0.15, "b": 0.45, "c": 0.65, "d": 0.9}
    ackley_levels = ["-20", "-5", "0", "5", "20"]
    out = [
        _problem("branin", branin, {"x1": u(-5, 10), "x2": u(0, 15)}, 0.397887357729739),
        _problem("hartmann6", hartmann6, {f"x{i}": u(0, 1) for i in range(6)}, -3.32236801141551),
        _problem("rosenbrock4", rosenbrock, {f"x{i}": u(-5, 10) for i in range(4)}, 0.0),
        _problem("ackley5", ackley, {f"x{i}": u(-32.768, 32.768) for i in range(5)}, 0.0),
        _problem("levy4", levy, {f"x{i}": u(-10, 10) for i in range(4)}, 0.0),
        svc_digits(),
        # variants with quniform and choice dimensions (not part of the goal's six)
        _problem(
            "branin-q",
            branin,
            {"x1": QUniform(-5, 10, 1), "x2": u(0, 15)},
            _mixed_optimum(branin, [(0, 15)], [list(range(-5, 11))], [1, 0]),
            main=False,
            note="x1 integer (quniform q=1)",
        ),
        _problem(
            "hartmann6-mixed",
            hartmann6,
            {
                "x0": u(0, 1),
                "x1": u(0, 1),
                "x2": u(0, 1),
                "x3": u(0, 1),
                "x4": QUniform(0, 10, 1),
                "x5": Choice(list(hartmann_levels)),
            },
            _mixed_optimum(
                hartmann6, [(0, 1)] * 4, [[i / 10 for i in range(11)], list(hartmann_levels.values())], [0, 1, 2, 3, 4, 5]
            ),
            decode={"x4": lambda v: v / 10, "x5": hartmann_levels.__getitem__},
            main=False,
            note="x4 quniform 0..10 (/10), x5 a choice of 4 strings",
        ),
        _problem(
            "rosenbrock4-int",
            rosenbrock,
            {f"x{i}": QUniform(-5, 10, 1) for i in range(4)},
            0.0,
            main=False,
            note="all four integer (quniform q=1), 16^4 points",
        ),
        _problem(
            "ackley5-mixed",
            ackley,
            {
                "x0": u(-32.768, 32.768),
                "x1": u(-32.768, 32.768),
                "x2": u(-32.768, 32.768),
                "x3": QUniform(-32, 32, 1),
                "x4": Choice(ackley_levels),
            },
            0.0,
            decode={"x4": float},
            main=False,
            note="x3 integer, x4 a choice of 5 strings",
        ),
        _problem(
            "levy4-mixed",
            levy,
            {"x0": u(-10, 10), "x1": u(-10, 10), "x2": QUniform(-10, 10, 1), "x3": Choice([-10, -5, -1, 0, 1, 5, 10])},
            0.0,
            main=False,
            note="x2 integer, x3 a choice of 7 numbers",
        ),
    ]
    return tuple(out)


def svc_digits() -> Problem:
    """3-fold cross-validated error of an SVC on scikit-learn's digits (1797 images), ~0.05-0.3 s per evaluation."""
    space = {
        "kernel": Choice(["rbf", "poly", "sigmoid"]),
        "log10_C": Uniform(-3, 4),
        "log10_gamma": Uniform(-6, 1),
        "degree": QUniform(2, 5, 1),
        "coef0": Uniform(-1, 1),
    }
    return Problem(
        name="svc-digits",
        space=space,
        fn=_svc_error,
        optimum=None,
        note="SVC on sklearn digits, 3-fold CV error; kernel choice, C and gamma as log10 uniforms, degree quniform",
    )


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import StratifiedKFold

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(x, y))
    return x, y, folds


def _svc_error(p: dict[str, Any]) -> float:
    import warnings

    from sklearn.svm import SVC

    x, y, folds = _digits()
    errors = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
        for train, test in folds:
            model = SVC(
                kernel=p["kernel"],
                C=10.0 ** p["log10_C"],
                gamma=10.0 ** p["log10_gamma"],
                degree=int(p["degree"]),
                coef0=float(p["coef0"]),
                max_iter=20000,
            )
            model.fit(x[train], y[train])
            errors.append(float(np.mean(model.predict(x[test]) != y[test])))
    return float(np.mean(errors))


def by_name(name: str) -> Problem:
    for problem in problems():
        if problem.name == name:
            return problem
    raise KeyError(f"unknown problem {name!r}; known: {', '.join(p.name for p in problems())}")
