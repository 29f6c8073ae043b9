"""The policy contract: given curves, say whether a trial stops at an interval, and why."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from azsweep.spec import Policy, best_value, better

Curve = Sequence[float]  # a trial's primary-metric values in logging order: interval k is curve[k - 1]
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def fmt(x: float) -> str:
    return f"{x:.6g}"


class EarlyTermination:
    """Decides, never acts: the runner (or a replay) stops the trials a policy names.

    ``judge(curve, k, others)`` is asked about a trial that has just reached interval ``k`` (its
    k-th logged value); ``others`` are the curves of every other trial of the sweep as far as they
    are known (finished trials included, stopped trials cut at the interval they were stopped).
    ``judge_at(k, mine, others)`` decides the same from each curve's running aggregates (``Prefix``),
    so that judging a new value costs one look per other trial, not a pass over every curve
    (``IncrementalJudge`` keeps the aggregates of a live sweep); ``judge`` is ``judge_at`` on fresh
    aggregates. A policy defines ``judge_at`` (or, for a custom one, ``judge`` alone).
    ``first_stop_at(first, last, mine, others)`` is ``judge_at`` at each due interval in turn, up to
    the first stop; the built-in policies decide a whole run of intervals at once with array operations
    and ask ``judge_at`` only where a stop is possible, so their decisions are ``judge_at``'s.
    """

    title = ""

    def __init__(self, config: Policy, *, maximize: bool) -> None:
        self.config = config
        self.maximize = maximize
        self.interval = max(1, config.evaluation_interval)  # 0 behaves as 1
        self.delay = config.delay_evaluation

    def due(self, k: int) -> bool:
        """Whether the policy is applied at interval k: ``k % evaluation_interval == 0 and k >= delay``."""
        return k >= 1 and k % self.interval == 0 and k >= self.delay

    def due_between(self, first: int, last: int) -> Ints:
        """The intervals from ``first`` to ``last`` at which the policy is due (``due``), in order."""
        start = max(first, self.delay, 1)
        start = -(-start // self.interval) * self.interval
        return np.arange(start, last + 1, self.interval, dtype=np.int64)

    def judge(self, curve: Curve, k: int, others: Sequence[Curve]) -> str | None:
        """The reason to stop the trial at interval k (with the numbers compared), or None to go on."""
        return self.judge_at(k, Prefix(curve, self.maximize), [Prefix(c, self.maximize) for c in others])

    def judge_at(self, k: int, mine: Prefix, others: Sequence[Prefix]) -> str | None:
        """``judge`` from the aggregates of the judged trial's curve and of every other trial's curve."""
        if type(self).judge is EarlyTermination.judge:
            raise NotImplementedError(f"{type(self).__name__} defines neither judge nor judge_at")
        return self.judge(mine.curve()[:k], k, [o.curve() for o in others])

    def first_stop_at(self, first: int, last: int, mine: Prefix, others: Sequence[Prefix]) -> tuple[int, str] | None:
        """The first due interval from ``first`` to ``last`` at which ``judge_at`` stops the trial, with the
        reason, or None. A policy may rule intervals out in bulk (``_possible_stops``); every other due
        interval is judged by ``judge_at``, in order."""
        ks = self.due_between(first, last)
        if ks.size == 0:
            return None
        for k in self._possible_stops(ks, mine, others).tolist():
            reason = self.judge_at(k, mine, others)
            if reason:
                return k, reason
        return None

    def _possible_stops(self, ks: Ints, mine: Prefix, others: Sequence[Prefix]) -> Ints:
        """The intervals of ``ks`` (due ones, in order) at which ``judge_at`` might stop the trial: all of them,
        unless a policy proves, from the aggregates, that it stops the trial at none of the others."""
        return ks

    # -- helpers ---------------------------------------------------------------------------------

    def best(self, curve: Curve, k: int) -> float | None:
        """The best value in the first k values (NaN ignored): ``azsweep.spec.best_value``."""
        return best_value(curve[:k], self.maximize)

    def worse(self, a: float, b: float) -> bool:
        """a is strictly worse than b: ``azsweep.spec.better(b, a, maximize)``."""
        return better(b, a, self.maximize)

    def describe(self) -> str:
        c = self.config
        parts = [f"evaluation_interval={c.evaluation_interval}", f"delay_evaluation={c.delay_evaluation}"]
        if c.slack_factor is not None:
            parts.insert(0, f"slack_factor={c.slack_factor:g}")
        if c.slack_amount is not None:
            parts.insert(0, f"slack_amount={c.slack_amount:g}")
        if c.truncation_percentage is not None:
            parts.insert(0, f"truncation_percentage={c.truncation_percentage}")
        return f"{c.kind}({', '.join(parts)})"


UNIT_ROUNDOFF = sys.float_info.epsilon / 2  # the relative error of one rounded float operation
_HUGE = 1e300  # from a running sum of |finite values| this large, math.fsum may overflow: it is then simulated
_NEVER = sys.maxsize


class Prefix:
    """A curve's running aggregates over its first k values, for every k, extended as the curve grows.

    ``best(k)``: the best of the first k values (the whole curve when it is shorter), non-finite values
    ignored, exactly ``spec.best_value(curve[:k])``; ``average(k)``: the mean of the first k values
    without NaN, exactly ``math.fsum(...) / n``, or the error ``math.fsum`` raises (from an exact running
    sum, correctly rounded as ``fsum`` is; an infinity makes it that infinity; where sums come near overflow,
    from ``math.fsum``'s own steps, simulated value by value). Each value is folded in once, when an aggregate
    first needs it, into arrays that policies read many intervals at a time (``arrays``, ``bests``,
    ``average_bound``). ``length`` is how much of ``values`` the policy sees (all of it unless set: a replay
    shows each curve as far as it had been logged).
    """

    __slots__ = (
        "_abs",
        "_averages",
        "_best",
        "_bounded",
        "_comp",
        "_comp_err",
        "_comped",
        "_count",
        "_done",
        "_fails_from",
        "_bound",
        "_model",
        "_modeled",
        "_neg_inf",
        "_pos_inf",
        "_risky",
        "_risky_from",
        "_sum",
        "_x",
        "length",
        "maximize",
        "values",
    )

    def __init__(self, values: Curve, maximize: bool) -> None:
        self.values: Curve = values
        self.length = len(values)
        self.maximize = maximize
        self._reset()

    def _reset(self) -> None:
        self._done = 0  # the values folded in (may run ahead of length: a replay's curve is known whole)
        # per value (the first _done of each array are set): the value as a float; the running best (NaN while
        # there is none); the running count of the values that are not NaN; the running float sums (each step
        # rounded: approximations) of the finite values and of their absolute values
        self._x: Floats = np.empty(0)
        self._best: Floats = np.empty(0)
        self._count: Ints = np.empty(0, dtype=np.int64)
        self._sum: Floats = np.empty(0)
        self._abs: Floats = np.empty(0)
        self._pos_inf = self._neg_inf = _NEVER  # the position (k - 1) of the first +inf, of the first -inf
        self._risky_from = _NEVER  # the first position where the running sum of |finite values| reaches _HUGE
        self._fails_from = _NEVER  # average(k) raises (as math.fsum) for every k - 1 from this position on
        self._risky: Floats = np.empty(0)  # from _risky_from on: average(k), from the simulated math.fsum
        self._model: _Fsum | None = None  # that simulation, over the first _modeled values
        self._modeled = 0
        self._bound: Floats = np.empty(0)  # average_bound(), over the first _bounded values
        self._averages: list[float] = []  # exact_averages() over the values folded in so far (NaN: not known so)
        # the running float sum of the rounding errors of _sum's steps, and that of the absolute values of the
        # rounding errors of _comp's own steps: _sum + _comp is the exact running sum to within _comp_err (exactly
        # it where that is 0), over the first _comped values (see exact_averages)
        self._comp: Floats = np.empty(0)
        self._comp_err: Floats = np.empty(0)
        self._comped = 0
        self._bounded = 0

    def __len__(self) -> int:
        return self.length

    def curve(self) -> list[float]:
        return list(self.values[: self.length])

    def value(self, k: int) -> float:
        """The k-th value (interval k)."""
        return self.values[k - 1]

    # -- one interval (exact) ----------------------------------------------------------------------

    def best(self, k: int) -> float | None:
        n = min(k, self.length)
        if n < 1:
            return None
        self._fold(n)
        top = self._best[n - 1]
        return None if math.isnan(top) else float(top)

    def average(self, k: int) -> float | None:
        """The mean of the first k values without NaN (None when all are NaN); needs ``len(self) >= k``."""
        if not 1 <= k <= self.length:
            raise IndexError(f"average of the first {k} values of a curve of {self.length}")
        if k <= len(self._averages):
            known = self._averages[k - 1]
            if known == known:  # not NaN
                return known
        self._settle(k)
        i = k - 1
        n = int(self._count[i])
        if not n:
            return None
        if i >= self._fails_from:  # math.fsum's own error (-inf + inf, or an intermediate overflow)
            values = [v for v in self.values[:k] if not math.isnan(v)]
            return math.fsum(values) / len(values)
        if i >= self._risky_from:
            return float(self._risky[i])
        if self._pos_inf <= i or self._neg_inf <= i:  # math.fsum's result is the infinity (one sign: no error)
            return math.inf if self._pos_inf <= i else -math.inf
        self._settle(self.length)
        if len(self._averages) < self._done:  # exact_averages over all the values folded in, kept
            self._averages += self.exact_averages(slice(len(self._averages), self._done, 1)).tolist()
        known = self._averages[i]
        if not math.isnan(known):
            return known
        chunk = self._x[:k]  # a sum too close to a rounding tie to tell in bulk (rare): math.fsum itself
        return math.fsum(chunk[np.isfinite(chunk)].tolist()) / n

    # -- many intervals at once --------------------------------------------------------------------

    def arrays(self) -> tuple[Floats, Floats, Ints]:
        """(floats, bests, counts) over the first ``len(self)`` values at least, folded in: the values as floats,
        ``best`` (NaN for None) and the count of values that are not NaN, at each position k - 1."""
        self._fold(self.length)
        return self._x, self._best, self._count

    def bests(self, ks: Ints) -> Floats:
        """``best(k)`` for each k of ``ks`` (ascending), NaN for None."""
        if self.length < 1:
            return np.full(ks.shape, np.nan)
        _, bests, _ = self.arrays()
        if ks[0] >= 1 and ks[-1] <= self.length:
            return bests[positions(ks)]
        n = np.minimum(ks, self.length)
        return np.where(n >= 1, bests[np.maximum(n, 1) - 1], np.nan)

    def average_bound(self) -> Floats:
        """For each k up to ``len(self)`` at least, a float at least as good as ``average(k)`` where that is a number
        (not above it when minimizing, not below it when maximizing); NaN where it is None, and where it raises
        (every k beyond ``raises_after()``); exactly ``average(k)`` where an infinity or the simulated math.fsum
        gives it.

        Elsewhere ``(sums -+ c·abs_sums) / counts -+ 1e-300``, from the running float sums of the finite values and
        of their absolute values, with c = 2·u·(K + 4) (u the unit roundoff, K >= k the number of values folded in
        when it is computed): the running float sum of k values is off their exact sum S by at most
        (k - 1)·u·sum|values| (for k·u < 0.01: k below 10^13), math.fsum's correctly rounded S by u·|S|, the
        division by u·|S / counts|, so ``average(k)`` is within (k + 1.01)·u·sum|values| / counts of
        sums / counts; c·abs_sums is about twice that, which leaves room for the rounding of abs_sums and of this
        very formula (1e-300: for an underflow)."""
        self._settle(self.length)
        start, done = self._bounded, self._done
        if start >= done:
            return self._bound
        if self._bound.size < done:
            grown = np.empty(self._x.size)
            grown[:start] = self._bound[:start]
            self._bound = grown
        bound = self._bound[start:done]
        toward = np.add if self.maximize else np.subtract
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            np.multiply(self._abs[start:done], 2.0 * UNIT_ROUNDOFF * (done + 4.0), out=bound)
            toward(self._sum[start:done], bound, out=bound)
            np.divide(bound, self._count[start:done], out=bound)  # no value yet: 0 / 0, NaN
            toward(bound, 1e-300, out=bound)
        first, second = min(self._pos_inf, self._neg_inf), max(self._pos_inf, self._neg_inf)
        if first < done:  # an infinity: math.fsum gives it (one sign), or raises (both)
            a, b = max(first, start) - start, max(min(second, done), start) - start
            bound[a:b] = math.inf if first == self._pos_inf else -math.inf
        b = min(done, self._fails_from)
        if self._risky_from < b:
            a = max(self._risky_from, start)
            self._bound[a:b] = self._risky[a:b]
        if self._fails_from < done:
            self._bound[max(self._fails_from, start) : done] = np.nan
        self._bounded = done
        return self._bound

    def exact_averages(self, at: slice | Ints) -> Floats:
        """``average(k)`` at the positions ``at`` (k - 1, among the values folded in) where it can be had in bulk,
        exactly; NaN where it is None, raises, or has to be asked of ``average`` one interval at a time.

        The exact sum of the first k finite values is ``_sum + _comp`` (each step's rounding error taken exactly by
        a two-sum, those errors summed) to within ``_comp_err`` (the errors of that summing, likewise). math.fsum's
        correctly rounded sum is the float nearest ``_sum + _comp``: exactly their float sum where _comp_err is 0,
        and where it is not, wherever _comp_err and the rest of that sum stay under half the gap to the nearest
        other float. Elsewhere (a sum within _comp_err of a rounding tie), NaN."""
        self._compensate()
        index = np.arange(at.start, at.stop, at.step) if isinstance(at, slice) else at
        counts, sums, comps, errors = self._count[at], self._sum[at], self._comp[at], self._comp_err[at]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            total = sums + comps
            back = total - sums
            rest = (sums - (total - back)) + (comps - back)  # two-sum: total + rest == sums + comps, exactly
            size = np.abs(total)
            gap = np.minimum(np.spacing(size), size - np.nextafter(size, 0.0))  # to the nearest other float
            exact = (errors == 0) | (np.abs(rest) + 2.0 * errors + 1e-300 < gap / 2)
            averages = np.where(exact & (counts > 0), total / counts, np.nan)
        first, second = min(self._pos_inf, self._neg_inf), max(self._pos_inf, self._neg_inf)
        if first < self._done:  # an infinity: math.fsum gives it (one sign)
            averages[(index >= first) & (index < second)] = math.inf if first == self._pos_inf else -math.inf
        if self._risky_from < min(self._done, self._fails_from):
            risky = (index >= self._risky_from) & (index < self._fails_from)
            averages[risky] = self._risky[index[risky]]
        averages[index >= self._fails_from] = np.nan
        return averages

    def _compensate(self) -> None:
        """Extend _comp and _comp_err over every value folded in."""
        self._settle(self.length)
        start, done = self._comped, self._done
        if start >= done:
            return
        if self._comp.size < done:
            for name in ("_comp", "_comp_err"):
                grown = np.empty(self._x.size)
                grown[:start] = getattr(self, name)[:start]
                setattr(self, name, grown)
        x = self._x[start:done]
        comp, comp_err = self._comp[start:done], self._comp_err[start:done]
        with np.errstate(over="ignore", invalid="ignore"):
            errors = _step_errors(self._sum[start - 1] if start else 0.0, np.where(np.isfinite(x), x, 0.0), self._sum[start:done])
            comp[:] = errors
            if start:
                comp[0] += self._comp[start - 1]
            np.cumsum(comp, out=comp)
            np.abs(_step_errors(self._comp[start - 1] if start else 0.0, errors, comp), out=comp_err)
            if start:
                comp_err[0] += self._comp_err[start - 1]
            np.cumsum(comp_err, out=comp_err)
        self._comped = done

    def raises_after(self) -> int:
        """``average(k)`` raises (as math.fsum does) for every k beyond this, and for no k up to it (among the first
        ``len(self)``)."""
        self._settle(self.length)
        return self._fails_from

    # -- upkeep --------------------------------------------------------------------------------------

    def replace(self, values: Curve) -> None:
        """The curve as it is now: aggregates already folded in are kept when the curve starts with the values
        folded in (the same list grown, or a new one as long or longer), and recomputed otherwise (a value
        changed, or the curve cut short, as at a stop: once)."""
        if values is not self.values:
            n = min(self._done, len(values))
            if n < self._done or (n and not np.array_equal(np.asarray(values[:n], dtype=float), self._x[:n], equal_nan=True)):
                self._reset()
        self.values, self.length = values, len(values)

    def _fold(self, n: int) -> None:
        """Fold in every value of ``values`` not folded in yet, when fewer than n are."""
        done = self._done
        if n <= done:
            return
        m = len(self.values) - done
        if m <= 0:
            return
        new = np.fromiter(self.values[done:], dtype=float, count=m)
        end = done + m
        if end > self._x.size:
            self._grow(end)
        self._x[done:end] = new
        sizes = np.abs(new)
        plain = bool(sizes.max() < sys.float_info.max)  # all finite scores (a NaN makes the max NaN)
        # the running best of the finite scores (spec.finite_score: not NaN, not +-inf, below the largest float)
        none = -np.inf if self.maximize else np.inf
        before = self._best[done - 1] if done else np.nan
        chain = self._best[done - 1 : end] if done else np.empty(m + 1)
        chain[0] = none if math.isnan(before) else before
        chain[1:] = new
        if not plain:
            with np.errstate(invalid="ignore"):
                chain[1:][~(sizes < sys.float_info.max)] = none
        (np.maximum if self.maximize else np.minimum).accumulate(chain, out=chain)
        if min(chain[0], chain[-1]) <= 0.0 <= max(chain[0], chain[-1]):  # monotone: a zero between the ends
            zeros = np.flatnonzero(chain == 0)  # a tie keeps the earlier value: 0.0 or -0.0, whichever came first
            if zeros.size:
                first = zeros[0]
                chain[zeros] = before if first == 0 else new[first - 1]
        chain[0] = before
        if not done:
            self._best[:m] = chain[1:]
        if chain[1] == none:  # monotone: no score yet at the start of the new values
            bests = self._best[done:end]
            bests[bests == none] = np.nan
        # the running count of the values that are not NaN, the running float sums of the finite ones
        counts, sums, abs_sums = self._count[done:end], self._sum[done:end], self._abs[done:end]
        count = int(self._count[done - 1]) if done else 0
        same = False  # abs_sums is sums: no negative value so far (float sums of the same numbers)
        if plain:
            counts[:] = np.arange(count + 1, count + m + 1)
            sums[:] = new
            same = new.min() >= 0.0 and (not done or self._abs[done - 1] == self._sum[done - 1])
            if not same:
                abs_sums[:] = sizes
        else:
            finite = np.isfinite(new)
            np.cumsum(~np.isnan(new), out=counts)
            counts += count
            sums[:] = np.where(finite, new, 0.0)
            abs_sums[:] = np.where(finite, sizes, 0.0)
            infinite = np.flatnonzero(new == np.inf)
            if infinite.size:
                self._pos_inf = min(self._pos_inf, done + int(infinite[0]))
            infinite = np.flatnonzero(new == -np.inf)
            if infinite.size:
                self._neg_inf = min(self._neg_inf, done + int(infinite[0]))
        with np.errstate(over="ignore", invalid="ignore"):  # overflow: past _risky_from, not used
            if done:
                sums[0] += self._sum[done - 1]
            np.cumsum(sums, out=sums)
            if same:
                abs_sums[:] = sums
            else:
                if done:
                    abs_sums[0] += self._abs[done - 1]
                np.cumsum(abs_sums, out=abs_sums)
        if self._risky_from == _NEVER and not abs_sums[-1] < _HUGE:  # a running sum of |values| never falls
            self._risky_from = done + int(np.flatnonzero(~(abs_sums < _HUGE))[0])
        clash = max(self._pos_inf, self._neg_inf)
        if clash < min(self._risky_from, self._fails_from):  # -inf + inf: math.fsum raises (ValueError)
            self._fails_from = clash
        self._done = end

    def _settle(self, n: int) -> None:
        """Fold in the values, and where sums come near overflow, run math.fsum's steps over the first n at least
        (``_risky``, and ``_fails_from`` where it raises)."""
        self._fold(n)
        end = min(self._done, self._fails_from)
        if self._risky_from < end and self._modeled < end:
            self._simulate(end)

    def _simulate(self, end: int) -> None:
        """Run math.fsum's steps over the values up to position ``end``, taking ``average(k)`` from them from
        _risky_from on (or where it starts to raise)."""
        if self._model is None:
            self._model, self._modeled = _Fsum(), 0
        if self._risky.size < end:
            grown = np.empty(self._x.size)
            grown[: self._modeled] = self._risky[: self._modeled]
            self._risky = grown
        model, counts, risky_from = self._model, self._count, self._risky_from
        for i, v in enumerate(self._x[self._modeled : end].tolist(), start=self._modeled):
            if v == v:  # not NaN
                model.add(v)
            if i >= risky_from:
                total = model.result()
                if total is None:
                    self._fails_from = i
                    break
                count = int(counts[i])
                self._risky[i] = total / count if count else math.nan
        self._modeled = end

    def _grow(self, size: int) -> None:
        size = max(size, 2 * self._x.size, 1024)
        done = self._done
        for name in ("_x", "_best", "_count", "_sum", "_abs"):
            old = getattr(self, name)
            grown = np.empty(size, dtype=old.dtype)
            grown[:done] = old[:done]
            setattr(self, name, grown)


class _Fsum:
    """CPython's math.fsum, one value at a time (NaN left out): Shewchuk's partials, infinities summed apart
    (the partials then start over), an error on an intermediate overflow; ``result()`` is fsum's correctly
    rounded sum of the values so far, or None where fsum raises (an overflow, or -inf + inf)."""

    __slots__ = ("failed", "infinities", "partials", "special")

    def __init__(self) -> None:
        self.partials: list[float] = []
        self.special = 0.0
        self.infinities = 0.0
        self.failed = False

    def add(self, x: float) -> None:
        if self.failed:
            return
        given, partials, i = x, self.partials, 0
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                partials[i] = lo
                i += 1
            x = hi
        del partials[i:]
        if x:
            if not math.isfinite(x):
                if math.isfinite(given):
                    self.failed = True  # "intermediate overflow in fsum"
                    return
                self.infinities += given
                self.special += given
                partials.clear()
            else:
                partials.append(x)

    def result(self) -> float | None:
        if self.failed:
            return None
        if self.special != 0.0:
            return None if math.isnan(self.infinities) else self.special  # NaN: "-inf + inf in fsum"
        p = self.partials
        n, hi, lo = len(p), 0.0, 0.0
        if n:
            n -= 1
            hi = p[n]
            while n > 0:  # from the top, until the sum becomes inexact
                x = hi
                n -= 1
                y = p[n]
                hi = x + y
                lo = y - (hi - x)
                if lo:
                    break
            if n > 0 and ((lo < 0.0 and p[n - 1] < 0.0) or (lo > 0.0 and p[n - 1] > 0.0)):  # half-even rounding
                y = lo * 2.0
                x = hi + y
                if y == x - hi:
                    hi = x
        return hi


def _step_errors(first: float, added: Floats, steps: Floats) -> Floats:
    """The exact rounding error of each step of a running float sum: ``steps[i]`` is the sum before (``first``,
    then ``steps[i - 1]``) plus ``added[i]``, rounded; each error by a two-sum, so ``steps[i] + error[i]`` is that
    sum exactly. NaN where ``steps[i]`` is not that rounded sum (nothing exact follows from there)."""
    before = np.empty(steps.size)
    before[0] = first
    before[1:] = steps[:-1]
    after = before + added
    back = after - before
    errors = (before - (after - back)) + (added - back)
    errors[after != steps] = np.nan
    return errors


def positions(ks: Ints) -> slice | Ints:
    """The array positions (k - 1) of the intervals ``ks``: a slice where they are evenly spaced (as the due
    intervals are), else the positions themselves."""
    first, last = int(ks[0]), int(ks[-1])
    step = int(ks[1] - ks[0]) if ks.size > 1 else 1
    if step >= 1 and last - first == step * (ks.size - 1):
        return slice(first - 1, last, step)
    return ks - 1
