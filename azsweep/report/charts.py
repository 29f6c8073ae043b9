"""Charts of a recorded sweep: pure functions from a ``SweepView`` and its metric curves to PNG and HTML files.

matplotlib is imported lazily and used through its object API on the Agg canvas (no pyplot, no global
backend switch), so plotting works headless and does not disturb a caller's own figures.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azsweep.report import SweepView, as_numbers, extras_lines, hidden_note, param_value, parameter_names, short
from azsweep.runner.record import Trial
from azsweep.space import LINEAR_DISTRIBUTIONS, LOG_DISTRIBUTIONS
from azsweep.spec import better, ranked, rest_name
from azsweep.spec import finite_score as counts_as_score

LOG_SPAN = 100.0  # positive values spanning more than two decades get a log scale
METRIC_LOG_SPAN = 10.0  # a metric to minimize: more than one decade
DPI = 110
GREY = "#b0b0b0"
FILES = {"parallel_coordinates": "parallel_coordinates.png", "metric_by_trial": "metric_by_trial.png", "curves": "curves.png"}
PAGE = "index.html"


@dataclass
class Chart:
    """A chart written to ``path``; ``series`` is the number of trials drawn, ``counts`` says how."""

    name: str
    path: Path
    title: str
    series: int
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Axis:
    """One parallel-coordinates axis: each trial's position in [0, 1] (None: no value) and labelled ticks."""

    name: str
    kind: str  # "linear", "log" or "category"
    positions: list[float | None]
    ticks: list[tuple[float, str]]


# ---- scales and axes (numbers in, positions and tick labels out)


def finite_score(trial: Trial) -> float | None:
    """The trial's score when it counts as one (``azsweep.spec.finite_score``: not NaN, +-inf or +-the largest
    float, MLflow's stand-in for +-inf), else None."""
    return trial.score if counts_as_score(trial.score) else None


def log_spread(values: Sequence[float]) -> bool:
    """True when the values are all positive and span more than two decades."""
    return bool(values) and min(values) > 0 and max(values) / min(values) > LOG_SPAN


def looks_log_distributed(values: Sequence[float]) -> bool:
    """Positive values spanning more than two decades whose median sits nearer the middle of the range on a log
    scale than on a linear one (a uniform sample near zero spans decades too, but its median is mid-range)."""
    if not log_spread(values):
        return False
    lo, hi = min(values), max(values)
    median = sorted(values)[len(values) // 2]
    on_linear = (median - lo) / (hi - lo)
    on_log = math.log(median / lo) / math.log(hi / lo)
    return abs(on_log - 0.5) < abs(on_linear - 0.5)


def best_so_far(scores: Sequence[float | None], maximize: bool) -> list[float | None]:
    """The running best (goal-aware, ``azsweep.spec.better``) over scores in trial order; None until the first score."""
    out: list[float | None] = []
    best: float | None = None
    for s in scores:
        if better(s, best, maximize):
            best = s
        out.append(best)
    return out


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _round_label(value: float) -> str:
    """A round tick value with as many digits as it has (0.1925, not 0.193), at most 6 significant."""
    for digits in range(3, 7):
        text = f"{value:.{digits}g}"
        if math.isclose(float(text), value, rel_tol=1e-9, abs_tol=1e-12):
            return text
    return f"{value:.6g}"


def _log_locator(lo: float, hi: float) -> Any:
    """Log ticks at 1, 2, 5 per decade over up to three decades, else at the decades only."""
    from matplotlib.ticker import LogLocator

    decades = math.log10(hi / lo) if lo > 0 and hi > lo else 0.0
    return LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades <= 3 else (1.0,), numticks=12)


def _plain_log_axis(axis: Any, lo: float, hi: float) -> None:
    """Readable ticks on a log axis: plain numbers (0.5, 1, 2, 5) rather than 10^x, no minor labels."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_locator(_log_locator(lo, hi))
    axis.set_major_formatter(FuncFormatter(lambda v, _: _fmt(v)))
    axis.set_minor_formatter(NullFormatter())


def numeric_axis(name: str, values: Sequence[float | None], log: bool | None = None) -> Axis:
    """A numeric axis scaled to [0, 1] with ticks in real values; log when asked (and all values are positive),
    or by default when the values look log-distributed."""
    from matplotlib.ticker import MaxNLocator

    present = [v for v in values if v is not None]
    lo, hi = (min(present), max(present)) if present else (0.0, 1.0)
    log = looks_log_distributed(present) if log is None else log and bool(present) and lo > 0
    if hi == lo:
        return Axis(name, "linear", [None if v is None else 0.5 for v in values], [(0.5, _fmt(lo))])
    if log:
        a, b = math.log10(lo), math.log10(hi)

        def scale(v: float) -> float:
            return (math.log10(v) - a) / (b - a)

        candidates = _log_locator(lo, hi).tick_values(lo, hi)
    else:

        def scale(v: float) -> float:
            return (v - lo) / (hi - lo)

        whole = all(float(v).is_integer() for v in present)  # Randint, integer Q-values: integer ticks
        candidates = MaxNLocator(nbins=5, integer=whole).tick_values(lo, hi)
    # the real ends are always labelled; round ticks too close to an end would collide with its label
    ticks = [(scale(float(t)), _round_label(float(t))) for t in candidates if 0.1 <= scale(float(t)) <= 0.9]
    ticks = [(0.0, _fmt(lo)), *ticks, (1.0, _fmt(hi))]
    return Axis(name, "log" if log else "linear", [None if v is None else scale(v) for v in values], ticks)


def category_axis(name: str, values: Sequence[str | None], declared: Sequence[str] = (), max_labels: int = 12) -> Axis:
    """Categories evenly spaced on [0, 1]: in ``declared`` order (a Choice's values), then the rest sorted."""
    seen = {v for v in values if v is not None}
    rest = sorted(seen - set(declared), key=lambda v: (as_numbers([v]) or [math.inf], v))
    present = [v for v in declared if v in seen] + rest
    n = len(present)
    pos = {v: (i / (n - 1) if n > 1 else 0.5) for i, v in enumerate(present)}
    step = max(1, math.ceil(n / max_labels))
    ticks = [(pos[v], _clip(short(v))) for i, v in enumerate(present) if i % step == 0 or i == n - 1]
    return Axis(name, "category", [None if v is None else pos[v] for v in values], ticks)


def _clip(text: str, width: int = 14) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def declared_space(view: SweepView) -> dict[str, tuple[str, list[Any]]]:
    """The recorded search space (REST form: name -> (distribution, arguments)), when the definition is kept."""
    space = view.definition.props.get(rest_name("search_space")) or {} if view.definition else {}
    out = {}
    for name, item in space.items() if isinstance(space, dict) else ():
        if isinstance(item, list) and item and isinstance(item[0], str):
            out[name] = (item[0].lower(), list(item[1]) if len(item) > 1 and isinstance(item[1], list) else [])
    return out


def parameter_axes(view: SweepView, all_params: bool = False) -> list[Axis]:
    """One axis per swept parameter (``all_params``: per param logged): numeric parameters scaled (log for log
    distributions, or values spanning more than two decades when the distribution is not known), the rest as
    categories in the order of the Choice."""
    from azsweep.runner.command import format_value

    space = declared_space(view)
    axes = []
    for name in parameter_names(view, all_params):
        raw = [param_value(t, name) for t in view.trials]
        numbers = as_numbers([v for v in raw if v is not None])
        kind, args = space.get(name, ("", []))
        if numbers:
            it = iter(numbers)
            log = True if kind in LOG_DISTRIBUTIONS else False if kind in LINEAR_DISTRIBUTIONS else None  # None: by the values
            axes.append(numeric_axis(name, [None if v is None else next(it) for v in raw], log=log))
        else:
            declared = [format_value(v) for v in args[0]] if kind == "choice" and args and isinstance(args[0], list) else []
            axes.append(category_axis(name, raw, declared))
    return axes


def metric_log(values: Sequence[float], maximize: bool) -> bool:
    """A log scale for the metric: positive values spanning more than two decades, or more than one when minimizing
    (a loss with a few diverged trials: the log scale keeps the good, low end readable)."""
    return bool(values) and min(values) > 0 and max(values) / min(values) > (LOG_SPAN if maximize else METRIC_LOG_SPAN)


def colour_range(scores: Sequence[float], log: bool) -> tuple[float, float, str]:
    """(low, high, extend) for the colour scale: outliers beyond 3 IQR of the (log) scores are clipped, so a few
    diverged trials do not wash out the differences between the others; ``extend`` tells the colour bar."""
    lo, hi = (min(scores), max(scores)) if scores else (0.0, 1.0)
    if len(scores) < 5:
        return lo, hi, "neither"
    import numpy as np

    t = np.log10(scores) if log else np.asarray(scores, dtype=float)
    q1, q3 = np.percentile(t, [25, 75])
    iqr = q3 - q1
    if iqr <= 0:
        return lo, hi, "neither"
    back = (lambda v: 10.0**v) if log else (lambda v: v)
    clip_lo, clip_hi = back(q1 - 3 * iqr), back(q3 + 3 * iqr)
    extend_lo, extend_hi = lo < clip_lo, hi > clip_hi
    extend = {(True, True): "both", (True, False): "min", (False, True): "max"}.get((extend_lo, extend_hi), "neither")
    return max(lo, clip_lo), min(hi, clip_hi), extend


# ---- matplotlib


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _score_norm(scores: Sequence[float], maximize: bool) -> tuple[Any, Any, str]:
    """A colour map where better is darker (goal-aware), its norm (log like the metric axis) and the colour bar's extend."""
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm, Normalize

    cmap = colormaps["viridis_r" if maximize else "viridis"]
    log = metric_log(scores, maximize)
    lo, hi, extend = colour_range(scores, log)
    if hi == lo:
        lo, hi = (lo / 2, hi * 2) if log else (lo - 0.5 * (abs(lo) or 1.0), hi + 0.5 * (abs(hi) or 1.0))
    norm = LogNorm(lo, hi, clip=True) if log else Normalize(lo, hi, clip=True)
    return cmap, norm, extend


def _colour_bar(fig: Any, ax: Any, cmap: Any, norm: Any, extend: str, label: str) -> None:
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LogNorm

    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, fraction=0.04, pad=0.01, extend=extend)
    bar.set_label(label)
    if isinstance(norm, LogNorm) and norm.vmin is not None and norm.vmax is not None:  # always set by _score_norm
        _plain_log_axis(bar.ax.yaxis, norm.vmin, norm.vmax)


def _metric_label(view: SweepView) -> str:
    word = "higher" if view.maximize else "lower"
    return f"{view.primary_metric or 'score'} ({word} is better)"


def _best_effects() -> list[Any]:
    from matplotlib import patheffects

    return [patheffects.Stroke(linewidth=5.5, foreground="black"), patheffects.Normal()]


def _count_lines(ax: Any, prefix: str) -> int:
    """Lines drawn for trials (their gid starts with ``prefix``): the charts report what they drew, not what they meant to."""
    return sum(1 for line in ax.get_lines() if (line.get_gid() or "").startswith(prefix))


def _count_points(ax: Any, prefix: str) -> int:
    return sum(len(c.get_offsets()) for c in ax.collections if (c.get_gid() or "").startswith(prefix))


def _save(fig: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI, facecolor="white")


def plot_parallel_coordinates(view: SweepView, path: Path, *, all_params: bool = False) -> Chart:
    """Sampled values on one axis per swept parameter (``all_params``: per param logged) plus the metric, each
    trial a line coloured by its score.

    Trials without a score are grey and stop at the last parameter axis; the best trial is drawn on top, outlined.
    """
    from matplotlib.lines import Line2D

    maximize = view.maximize
    axes = parameter_axes(view, all_params)
    scores = [finite_score(t) for t in view.trials]
    scored = [s for s in scores if s is not None]
    metric_axis = numeric_axis(view.primary_metric or "score", scores, log=metric_log(scored, maximize))
    all_axes = [*axes, metric_axis]
    n = len(all_axes)
    fig = _figure(min(22.0, max(7.5, 1.55 * n + 2.6)), 5.4)
    ax = fig.add_subplot()
    cmap, norm, extend = _score_norm(scored, maximize)
    # drawn worst first, so better lines lie on top: unscored trials, then scored ones from the worst (ties in order)
    worst_first = ranked(range(len(view.trials)), score=scores.__getitem__, maximize=not maximize)
    order = [i for i in worst_first if scores[i] is None] + [i for i in worst_first if scores[i] is not None]
    best_index = next((i for i, t in enumerate(view.trials) if t.name == view.best_trial), None)
    for i in order:
        points = [(x, a.positions[i]) for x, a in enumerate(all_axes) if a.positions[i] is not None]
        if not points:
            continue
        xs, ys = zip(*points)
        if scores[i] is None:
            ax.plot(xs, ys, color=GREY, lw=1.0, alpha=0.8, ls=(0, (4, 2)), zorder=1, gid=f"unscored:{view.trials[i].name}")
        elif i != best_index:
            ax.plot(xs, ys, color=cmap(norm(scores[i])), lw=1.4, alpha=0.85, zorder=2, gid=f"scored:{view.trials[i].name}")
    if best_index is not None and scores[best_index] is not None:
        points = [(x, a.positions[best_index]) for x, a in enumerate(all_axes) if a.positions[best_index] is not None]
        xs, ys = zip(*points)
        ax.plot(
            xs,
            ys,
            color=cmap(norm(scores[best_index])),
            lw=3.0,
            zorder=4,
            path_effects=_best_effects(),
            gid=f"scored:{view.trials[best_index].name}",
        )
    coloured, grey = _count_lines(ax, "scored:"), _count_lines(ax, "unscored:")
    for x, a in enumerate(all_axes):
        ax.axvline(x, color="#333333", lw=1.0, zorder=3)
        for pos, label in a.ticks:
            ax.plot([x - 0.025, x], [pos, pos], color="#333333", lw=1.0, zorder=3)
            ax.text(
                x - 0.04,
                pos,
                label,
                ha="right",
                va="center",
                fontsize=8,
                zorder=5,
                bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none", "alpha": 0.85},
            )
        title = _clip(a.name, 18) + ("\n(log)" if a.kind == "log" else "")
        ax.text(x, 1.13, title, ha="center", va="top", fontsize=9, fontweight="bold" if x == n - 1 else "normal")
    ax.set_xlim(-0.45, n - 1 + 0.2)
    ax.set_ylim(-0.04, 1.14)
    ax.axis("off")
    title = f"{view.name}: sampled values, coloured by {view.primary_metric or 'score'}"
    ax.set_title(title, fontsize=11, loc="left", pad=14)
    if scored:
        _colour_bar(fig, ax, cmap, norm, extend, _metric_label(view))
    handles = []
    best_score = None if best_index is None else scores[best_index]
    if best_index is not None and best_score is not None:
        handles.append(
            Line2D(
                [],
                [],
                color=cmap(norm(best_score)),
                lw=3,
                path_effects=_best_effects(),
                label=f"best: {view.trials[best_index].name} ({_fmt(best_score)})",
            )
        )
    if grey:
        handles.append(Line2D([], [], color=GREY, lw=1.2, ls=(0, (4, 2)), label=f"no score ({grey})"))
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.01), ncol=len(handles), frameon=False, fontsize=9)
    _save(fig, path)
    return Chart("parallel_coordinates", path, title, grey + coloured, {"scored": coloured, "unscored": grey, "axes": n})


_MARKS = {  # group -> (label, marker, colour)
    "completed": ("completed", "o", "#1f77b4"),
    "stopped": ("stopped by the policy", "X", "#ff7f0e"),
    "failed": ("failed", "v", "#d62728"),
    "canceled": ("canceled", "s", "#7f7f7f"),
}


def _group(trial: Trial) -> str:
    if trial.stopped_by:
        return "stopped"
    return {"Completed": "completed", "Failed": "failed"}.get(trial.status, "canceled")  # canceled, interrupted, running


def plot_metric_by_trial(view: SweepView, path: Path) -> Chart:
    """The primary metric of each trial in index order, the best-so-far line, stopped and failed trials marked.

    Trials without a score are marked along the bottom edge.
    """
    from matplotlib.ticker import MaxNLocator
    from matplotlib.transforms import blended_transform_factory

    maximize = view.maximize
    trials = view.trials
    scores = [finite_score(t) for t in trials]
    fig = _figure(9.5, 5.0)
    ax = fig.add_subplot()
    for group, (label, marker, colour) in _MARKS.items():
        members = [(t.index, s) for t, s in zip(trials, scores) if _group(t) == group and s is not None]
        if members:
            if group == "canceled":  # say which statuses: canceled, interrupted, running...
                label = ", ".join(sorted({t.status.value.lower() for t in trials if _group(t) == group}))
            xs, ys = zip(*members)
            ax.scatter(
                xs,
                ys,
                marker=marker,
                s=46 if marker != "X" else 70,
                color=colour,
                zorder=3,
                label=f"{label} ({len(members)})",
                edgecolors="white" if marker == "o" else None,
                linewidths=0.5,
                gid=f"scored:{group}",
            )
    bottom = blended_transform_factory(ax.transData, ax.transAxes)
    unscored = [t for t, s in zip(trials, scores) if s is None]
    if unscored:  # hollow markers on a grey band along the bottom, kept clear of the scored points by the margin
        from matplotlib.patches import Rectangle

        ax.margins(y=0.14)
        ax.add_patch(Rectangle((0, 0), 1, 0.07, transform=ax.transAxes, color="#eeeeee", zorder=0, lw=0))
        ax.text(0.995, 0.035, "no score", transform=ax.transAxes, ha="right", va="center", fontsize=8, color="#555555")
        for group in _MARKS:
            indices = [t.index for t in unscored if _group(t) == group]
            if indices:
                _, marker, colour = _MARKS[group]
                ax.scatter(
                    indices,
                    [0.035] * len(indices),
                    marker=marker,
                    s=46,
                    facecolors="none",
                    edgecolors=colour,
                    transform=bottom,
                    zorder=3,
                    linewidths=1.3,
                    gid=f"unscored:{group}",
                )
        ax.scatter(
            [],
            [],
            marker="o",
            s=46,
            facecolors="none",
            edgecolors="#555555",
            linewidths=1.3,
            label=f"no score ({len(unscored)}), on the grey band",
        )
    running = best_so_far(scores, maximize)
    steps = [(t.index, b) for t, b in zip(trials, running) if b is not None]
    if steps:
        xs, ys = zip(*steps)
        last = trials[-1].index
        ax.step([*xs, last], [*ys, ys[-1]], where="post", color="#2ca02c", lw=1.8, zorder=2, label="best so far")
    best = view.best()
    if best is not None and finite_score(best) is not None:
        ax.scatter(
            [best.index],
            [best.score],
            marker="*",
            s=320,
            color="gold",
            edgecolors="black",
            linewidths=0.8,
            zorder=4,
            label=f"best: {best.name} ({_fmt(best.score)})",  # type: ignore[arg-type]
        )
    present = [s for s in scores if s is not None]
    if metric_log(present, maximize):
        ax.set_yscale("log")
        _plain_log_axis(ax.yaxis, min(present), max(present))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=12))
    if trials:
        ax.set_xlim(trials[0].index - 0.6, trials[-1].index + 0.6)
    ax.set_xlabel("trial (in the order they were sampled)")
    ax.set_ylabel(_metric_label(view))
    ax.grid(True, alpha=0.3)
    title = f"{view.name}: {view.primary_metric or 'score'} by trial"
    ax.set_title(title, fontsize=11, loc="left")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
    _save(fig, path)
    counts = {group: _count_points(ax, f"scored:{group}") for group in _MARKS}
    counts.update(scored=_count_points(ax, "scored:"), unscored=_count_points(ax, "unscored:"))
    return Chart("metric_by_trial", path, title, counts["scored"] + counts["unscored"], counts)


def _clean(values: Sequence[float]) -> list[float]:
    """A curve with every value that is not a score (NaN, +-inf, MLflow's +-largest float) as a gap (NaN)."""
    return [v if counts_as_score(v) else math.nan for v in values]


def plot_curves(view: SweepView, curves: Mapping[str, Sequence[float]], path: Path) -> Chart:
    """Every trial's primary metric per interval, coloured by score; stopped trials marked x at their stop interval.

    Failed trials are dashed; the best trial is drawn on top, outlined.
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    maximize = view.maximize
    fig = _figure(9.5, 5.0)
    ax = fig.add_subplot()
    scores = [finite_score(t) for t in view.trials]
    cmap, norm, extend = _score_norm([s for s in scores if s is not None], maximize)
    stopped = 0
    best_line: tuple[list[int], list[float], Any] | None = None
    all_values: list[float] = []
    stop_points: list[tuple[int, float]] = []
    longest = max((len(curves.get(t.name, ())) for t in view.trials), default=0)
    markers = longest <= 40 and len(view.trials) <= 30  # dots help short curves; on many long ones they are noise
    for trial, score in zip(view.trials, scores):
        values = _clean(curves.get(trial.name, ()))
        if not any(math.isfinite(v) for v in values):
            continue
        xs = list(range(1, len(values) + 1))
        colour = cmap(norm(score)) if score is not None else GREY
        all_values += [v for v in values if math.isfinite(v)]
        cut = len(values)
        if trial.stopped_by and trial.stopped_at:
            cut = min(trial.stopped_at, len(values))
            if math.isfinite(values[cut - 1]):
                stop_points.append((cut, values[cut - 1]))
            stopped += 1
            if cut < len(values):  # logged between the policy's decision and the end of the process: dotted, faint
                ax.plot(
                    xs[cut - 1 :],
                    values[cut - 1 :],
                    color=colour,
                    lw=1.0,
                    alpha=0.5,
                    ls=":",
                    zorder=1,
                    gid=f"after_stop:{trial.name}",
                )
        if trial.name == view.best_trial:
            best_line = (xs, values, colour)
        else:
            dashed = trial.status == "Failed"
            ax.plot(
                xs[:cut],
                values[:cut],
                color=colour,
                lw=1.3,
                alpha=0.85,
                ls="--" if dashed else "-",
                zorder=2,
                marker="o" if markers else None,
                ms=2.5,
                gid=f"{'failed' if dashed else 'trial'}:{trial.name}",
            )
    if best_line is not None:
        xs, values, colour = best_line
        ax.plot(
            xs,
            values,
            color=colour,
            lw=3.0,
            zorder=4,
            path_effects=_best_effects(),
            marker="o" if markers else None,
            ms=3.5,
            gid=f"best:{view.best_trial}",
        )
    failed = _count_lines(ax, "failed:")
    drawn = _count_lines(ax, "trial:") + failed + _count_lines(ax, "best:")
    if stop_points:
        sx, sy = zip(*stop_points)
        ax.scatter(sx, sy, marker="x", s=70, color="#d62728", linewidths=2.2, zorder=5, gid="stopped")
    if metric_log(all_values, maximize):
        ax.set_yscale("log")
        _plain_log_axis(ax.yaxis, min(all_values), max(all_values))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=12))
    if longest:
        ax.set_xlim(1 - 0.03 * max(longest - 1, 1), longest + 0.03 * max(longest - 1, 1))
    ax.set_xlabel(f"interval (n-th logged value of {view.primary_metric or 'the metric'})")
    ax.set_ylabel(view.primary_metric or "score")
    ax.grid(True, alpha=0.3)
    title = f"{view.name}: {view.primary_metric or 'score'} per interval, every trial"
    ax.set_title(title, fontsize=11, loc="left")
    if not drawn:
        ax.text(0.5, 0.5, "no trial logged the primary metric", ha="center", va="center", transform=ax.transAxes)
    handles = []
    best = view.best()
    if best_line is not None and best is not None:
        handles.append(
            Line2D(
                [],
                [],
                color=best_line[2],
                lw=3,
                path_effects=_best_effects(),
                label=f"best: {best.name} ({_fmt(best.score)})",  # type: ignore[arg-type]
            )
        )
    if stopped:
        handles.append(
            Line2D([], [], ls="none", marker="x", ms=8, mew=2.2, color="#d62728", label=f"stopped by the policy ({stopped})")
        )
    if failed:
        handles.append(Line2D([], [], ls="--", color="#555555", label=f"failed ({failed})"))
    after = _count_lines(ax, "after_stop:")
    if after:
        handles.append(Line2D([], [], ls=":", color="#555555", label="logged after the stop, before the process ended"))
    if handles:
        fig.legend(handles=handles, loc="outside lower left", ncol=len(handles), frameon=False, fontsize=9)
    if any(s is not None for s in scores):
        _colour_bar(fig, ax, cmap, norm, extend, f"trial's {_metric_label(view)}")
    _save(fig, path)
    return Chart(
        "curves",
        path,
        title,
        drawn,
        {"lines": drawn, "stopped": stopped, "stop_markers": _count_points(ax, "stopped"), "failed": failed},
    )


def curves_skip_note(view: SweepView, curves: Mapping[str, Sequence[float]]) -> str:
    """Why ``curves.png`` is not drawn: every trial logged at most one value of the primary metric (a chart of
    single points says nothing; ``metric_by_trial.png`` shows each trial's score). Empty when it is drawn."""
    if any(len(curves.get(t.name, ())) > 1 for t in view.trials):
        return ""
    metric = view.primary_metric or "the primary metric"
    return f"{FILES['curves']} skipped: no trial logged more than one value of {metric} (a chart of single points says nothing)"


def report_notes(view: SweepView, curves: Mapping[str, Sequence[float]], all_params: bool = False) -> list[str]:
    """The one-line notes of a report, for its page and ``azsweep plot``'s output: a chart skipped, params not shown."""
    hidden = hidden_note(view, all_params, how=f"azsweep plot {view.name} --all-params")
    return [note for note in (curves_skip_note(view, curves), hidden) if note]


def write_page(
    view: SweepView, charts: Sequence[Chart], path: Path, *, all_params: bool = False, notes: Sequence[str] = ()
) -> Path:
    """One HTML page holding the charts (embedded, so it opens offline and inside ``mlflow ui``) and linking the files,
    with the notes (``report_notes``) under the summary."""
    best = view.best()
    summary = (
        f"{view.status}, {len(view.trials)} trials, {view.goal} {view.primary_metric}; experiment "
        f"{view.experiment_name!r}, MLflow parent run {view.parent_run_id}"
    )
    if best is not None:
        summary += f"; best trial {best.name} with {view.primary_metric} = {_fmt(best.score)}"  # type: ignore[arg-type]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>azsweep: {html.escape(view.name)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}"
        "figure{margin:2em 0}img{max-width:100%;height:auto;border:1px solid #ddd}"
        "pre{background:#f5f5f5;padding:.8em;overflow-x:auto}figcaption{color:#555;font-size:.9em}.note{color:#555}</style>",
        "</head><body>",
        f"<h1>{html.escape(view.name)}</h1>",
        f"<p>{html.escape(summary)}</p>",
        *(f'<p class="note">{html.escape(note)}</p>' for note in notes),
    ]
    extras = extras_lines(view, all_params)
    if extras:
        parts.append("<pre>" + html.escape("\n".join(extras)) + "</pre>")
    for chart in charts:
        data = base64.b64encode(chart.path.read_bytes()).decode("ascii")
        name = html.escape(chart.path.name)
        parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(chart.title)}">'
            f'<figcaption>{html.escape(chart.title)} — <a href="{name}">{name}</a></figcaption></figure>'
        )
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def render_report(
    view: SweepView, curves: Mapping[str, Sequence[float]], out: Path, *, all_params: bool = False
) -> tuple[list[Chart], Path]:
    """The charts and the HTML page into ``out``; returns the charts drawn and the page's path.

    The parallel coordinates show the swept parameters (``all_params``: every param logged); ``curves.png`` is
    skipped when no trial logged more than one value of the primary metric (``curves_skip_note`` says so on the page).
    """
    out = Path(out)
    charts = [
        plot_parallel_coordinates(view, out / FILES["parallel_coordinates"], all_params=all_params),
        plot_metric_by_trial(view, out / FILES["metric_by_trial"]),
    ]
    if not curves_skip_note(view, curves):
        charts.append(plot_curves(view, curves, out / FILES["curves"]))
    notes = report_notes(view, curves, all_params)
    return charts, write_page(view, charts, out / PAGE, all_params=all_params, notes=notes)


__all__ = [
    "Axis",
    "Chart",
    "best_so_far",
    "category_axis",
    "curves_skip_note",
    "log_spread",
    "looks_log_distributed",
    "metric_log",
    "numeric_axis",
    "parameter_axes",
    "plot_curves",
    "plot_metric_by_trial",
    "plot_parallel_coordinates",
    "render_report",
    "report_notes",
    "write_page",
]
