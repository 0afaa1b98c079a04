"""Plotly figure specifications (plain dicts) for the dashboard's charts.

The browser draws them with the plotly.js bundled in the installed ``plotly`` package
(served at ``/ui/static/plotly.min.js``). Colours are the Okabe-Ito palette, which stays
distinguishable under the common colour-vision deficiencies; lines also differ by dash.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from steward.cost import AnomalyInfo, CostForecast

__all__ = [
    "PALETTE",
    "distribution_figure",
    "distribution_labels",
    "fairness_figure",
    "fairness_levels",
    "latency_figure",
    "profile_figure",
    "spend_figure",
]

#: Okabe & Ito (2008), "Color Universal Design"
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "black": "#000000",
}

_LAYOUT: dict[str, Any] = {
    "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
    "height": 320,
    "legend": {"orientation": "h", "y": -0.2},
    "font": {"family": "system-ui, sans-serif", "size": 12},
}


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {**_LAYOUT, "title": {"text": title, "font": {"size": 14}}, **extra}


def latency_figure(
    points: list[dict[str, Any]], budget_ms: float, *, over: str = "per monitoring window"
) -> dict[str, Any]:
    """p50 and p99 over time (``points``: start, p50, p99) against the budget."""
    x = [p["start"] for p in points]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "p50 (ms)",
            "x": x,
            "y": [p["p50"] for p in points],
            "line": {"color": PALETTE["blue"]},
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "p99 (ms)",
            "x": x,
            "y": [p["p99"] for p in points],
            "line": {"color": PALETTE["orange"], "dash": "dot"},
            "marker": {"symbol": "diamond"},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": f"budget {budget_ms:g} ms (p99)",
            "x": [x[0], x[-1]] if x else [],
            "y": [budget_ms, budget_ms],
            "line": {"color": PALETTE["vermillion"], "dash": "dash"},
        },
    ]
    layout = _layout(
        f"Latency {over}, against the budget", yaxis={"title": "ms", "rangemode": "tozero"}
    )
    return {"data": data, "layout": layout}


def spend_figure(
    fc: CostForecast, anomalies: list[AnomalyInfo], *, since: date | None = None
) -> dict[str, Any]:
    """Daily spend, the forecast's mean and interval, anomalies marked, and the budget as
    a cumulative line on a second axis (the month's spend to date and projected)."""
    hist = [h for h in fc.history if since is None or h.day >= since]
    days = [h.day.isoformat() for h in hist]
    fdays = [f.day.isoformat() for f in fc.forecast]
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "name": "spend per day",
            "x": days,
            "y": [h.amount for h in hist],
            "marker": {"color": PALETTE["blue"]},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "forecast interval (low)",
            "x": fdays,
            "y": [f.lower for f in fc.forecast],
            "line": {"width": 0},
            "showlegend": False,
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": f"forecast {fc.level:.0%} interval",
            "x": fdays,
            "y": [f.upper for f in fc.forecast],
            "fill": "tonexty",
            "fillcolor": "rgba(86,180,233,0.3)",
            "line": {"width": 0},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "forecast (mean)",
            "x": fdays,
            "y": [f.mean for f in fc.forecast],
            "line": {"color": PALETTE["sky"], "dash": "dot"},
        },
    ]
    marked = [a for a in anomalies if since is None or a.day >= since]
    if marked:
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "anomaly",
                "x": [a.day.isoformat() for a in marked],
                "y": [a.value for a in marked],
                "marker": {"color": PALETTE["vermillion"], "symbol": "x", "size": 12},
            }
        )
    # the month: cumulative spend to date, projected, and the budget
    month = fc.month
    cum, total, cx = [], 0.0, []
    for h in fc.history:
        if h.day.isoformat().startswith(month):
            total += h.amount
            cum.append(round(total, 4))
            cx.append(h.day.isoformat())
    pcum, ptotal, px = [], total, []
    for f in fc.forecast:
        if f.day.isoformat().startswith(month):
            ptotal += f.mean
            pcum.append(round(ptotal, 4))
            px.append(f.day.isoformat())
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "name": "month to date (cumulative)",
            "x": cx,
            "y": cum,
            "yaxis": "y2",
            "line": {"color": PALETTE["green"]},
        }
    )
    if px:
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "month projected (cumulative)",
                "x": px,
                "y": pcum,
                "yaxis": "y2",
                "line": {"color": PALETTE["green"], "dash": "dot"},
            }
        )
    if fc.budget is not None:
        start = date.fromisoformat(month + "-01")
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"monthly budget ${fc.budget:,.2f}",
                "x": [start.isoformat(), end.isoformat()],
                "y": [fc.budget, fc.budget],
                "yaxis": "y2",
                "line": {"color": PALETTE["vermillion"], "dash": "dash"},
            }
        )
    layout = _layout(
        "Spend per day, forecast and the month against the budget",
        yaxis={"title": "USD per day"},
        yaxis2={
            "title": "USD this month",
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
        },
        height=360,
    )
    layout["margin"] = {**layout["margin"], "r": 70}
    return {"data": data, "layout": layout}


def _rates(groups: list[dict[str, Any]], key: str) -> list[float]:
    return [float(g[key]) for g in groups if isinstance(g.get(key), int | float)]


def fairness_levels(
    groups: list[dict[str, Any]], limits: list[dict[str, Any]]
) -> list[tuple[float, str, str]]:
    """The suite's limits as levels on the per-group chart: ``(level, label, colour)``.

    A parity limit bounds the spread of selection rates, so given the best-treated group
    it is a floor for the others: ``max - d`` for a difference ``d``, ``max * r`` for a
    ratio ``r``. Equalised odds bounds the spread of both TPR and FPR: a floor under the
    highest TPR and a ceiling over the lowest FPR (``min + d`` or ``min / r``). A group's
    bar past its line is what fails the check."""
    out: list[tuple[float, str, str]] = []
    sel, tpr, fpr = (_rates(groups, k) for k in ("selection_rate", "tpr", "fpr"))
    for lim in limits:
        metric, lo, hi = lim["metric"], lim.get("min"), lim.get("max")
        if metric == "demographic_parity_ratio" and lo and sel:
            out.append((max(sel) * lo, f"selection rate floor (parity ratio ≥ {lo:g})", "blue"))
        elif metric == "demographic_parity_difference" and hi is not None and sel:
            out.append(
                (max(sel) - hi, f"selection rate floor (parity difference ≤ {hi:g})", "blue")
            )
        elif metric == "equalized_odds_difference" and hi is not None:
            if tpr:
                out.append(
                    (max(tpr) - hi, f"TPR floor (equalised odds difference ≤ {hi:g})", "orange")
                )
            if fpr:
                out.append(
                    (min(fpr) + hi, f"FPR ceiling (equalised odds difference ≤ {hi:g})", "green")
                )
        elif metric == "equalized_odds_ratio" and lo:
            if tpr:
                out.append((max(tpr) * lo, f"TPR floor (equalised odds ratio ≥ {lo:g})", "orange"))
            if fpr:
                out.append((min(fpr) / lo, f"FPR ceiling (equalised odds ratio ≥ {lo:g})", "green"))
    return [(round(level, 6), label, PALETTE[colour]) for level, label, colour in out]


def fairness_figure(
    attr: str, groups: list[dict[str, Any]], limits: list[dict[str, Any]]
) -> dict[str, Any]:
    """Per-group selection rate, TPR and FPR for one sensitive attribute, with the suite's
    limits drawn where they translate to a level on this chart."""
    names = [str(g.get("group")) for g in groups]
    series = [
        ("selection_rate", "selection rate", PALETTE["blue"], ""),
        ("tpr", "true positive rate", PALETTE["orange"], "/"),
        ("fpr", "false positive rate", PALETTE["green"], "."),
    ]
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "name": label,
            "x": names,
            "y": [g.get(key) for g in groups],
            "marker": {"color": colour, "pattern": {"shape": shape}},
        }
        for key, label, colour, shape in series
    ]
    for level, label, colour in fairness_levels(groups, limits):
        # across the whole chart: drawn on a hidden 0..1 axis laid over the groups' axis
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": label,
                "x": [0, 1],
                "y": [level, level],
                "xaxis": "x2",
                "line": {"color": colour, "dash": "dash", "width": 2},
                "hovertemplate": f"{label}: %{{y:.3f}}<extra></extra>",
            }
        )
    layout = _layout(
        f"Fairness by {attr}",
        barmode="group",
        yaxis={"rangemode": "tozero", "title": "rate"},
        xaxis2={"overlaying": "x", "range": [0, 1], "visible": False},
    )
    return {"data": data, "layout": layout}


def profile_figure(
    columns: list[tuple[str, dict[str, Any]]], *, per_row: int = 3
) -> dict[str, Any]:
    """Small multiples of a dataset's profile: a histogram for each numeric column (the
    profile's equal-width bins) and the most frequent values of each categorical one.
    ``columns`` are ``(name, summary)`` pairs of columns whose values may be shown."""
    data: list[dict[str, Any]] = []
    layout = _layout(
        "Distribution of each column", height=max(1, -(-len(columns) // per_row)) * 190 + 60
    )
    layout["title"].update(x=0, xanchor="left")
    layout["showlegend"] = False
    layout["margin"] = {"l": 40, "r": 10, "t": 70, "b": 30}
    rows = max(1, -(-len(columns) // per_row))
    gap_x, gap_y = 0.06, 0.4 / rows
    width = (1 - gap_x * (per_row - 1)) / per_row
    height = (1 - gap_y * (rows - 1)) / rows
    annotations = []
    for i, (name, summary) in enumerate(columns):
        r, c = divmod(i, per_row)
        ax = "" if i == 0 else str(i + 1)
        x0 = c * (width + gap_x)
        y1 = 1 - r * (height + gap_y)
        hist = summary.get("histogram") or {}
        if summary.get("kind") == "numeric" and hist.get("counts"):
            edges = hist["edges"]
            trace = {
                "type": "bar",
                "x": [(a + b) / 2 for a, b in pairwise(edges)],
                "width": [b - a for a, b in pairwise(edges)],
                "y": hist["counts"],
                "marker": {"color": PALETTE["blue"]},
                "hovertemplate": f"{name}: %{{x:.4g}}<br>rows: %{{y}}<extra></extra>",
            }
        else:
            top = (summary.get("top") or [])[:10]
            trace = {
                "type": "bar",
                "x": [str(v) for v, _ in top],
                "y": [n for _, n in top],
                "marker": {"color": PALETTE["orange"]},
                "hovertemplate": f"{name} = %{{x}}<br>rows: %{{y}}<extra></extra>",
            }
        data.append({**trace, "xaxis": f"x{ax}", "yaxis": f"y{ax}", "name": name})
        layout[f"xaxis{ax}"] = {"domain": [x0, x0 + width], "anchor": f"y{ax}", "automargin": True}
        layout[f"yaxis{ax}"] = {"domain": [y1 - height, y1], "anchor": f"x{ax}"}
        annotations.append(
            {
                "text": f"<b>{name}</b>",
                "x": x0 + width / 2,
                "y": y1,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
            }
        )
    layout["annotations"] = annotations
    return {"data": data, "layout": layout}


def distribution_labels(dist: Any) -> list[str]:
    """The x labels of a :class:`FeatureDistribution`: bins ``lo – hi`` or categories."""
    if dist.kind == "numeric" and dist.edges:
        return [f"{a:.4g} – {b:.4g}" for a, b in pairwise(dist.edges)]
    return [str(c) for c in dist.categories or []]


def distribution_figure(dist: Any) -> dict[str, Any]:
    """One feature's reference and current distributions in a monitoring window, as the
    share of rows per bin (numeric) or per category, side by side."""
    x = distribution_labels(dist)
    data = [
        {
            "type": "bar",
            "name": f"reference ({dist.reference_rows:,} rows)",
            "x": x,
            "y": dist.reference,
            "marker": {"color": PALETTE["blue"]},
        },
        {
            "type": "bar",
            "name": f"window ({dist.current_rows:,} rows)",
            "x": x,
            "y": dist.current,
            "marker": {"color": PALETTE["orange"], "pattern": {"shape": "/"}},
        },
    ]
    layout = _layout(
        f"{dist.column}: reference vs window",
        barmode="group",
        yaxis={"title": "share of rows", "tickformat": ".0%"},
        xaxis={"title": dist.column, "automargin": True},
        height=380,
    )
    return {"data": data, "layout": layout}
