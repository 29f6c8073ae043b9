"""Search spaces as pure sampling functions over the unit cube.

Every distribution maps points of [0, 1)^dims to values through its inverse CDF, so random,
Sobol and model-based samplers share one transform and never branch on the distribution type.
Formulas are Azure's (hyperopt's): ``randint`` on [0, upper); ``loguniform`` = base ** U(min, max)
(the bounds are exponents); ``lognormal`` = base ** N(mu, sigma); each Q-variant is
``round(x / q) * q`` (round half to even, not clipped). Randint values, and Q-variant values whose
q is a whole number, are ints. The wire form is Azure's REST list, e.g. ``["uniform", [0, 1]]``.

Nothing here imports azure or mlflow.
"""

from __future__ import annotations

import functools
import gc
import math
import numbers
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from azsweep.errors import InvalidValue

# Each distribution type and the names of its arguments, in the order of the wire list (the YAML field names).
DISTRIBUTION_ARGS: dict[str, tuple[str, ...]] = {
    "choice": ("values",),
    "randint": ("upper",),
    "uniform": ("min_value", "max_value"),
    "loguniform": ("min_value", "max_value"),
    "quniform": ("min_value", "max_value", "q"),
    "qloguniform": ("min_value", "max_value", "q"),
    "normal": ("mu", "sigma"),
    "lognormal": ("mu", "sigma"),
    "qnormal": ("mu", "sigma", "q"),
    "qlognormal": ("mu", "sigma", "q"),
}
DISTRIBUTION_TYPES = tuple(DISTRIBUTION_ARGS)
LOG_DISTRIBUTIONS = tuple(t for t in DISTRIBUTION_TYPES if "log" in t)  # values are base ** (a uniform or normal)
LINEAR_DISTRIBUTIONS = tuple(t for t in DISTRIBUTION_TYPES if t != "choice" and t not in LOG_DISTRIBUTIONS)
_TINY = np.nextafter(0.0, 1.0)
# The standard-normal quantiles of the smallest and largest unit points a sampler draws (5e-324 and 1 - 2**-53):
# every normal sample lies in [mu + _Z_LOW * sigma, mu + _Z_HIGH * sigma].
_Z_LOW, _Z_HIGH = -38.467405617144344, 8.209536151601387
_LOG_MAX = math.log(np.finfo(np.float64).max)  # exp(x) overflows to inf above this
RANDINT_MAX = 2**53  # randint values are drawn through a float64, exact up to 2**53
SHOWN_CHARS = 200  # the longest value echoed in a message


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` for a message, cut to about ``limit`` characters; a huge (or alias-bomb) nested value is
    abbreviated without being rendered in full first."""
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxset = 4, 12, 12, 8, 8
    r.maxstring, r.maxother, r.maxlong = limit, limit, limit
    try:
        text = r.repr(value)
    except Exception:  # a value whose repr fails: its type is enough
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _number(path: str, name: str, value: Any) -> float:
    if not _is_number(value):
        raise InvalidValue(path, f"{name} must be a number (got {shown(value)})")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int too large for a float
        finite = False
    if not finite:
        raise InvalidValue(path, f"{name} must be a finite number (got {shown(value)})")
    return value


class Distribution:
    """A distribution over one search-space entry, sampled from unit-cube columns."""

    dims = 1  # unit-cube columns this distribution uses
    wire_type: str

    def from_unit(self, u: np.ndarray) -> list[Any]:
        """Map an ``(n, dims)`` array of points in [0, 1) to n Python values."""
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, n: int) -> list[Any]:
        """Draw n values."""
        return self.from_unit(rng.random((n, self.dims)))

    @property
    def is_numeric(self) -> bool:
        return True


@dataclass(frozen=True)
class Continuous(Distribution):
    """uniform / loguniform / normal / lognormal, optionally quantised by q."""

    wire_type: str
    a: float  # min_value or mu
    b: float  # max_value or sigma
    q: float | None = None
    log_base: float = math.e

    @property
    def normal(self) -> bool:
        return "normal" in self.wire_type

    @property
    def log(self) -> bool:
        return self.wire_type in LOG_DISTRIBUTIONS

    @property
    def integral(self) -> bool:
        """Values come back as ints (q is a whole number)."""
        return self.q is not None and float(self.q).is_integer()

    def raw_from_unit(self, u: np.ndarray) -> np.ndarray:
        """Unquantised float values for a 1-d array of unit points."""
        if self.normal:
            from scipy.special import ndtri  # imported here: scipy is slow to import

            x = self.a + self.b * ndtri(np.maximum(u, _TINY))
        else:
            x = self.a + u * (self.b - self.a)
        if self.log:
            x = np.power(self.log_base, x) if self.log_base != math.e else np.exp(x)
        return x

    def values_from_unit(self, u: np.ndarray) -> np.ndarray:
        x = self.raw_from_unit(u)
        if self.q is not None:
            x = np.round(x / self.q) * self.q
            if self.integral:
                return x.astype(np.int64)
        return x

    def from_unit(self, u: np.ndarray) -> list[Any]:
        return self.values_from_unit(u[:, 0]).tolist()


@dataclass(frozen=True)
class Randint(Distribution):
    """Integers uniform on [0, upper)."""

    upper: int
    wire_type: str = "randint"

    def values_from_unit(self, u: np.ndarray) -> np.ndarray:
        return np.minimum((u * self.upper).astype(np.int64), self.upper - 1)

    def from_unit(self, u: np.ndarray) -> list[Any]:
        return self.values_from_unit(u[:, 0]).tolist()


@dataclass(frozen=True)
class Choice(Distribution):
    """One of ``values``, uniformly; a dict value may hold distributions (a conditional space)."""

    values: tuple[Any, ...]
    wire_type: str = "choice"
    # For each value: the nested distributions of a dict value (name -> Distribution), else {}.
    nested: tuple[Mapping[str, Distribution], ...] = field(default=(), compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dims", 1 + sum(d.dims for sub in self.nested for d in sub.values()))

    @property
    def conditional(self) -> bool:
        return any(self.nested)

    @property
    def is_numeric(self) -> bool:
        return all(_is_number(v) for v in self.values)

    def index_from_unit(self, u: np.ndarray) -> np.ndarray:
        n = len(self.values)
        return np.minimum((u * n).astype(np.int64), n - 1)

    def from_unit(self, u: np.ndarray) -> list[Any]:
        index = self.index_from_unit(u[:, 0])
        if not self.conditional:
            if any(isinstance(v, Mapping) for v in self.values):  # a fresh dict per row, as for conditional ones
                return [dict(self.values[i]) for i in index.tolist()]
            return list(map(self.values.__getitem__, index.tolist()))
        # Each option's nested distributions own their own columns, so every option is computed
        # for every row (vectorised) and the chosen one is assembled per row.
        column = 1
        per_option: list[dict[str, list[Any]]] = []
        for sub in self.nested:
            drawn: dict[str, list[Any]] = {}
            for name, dist in sub.items():
                drawn[name] = dist.from_unit(u[:, column : column + dist.dims])
                column += dist.dims
            per_option.append(drawn)
        out: list[Any] = []
        for row, i in enumerate(index.tolist()):
            value = dict(self.values[i])
            for name, drawn_values in per_option[i].items():
                value[name] = drawn_values[row]
            out.append(value)
        return out


class SearchSpace:
    """An ordered mapping of parameter name -> distribution, sampled as one unit cube."""

    def __init__(self, params: Mapping[str, Distribution]) -> None:
        self.params: dict[str, Distribution] = dict(params)
        self.names: tuple[str, ...] = tuple(self.params)
        self.dims: int = sum(d.dims for d in self.params.values())

    def __repr__(self) -> str:
        return f"SearchSpace({self.params!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.params == other.params

    def from_unit(self, u: np.ndarray) -> list[dict[str, Any]]:
        """Map an ``(n, dims)`` array of unit points to n configurations."""
        columns = []
        start = 0
        for dist in self.params.values():
            columns.append(dist.from_unit(u[:, start : start + dist.dims]))
            start += dist.dims
        paused = gc.isenabled()
        gc.disable()  # building many small dicts triggers needless collections
        try:
            return _row_builder(self.names)(*columns)
        finally:
            if paused:
                gc.enable()


@functools.lru_cache(maxsize=64)
def _row_builder(names: tuple[str, ...]) -> Any:
    """A compiled ``(*columns) -> list[dict]``: a dict display is about twice as fast as ``dict(zip())``,
    which matters when sampling 100,000 configurations."""
    args = ", ".join(f"c{i}" for i in range(len(names)))
    items = ", ".join(f"{name!r}: x{i}" for i, name in enumerate(names))
    xs = ", ".join(f"x{i}" for i in range(len(names)))
    source = f"lambda {args}: [{{{items}}} for ({xs},) in zip({args})]"
    return eval(compile(source, "<azsweep.space rows>", "eval"), {})  # names are checked identifiers


# --- wire form -> distributions ---------------------------------------------------------------


def from_wire(path: str, wire: Any, *, log_base: float = math.e, nested: bool = False) -> Distribution:
    """Build a distribution from Azure's REST form, checking every value rule.

    Raises:
        InvalidValue: naming ``path``, the rule and the value.
    """
    if not (isinstance(wire, (list, tuple)) and len(wire) == 2 and isinstance(wire[0], str)):
        raise InvalidValue(path, f"expected a distribution like ['uniform', [0, 1]] (got {shown(wire)})")
    kind, args = wire[0].lower(), wire[1]
    if kind not in DISTRIBUTION_TYPES:
        raise InvalidValue(path, f"unknown distribution type {shown(wire[0])}; accepted: {', '.join(DISTRIBUTION_TYPES)}")
    if not isinstance(args, (list, tuple)):
        raise InvalidValue(path, f"{kind} arguments must be a list (got {shown(args)})")
    if kind == "choice":
        values = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
        return _choice(path, list(values), log_base=log_base, nested=nested)
    names = DISTRIBUTION_ARGS[kind]
    if kind == "randint":
        _arity(path, kind, args, *names)
        upper = args[0]
        upper = _number(path, "upper", upper)
        if not float(upper).is_integer():
            raise InvalidValue(path, f"Randint needs a whole-number upper (got {shown(upper)})")
        if upper < 1:
            raise InvalidValue(path, f"Randint needs upper >= 1, values are drawn from [0, upper) (got {shown(upper)})")
        if upper > RANDINT_MAX:
            raise InvalidValue(path, f"Randint needs upper <= 2**53, the largest integer a float holds exactly (got {upper:g})")
        return Randint(upper=int(upper))
    quantised = names[-1] == "q"
    is_normal = names[0] == "mu"
    log = kind in LOG_DISTRIBUTIONS
    _arity(path, kind, args, *names)
    a = _number(path, names[0], args[0])
    b = _number(path, names[1], args[1])
    title = _TITLES[kind]
    if is_normal and b < 0:
        raise InvalidValue(path, f"{title} needs sigma >= 0 (got {b!r})")
    if not is_normal:
        if log and a > b:
            raise InvalidValue(path, f"{title} needs min_value <= max_value (got {a!r} and {b!r})")
        if not log and a >= b:
            raise InvalidValue(path, f"{title} needs min_value < max_value (got {a!r} and {b!r})")
    q = None
    if quantised:
        q = _number(path, "q", args[2])
        if q <= 0:
            raise InvalidValue(path, f"{title} needs q > 0 (got {q!r})")
    if log and not is_normal:
        top = b * math.log(log_base)
        if top > 709:
            raise InvalidValue(
                path,
                f"{title} bounds are exponents: max_value {b!r} gives {log_base:g}**{b!r}, which overflows "
                "a float (did you mean math.log of the bound?)",
            )
    overflow = _overflow(kind, float(a), float(b), q, log_base)
    if overflow:
        raise InvalidValue(path, f"{title} samples would overflow to inf: {overflow}")
    return Continuous(wire_type=kind, a=a, b=b, q=q, log_base=log_base)


def _overflow(kind: str, a: float, b: float, q: float | None, log_base: float) -> str | None:
    """Why some sample of this distribution would be +-inf (or an int that does not fit int64), else None.

    The range is what the samplers can reach: [a, b] for the uniforms, [mu + _Z_LOW * sigma, mu + _Z_HIGH * sigma]
    for the normals (the unit points are in [5e-324, 1 - 2**-53]); log distributions raise the base to it.
    """
    normal = "normal" in kind
    got = f"(got mu={a!r}, sigma={b!r})" if normal else f"(got min_value={a!r}, max_value={b!r})"
    if normal:
        lo, hi = a + b * _Z_LOW, a + b * _Z_HIGH
        where = "mu - 38.47 * sigma" if math.isfinite(hi) else "mu + 8.21 * sigma"
    else:
        lo, hi = a, b
        where = "max_value - min_value"
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(hi - lo)):
        return f"{where} is beyond the largest float {got}"
    if kind in LOG_DISTRIBUTIONS:
        if hi * math.log(log_base) > _LOG_MAX:
            base = "e" if log_base == math.e else f"{log_base:g}"
            return f"{base}**({where}) = {base}**{hi:g} is beyond the largest float {got}"
        lo, hi = math.pow(log_base, lo), math.pow(log_base, hi)
    if q is not None:
        biggest = max(abs(lo), abs(hi))
        if not math.isfinite(biggest / q):
            return f"a value divided by q={q!r} is beyond the largest float {got}"
        if float(q).is_integer() and biggest >= 2.0**63:
            return f"a whole-number q gives ints, and values up to {biggest:g} do not fit in 64 bits {got}"
    return None


_TITLES = {
    "uniform": "Uniform",
    "loguniform": "LogUniform",
    "quniform": "QUniform",
    "qloguniform": "QLogUniform",
    "normal": "Normal",
    "lognormal": "LogNormal",
    "qnormal": "QNormal",
    "qlognormal": "QLogNormal",
}


def _arity(path: str, kind: str, args: Sequence[Any], *names: str) -> None:
    n = len(names)
    if len(args) != n or any(a is None for a in args):
        missing = [name for name, a in zip(names, list(args) + [None] * n) if a is None]
        detail = f"missing {', '.join(missing)}" if missing else f"got {len(args)} arguments"
        raise InvalidValue(path, f"{_TITLES.get(kind, kind.capitalize())} needs {', '.join(names)} ({detail})")


def _choice(path: str, values: list[Any], *, log_base: float, nested: bool) -> Choice:
    if not values:
        raise InvalidValue(path, "Choice needs at least one value (got [])")
    subs: list[dict[str, Distribution]] = []
    for i, value in enumerate(values):
        if isinstance(value, bool):
            raise InvalidValue(
                path,
                f"Choice values cannot be booleans (got {shown(value)} at index {i}); Azure YAML rejects them "
                "and grid/Bayesian break on them: use 0/1 or 'true'/'false'",
            )
        if isinstance(value, (list, tuple)):
            raise InvalidValue(path, f"Choice values cannot be lists (got {shown(value)} at index {i})")
        sub: dict[str, Distribution] = {}
        if isinstance(value, Mapping):
            if nested:
                raise InvalidValue(path, f"Choice dicts cannot be nested inside another Choice dict (index {i})")
            for key, item in value.items():
                if isinstance(item, (list, tuple)):
                    sub[key] = from_wire(f"{path}[{i}].{key}", item, log_base=log_base, nested=True)
                elif isinstance(item, bool) or not (item is None or isinstance(item, (str, numbers.Real))):
                    raise InvalidValue(f"{path}[{i}].{key}", f"expected a distribution or a literal (got {shown(item)})")
        elif not isinstance(value, (str, numbers.Real)):
            raise InvalidValue(path, f"Choice values must be numbers, strings or dicts (got {shown(value)} at index {i})")
        subs.append(sub)
    # Dict values keep every key in the order written; nested distributions are drawn into place.
    literal_values = tuple(
        {k: (None if k in sub else v) for k, v in value.items()} if isinstance(value, Mapping) else value
        for value, sub in zip(values, subs)
    )
    return Choice(values=literal_values, nested=tuple(subs) if any(subs) else ())


def parse_log_base(value: Any, path: str = "sampling_algorithm.logbase") -> float:
    """Read ``logbase`` (a number or ``"e"``); our reading: the base used in place of e."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "e"):
        return math.e
    try:
        base = float(value)
    except (TypeError, ValueError):
        raise InvalidValue(path, f"logbase must be a number > 1 or 'e' (got {shown(value)})") from None
    if not (base > 1 and math.isfinite(base)):
        raise InvalidValue(path, f"logbase must be a number > 1 or 'e' (got {shown(value)})")
    return base


def space_from_wire(wire: Mapping[str, Any], *, log_base: float = math.e, path: str = "search_space") -> SearchSpace:
    """Build a whole search space; raises on the first invalid entry."""
    return SearchSpace({name: from_wire(f"{path}.{name}", w, log_base=log_base) for name, w in wire.items()})
