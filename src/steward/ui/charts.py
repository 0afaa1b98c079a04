"""Plotly figure specifications (plain dicts) for the dashboard's charts.

The browser draws them with the plotly.js bundled in the installed ``plotly`` package
(served at ``/ui/static/plotly.min.js``). Colours are the Okabe-Ito palette, which stays
distinguishable under the common colour-vision deficiencies; lines also differ by dash.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from steward.cost import AnomalyInfo, CostForecast

__all__ = ["PALETTE", "fairness_figure", "latency_figure", "spend_figure"]

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


def latency_figure(points: list[dict[str, Any]], budget_ms: float) -> dict[str, Any]:
    """p50 and p99 per monitoring window (``points``: start, p50, p99) against the budget."""
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
    return {"data": data, "layout": _layout("Latency per window vs budget", yaxis={"title": "ms"})}


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
        yaxis2={"title": "USD this month", "overlaying": "y", "side": "right"},
        height=360,
    )
    return {"data": data, "layout": layout}


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
    rates = [g["selection_rate"] for g in groups if isinstance(g.get("selection_rate"), float)]
    for lim in limits:
        level = None
        if lim["metric"] == "demographic_parity_ratio" and lim.get("min") and rates:
            level = max(rates) * lim["min"]
            label = f"selection rate floor (parity ratio ≥ {lim['min']:g})"
        elif (
            lim["metric"] == "demographic_parity_difference"
            and lim.get("max") is not None
            and rates
        ):
            level = max(rates) - lim["max"]
            label = f"selection rate floor (parity difference ≤ {lim['max']:g})"
        if level is not None and names:
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": label,
                    "x": [names[0], names[-1]],
                    "y": [level, level],
                    "line": {"color": PALETTE["vermillion"], "dash": "dash"},
                }
            )
    layout = _layout(f"Fairness by {attr}", barmode="group", yaxis={"range": [0, 1]})
    return {"data": data, "layout": layout}
