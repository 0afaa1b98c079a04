"""``steward monitor``: drift reports of an endpoint's traffic against its model."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from steward.cli.common import JsonOpt, client, handle_errors, state
from steward.cli.output import console, print_json, print_table
from steward.monitoring import PerformanceReport, WindowReport

__all__ = ["alert_app", "monitor_app"]

monitor_app = typer.Typer(
    help="Monitoring: drift of live traffic against the model (see docs/monitoring.md).",
    no_args_is_help=True,
)


def _num(x: float | None, digits: int = 4) -> str:
    return "—" if x is None else f"{x:.{digits}g}"


def _show(r: WindowReport) -> None:
    span = f"{r.start:%Y-%m-%d %H:%M}–{r.end:%Y-%m-%d %H:%M} UTC ({r.minutes} min)"
    if r.too_few_rows:
        verdict = "[yellow]not tested[/yellow]"
    elif r.dataset_drift:
        verdict = "[red]DRIFT[/red]"
    else:
        verdict = "[green]no dataset drift[/green]"
    share = "—" if r.drifted_share is None else f"{r.drifted_share:.0%}"
    console.print(
        f"[bold]{r.endpoint}[/bold] · {r.model} · {span}: {r.rows:,} rows against a "
        f"reference of {r.reference_rows:,}; {r.drifted} of {r.tested} tested features "
        f"drifted ({share}; the dataset drifts at {r.drift_share:.0%}): {verdict}"
    )
    for note in r.notes:
        console.print(f"  {escape(note)}")
    for a in r.alerts:
        done = ", ".join(x["action"] + ("" if x.get("ok") else " (failed)") for x in a.actions)
        console.print(
            f"  [bold]alert {a.id}[/bold] ({a.state}, seen {a.count}x): {escape(a.message)}"
            + (f"; done: {done}" if done else "")
        )
    table = Table(show_lines=False)
    for col in ("feature", "kind", "test", "score", "p-value", "threshold", "verdict"):
        table.add_column(col)
    rows = list(r.features) + ([r.prediction] if r.prediction else [])
    for v in rows:
        mark = {
            "drifted": "[red]DRIFT[/red]",
            "stable": "[green]ok[/green]",
        }.get(v.status, f"[dim]not tested: {escape(v.reason or '')}[/dim]")
        table.add_row(
            escape(v.column),
            v.kind,
            v.method or "—",
            _num(v.score),
            _num(v.p_value),
            _num(v.threshold, 3),
            mark,
        )
    console.print(table)
    lat = (
        "no latency yet"
        if r.latency_p99_ms is None
        else f"latency p50 {r.latency_p50_ms} ms, p99 {r.latency_p99_ms} ms (budget "
        f"{r.budget_ms:g} ms)"
    )
    console.print(f"  {lat}")
    if r.performance is not None:
        _show_performance(r.performance, "performance")
    if r.change_points:
        for c in r.change_points:
            console.print(
                f"  change point ({c.method}): {escape(c.column)}'s drift score rose from "
                f"the window of {c.change_start:%Y-%m-%d %H:%M}, alarm at "
                f"{c.window_start:%Y-%m-%d %H:%M}"
                + (" [red](this window)[/red]" if c.latest else "")
            )
    elif r.series_windows:
        console.print(f"  change points: none over the last {r.series_windows} window(s)")


def _show_performance(p: PerformanceReport, what: str) -> None:
    if p.status == "unknown":
        console.print(f"  {what}: [yellow]unknown[/yellow] (" + escape("; ".join(p.reasons)) + ")")
        return
    mark = "[green]ok[/green]" if p.status == "ok" else "[red]DEGRADED[/red]"
    parts = [f"{m.metric} {_num(m.realised)} (validated {_num(m.validated)})" for m in p.metrics]
    console.print(
        f"  {what} on {p.labelled:,} labelled rows: {mark}; "
        + ", ".join(parts)
        + (f"; compared with {p.validation}" if p.validation else "")
    )
    if p.status == "degraded":
        for reason in p.reasons:
            console.print(f"    {escape(reason)}")


@monitor_app.command("run")
@handle_errors
def monitor_run(
    endpoint: Annotated[str, typer.Argument(help="The endpoint to check.")],
    as_json: JsonOpt = False,
) -> None:
    """Read the prediction log into windows and test the latest ones for drift."""
    reports = client().monitor_run(endpoint)
    if as_json:
        return print_json(reports)
    if not reports:
        console.print(f"endpoint {endpoint}: no predictions logged yet")
    for r in reports:
        _show(r)
    return None


@monitor_app.command("report")
@handle_errors
def monitor_report(
    endpoint: Annotated[str, typer.Argument(help="The endpoint.")],
    window: Annotated[
        str | None, typer.Option(help="Window length: 60m, 1h, 1d (default: the shortest).")
    ] = None,
    start: Annotated[
        datetime | None, typer.Option(help="The window's start, UTC (default: the latest).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="The model version (name@version).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One window's table: feature, test, score, threshold and verdict."""
    r = client().monitor_report(endpoint, window=window, start=start, model=model)
    if as_json:
        return print_json(r)
    _show(r)
    return None


@monitor_app.command("revalidate")
@handle_errors
def monitor_revalidate(
    endpoint: Annotated[str, typer.Argument(help="The endpoint whose model to revalidate.")],
    as_json: JsonOpt = False,
) -> None:
    """Re-run the endpoint's model through its gates now: on the latest version of its
    holdout and on recently labelled traffic (the server's monitor does this on the
    team's schedule, monitoring.revalidation). Exits 1 when the model no longer passes."""
    r = client().monitor_revalidate(endpoint)
    if as_json:
        print_json(r)
        raise typer.Exit(0 if r.passed else 1)
    verdict = "[green]passes[/green]" if r.passed else "[red]NO LONGER PASSES[/red]"
    console.print(
        f"[bold]{r.endpoint}[/bold] · {r.model}: {verdict}"
        + (f" (gates on {r.holdout}: {r.validation})" if r.validation else "")
    )
    _show_performance(r.traffic, "labelled traffic")
    for reason in r.reasons:
        console.print(f"  {escape(reason)}")
    for a in r.alerts:
        console.print(f"  [bold]alert {a.id}[/bold] ({a.state}): {escape(a.message)}")
    if not r.passed:
        raise typer.Exit(1)
    return None


@monitor_app.command("windows")
@handle_errors
def monitor_windows(
    endpoint: Annotated[str, typer.Argument(help="The endpoint.")],
    as_json: JsonOpt = False,
) -> None:
    """The endpoint's windows, newest first."""
    wins = client().monitor_windows(endpoint)
    if as_json:
        return print_json(wins)
    print_table(
        wins,
        ["start", "minutes", "model", "rows", "evaluated_at", "dataset_drift"],
        title=f"windows of {endpoint}",
    )
    return None


alert_app = typer.Typer(
    help="Monitoring's alerts: list, show, acknowledge, resolve.", no_args_is_help=True
)


@alert_app.command("list")
@handle_errors
def alert_list(
    endpoint: Annotated[str | None, typer.Option(help="Only this endpoint's.")] = None,
    state: Annotated[str | None, typer.Option(help="open, acknowledged or resolved.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Alerts, newest first."""
    alerts = client().alerts(endpoint=endpoint, state=state)
    if as_json:
        return print_json(alerts)
    print_table(
        alerts,
        ["id", "endpoint", "rule", "state", "severity", "count", "message"],
        title="alerts",
    )
    return None


@alert_app.command("show")
@handle_errors
def alert_show(
    alert_id: Annotated[int, typer.Argument(help="The alert's id.")],
    as_json: JsonOpt = False,
) -> None:
    """An alert and every occurrence: the evidence each time it fired, and the automatic
    actions each triggered with their ledger entry (seq)."""
    a = client().alert(alert_id)
    if as_json:
        return print_json(a)
    console.print(
        f"[bold]alert {a.id}[/bold] {a.endpoint or a.team} {a.rule} ({a.signal}, {a.state}, "
        f"{a.severity}, seen {a.count}x): {escape(a.message)}"
    )
    table = Table(title="occurrences")
    for col in ("#", "occurrence", "observed", "evidence", "actions (ledger seq)"):
        table.add_column(col)
    for o in a.occurrences:
        table.add_row(
            str(o.number),
            str(o.id),
            o.observed_at.isoformat(timespec="seconds"),
            escape(o.message),
            escape("; ".join(_action_text(x) for x in o.actions)),
        )
    console.print(table)
    return None


def _action_text(x: dict[str, Any]) -> str:
    what = str(x.get("action"))
    if not x.get("ok"):
        what += f" failed: {x.get('error', '')}"
    elif x.get("to") is not None:
        what += f" to revision {x['to']}"
    if x.get("ledger_seq") is not None:
        what += f" (seq {x['ledger_seq']})"
    return what


@alert_app.command("ack")
@handle_errors
def alert_ack(
    alert_id: Annotated[int, typer.Argument(help="The alert's id.")],
    note: Annotated[str, typer.Option(help="Why, for the record.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Acknowledge an open alert (it stays until resolved)."""
    a = client().acknowledge_alert(alert_id, note=note)
    if as_json:
        return print_json(a)
    console.print(f"alert {a.id} acknowledged by {a.acknowledged_by}")
    return None


@alert_app.command("resolve")
@handle_errors
def alert_resolve(
    alert_id: Annotated[int, typer.Argument(help="The alert's id.")],
    note: Annotated[str, typer.Option(help="Why, for the record.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Resolve an alert."""
    a = client().resolve_alert(alert_id, note=note)
    if as_json:
        return print_json(a)
    console.print(f"alert {a.id} resolved by {a.resolved_by}")
    return None


@monitor_app.command("serve")
@handle_errors
def monitor_serve(
    interval: Annotated[
        float | None,
        typer.Option(help="Seconds between rounds [default: monitoring.interval_seconds]."),
    ] = None,
    once: Annotated[bool, typer.Option(help="One round, then exit.")] = False,
) -> None:
    """Watch every endpoint: read the log, test for drift, apply the alert rules,
    revalidate the models that are due, accrue storage cost and watch budgets and cost
    anomalies, every interval (``steward server`` runs this as a child process)."""
    import os
    import signal
    import threading

    from steward.cost import CostService
    from steward.monitoring import MonitoringService, RevalidationService
    from steward.runtime import Runtime

    rt = Runtime.open(state.home)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    parent = os.getppid()
    wait = interval if interval is not None else rt.config.monitoring.interval_seconds
    mon = MonitoringService(rt)
    costs = CostService(rt)
    try:
        while True:
            for name, reports in mon.watch_all().items():
                for a in (a for r in reports for a in r.alerts):
                    console.print(f"monitor: {name}: alert {a.id} ({a.state}): {a.message}")
            for r in RevalidationService(rt).run_due():
                verdict = "passed" if r.passed else "FAILED: " + "; ".join(r.reasons)
                console.print(f"monitor: {r.endpoint}: revalidated {r.model}: {verdict}")
            try:
                for a in costs.watch():
                    console.print(f"monitor: cost: alert {a.id} ({a.state}): {a.message}")
            except Exception as exc:  # the bill's watch must not stop the endpoints' watch
                console.print(f"monitor: cost: {type(exc).__name__}: {exc}")
            if once or stop.wait(wait) or os.getppid() != parent:
                break  # stopped, or the server that started us is gone
    finally:
        rt.close()
