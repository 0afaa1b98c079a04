"""``steward cost``: spend per team, site, kind, model, day; budgets, forecasts, anomalies,
egress and the cost of leaving a provider."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from steward.cli.common import JsonOpt, client, handle_errors
from steward.cli.output import console, print_json, print_rows
from steward.errors import ValidationFailed

__all__ = ["cost_app"]

cost_app = typer.Typer(
    help="Cost: metered spend, budgets, forecasts, anomalies, egress (see docs/cost.md).",
    no_args_is_help=True,
)

Since = Annotated[
    str | None, typer.Option(help="First day, YYYY-MM-DD [default: the 1st of this month]")
]
Until = Annotated[str | None, typer.Option(help="Day after the last, YYYY-MM-DD [tomorrow]")]
Team = Annotated[str | None, typer.Option(help="Only this team.")]


def usd(x: float | None) -> str:
    if x is None:
        return "—"
    return f"${x:,.2f}" if abs(x) >= 0.01 or x == 0 else f"${x:.6f}"


@cost_app.command("report")
@handle_errors
def cost_report(
    by: Annotated[
        list[str] | None,
        typer.Option(
            help="Group by team, site, kind, resource, model, endpoint, action, day or month "
            "(repeatable) [default: kind]."
        ),
    ] = None,
    team: Team = None,
    site: Annotated[str | None, typer.Option(help="Only this site.")] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="Only training, validation, inference, stream, storage or egress."),
    ] = None,
    endpoint: Annotated[str | None, typer.Option(help="Only this endpoint.")] = None,
    since: Since = None,
    until: Until = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV of the grouped rows.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Spend in a period, grouped: a table, --json or --csv."""
    r = client().cost_report(
        by=by, team=team, site=site, kind=kind, endpoint=endpoint, since=since, until=until
    )
    if as_json:
        return print_json(r)
    if as_csv:
        w = csv.writer(sys.stdout)
        w.writerow([*r.by, "amount_usd", "records"])
        for row in r.rows:
            w.writerow([*(row.key[b] or "" for b in r.by), f"{row.amount:.6f}", row.records])
        return None
    title = (
        f"spend {r.since} to {r.until} (exclusive)"
        + (f", team {r.team}" if r.team else "")
        + f", by {', '.join(r.by)}"
    )
    print_rows(
        [
            [*(escape(row.key[b] or "—") for b in r.by), usd(row.amount), str(row.records)]
            for row in r.rows
        ]
        + [[*(["total"] + [""] * (len(r.by) - 1)), usd(r.total), str(r.records)]],
        [*r.by, "amount", "records"],
        title=title,
    )
    if r.idle:
        print_rows(
            [
                [
                    i.site,
                    usd(i.capacity_usd),
                    usd(i.allocated_usd),
                    usd(i.idle_usd),
                    f"{i.idle_share:.0%}",
                ]
                for i in r.idle
            ],
            ["site", "capacity", "allocated", "idle", "idle share"],
            title="idle capacity (reported apart from the teams' spend)",
        )
    return None


@cost_app.command("records")
@handle_errors
def cost_records(team: Team = None, since: Since = None, until: Until = None) -> None:
    """The cost records themselves, as CSV (at most 10,000, oldest first)."""
    from steward.cost import RECORD_COLUMNS

    rows = client().cost_records(team=team, since=since, until=until)
    w = csv.writer(sys.stdout)
    w.writerow(RECORD_COLUMNS)
    for r in rows:
        values = r.model_dump()
        w.writerow(["" if values[c] is None else values[c] for c in RECORD_COLUMNS])


@cost_app.command("import")
@handle_errors
def cost_import(
    path: Annotated[
        Path, typer.Argument(help="A CSV with the columns `steward cost records` writes.")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Bring in spend metered elsewhere (admins): a previous platform's, a bill export."""
    from steward.cost import RECORD_COLUMNS

    if not path.is_file():
        raise ValidationFailed(f"{path}: no such file", path=str(path))
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("at", "team", "site", "kind", "resource", "units", "unit",
                               "unit_price", "amount", "action", "ref")
                   if c not in (reader.fieldnames or [])]  # fmt: skip
        if missing:
            raise ValidationFailed(
                f"{path}: missing column(s) {', '.join(missing)}; expected the columns of "
                f"`steward cost records`: {', '.join(RECORD_COLUMNS)}",
                missing=missing,
            )
        rows = [{k: (None if v == "" and k != "team" else v) for k, v in r.items()} for r in reader]
    n = client().cost_import(rows)
    if as_json:
        return print_json({"imported": n})
    console.print(f"imported {n:,} cost record(s) from {path}")
    return None


@cost_app.command("egress")
@handle_errors
def cost_egress(
    team: Team = None, since: Since = None, until: Until = None, as_json: JsonOpt = False
) -> None:
    """Bytes and money moved between sites (and to the internet)."""
    rows = client().cost_egress(team=team, since=since, until=until)
    if as_json:
        return print_json(rows)
    print_rows(
        [[r.source, r.dest, f"{r.gb:,.3f}", usd(r.amount), str(r.records)] for r in rows],
        ["from", "to", "GB", "amount", "copies"],
        title="egress between sites",
    )
    return None


@cost_app.command("exit")
@handle_errors
def cost_exit(
    from_provider: Annotated[str, typer.Option("--from", help="The provider left: aws, azure...")],
    to_provider: Annotated[str, typer.Option("--to", help="The provider moved to.")],
    to_region: Annotated[
        str | None, typer.Option(help="Its region in the price book [default: the first]")
    ] = None,
    team: Team = None,
    as_json: JsonOpt = False,
) -> None:
    """What leaving a provider would cost: egress once, and re-hosting per month."""
    e = client().cost_exit(from_provider, to_provider, to_region=to_region, team=team)
    if as_json:
        return print_json(e)
    who = f"team {e.team}" if e.team else "everything"
    console.print(
        f"[bold]{who}[/bold] from {e.from_provider} ({', '.join(e.sites)}) to "
        f"{e.to_provider} {e.to_region}"
    )
    print_rows(
        [
            [
                x.what,
                x.site,
                f"{x.gb:,.3f} GB" if x.gb is not None else f"{x.units:,.2f} {x.unit}",
                usd(x.current_usd),
                usd(x.target_usd),
            ]
            for x in e.lines
        ],
        ["what", "site", "amount", "now / month", f"at {e.to_provider} / month"],
        title="re-hosting",
    )
    change = e.monthly_change_usd
    console.print(
        f"  moving {e.data_gb:,.3f} GB out: [bold]{usd(e.egress_usd)}[/bold] once; per month "
        f"{usd(e.current_monthly_usd)} now, {usd(e.target_monthly_usd)} after "
        f"({'+' if change >= 0 else '-'}{usd(abs(change))})"
    )
    if e.endpoints:
        console.print(f"  endpoints to redeploy: {', '.join(e.endpoints)}")
    for n in e.notes:
        console.print(f"  [dim]{escape(n)}[/dim]")
    return None


@cost_app.command("forecast")
@handle_errors
def cost_forecast(
    team: Team = None,
    endpoint: Annotated[str | None, typer.Option(help="An endpoint instead of a team.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """This month's spend so far and forecast to its end, against the budget."""
    f = client().cost_forecast(team=team, endpoint=endpoint)
    if as_json:
        return print_json(f)
    who = f"team {f.team}" if f.team else f"endpoint {f.endpoint}"
    p = f.projected_total
    console.print(
        f"[bold]{who}[/bold], {f.month}: {usd(f.spent)} spent so far; projected "
        f"{usd(p['mean'])} ({usd(p['lower'])}–{usd(p['upper'])}, {f.level:.0%} daily "
        f"bounds) by {f.method}"
    )
    if f.budget is not None:
        c = f.crossing
        if f.exceeded_already:
            verdict = "[red]already over budget[/red]"
        elif c.get("mean"):
            verdict = f"[red]crossed on {c['mean']}[/red] at the forecast rate"
        elif c.get("upper"):
            verdict = f"[yellow]within, unless spend runs high (then {c['upper']})[/yellow]"
        else:
            verdict = "[green]within budget[/green]"
        console.print(f"  budget {usd(f.budget)}: {verdict}")
    print_rows(
        [[str(x.day), usd(x.mean), usd(x.lower), usd(x.upper)] for x in f.forecast[:10]],
        ["day", "forecast", "low", "high"],
        title="the next days",
    )
    return None


@cost_app.command("anomalies")
@handle_errors
def cost_anomalies(
    team: Team = None,
    endpoint: Annotated[str | None, typer.Option(help="An endpoint instead of a team.")] = None,
    days: Annotated[int, typer.Option(help="How far back.")] = 90,
    as_json: JsonOpt = False,
) -> None:
    """Days whose spend left the forecast band, with the impact."""
    found = client().cost_anomalies(team=team, endpoint=endpoint, days=days)
    if as_json:
        return print_json(found)
    print_rows(
        [
            [
                str(a.day),
                a.direction,
                usd(a.value),
                f"{usd(a.expected)} ({usd(a.lower)}–{usd(a.upper)})",
                f"{'+' if a.impact >= 0 else '-'}{usd(abs(a.impact))}",
                "—" if a.impact_pct is None else f"{a.impact_pct:+.0%}",
                a.method,
            ]
            for a in found
        ],
        ["day", "kind", "spend", "expected (band)", "impact", "%", "method"],
        title="cost anomalies",
    )
    return None


def show_training_estimate(e: Any) -> None:
    """The table `steward train --dry-run` prints."""
    console.print(
        f"estimated {e.estimate_cpu_hours:.4f} cpu-hours ({e.rows:,} rows × {e.features} "
        f"features): [bold]{usd(e.cost_usd)}[/bold] at {e.site}"
    )
    console.print(f"  placement: {escape(e.placement)}")
    _site_table(e.sites, [x.cost_usd for x in e.sites], "estimate", e.cheapest_allowed,
                "the job at each site")  # fmt: skip
    b = e.budget
    if b is not None:
        verdict = "within" if b.within else ("REFUSED: over" if b.hard else "over (soft)")
        console.print(
            f"  team {b.team}'s budget {usd(b.monthly_usd)}: {usd(b.spent)} spent, "
            f"{usd(b.committed)} committed, {usd(b.after)} with this job: {verdict}"
        )


def show_serving_estimate(e: Any) -> None:
    """The table `steward deploy --dry-run` prints."""
    console.print(
        f"{e.model} at {e.requests_per_second:g} requests/s: {e.seconds_per_request * 1e3:.3f} "
        f"ms of model compute per request ({e.basis}) = {e.cpu_hours_per_month:,.2f} "
        "cpu-hours a month"
    )
    _site_table(e.sites, [x.monthly_usd for x in e.sites], "per month", e.cheapest_allowed,
                "serving at each site")  # fmt: skip


def _site_table(
    sites: list[Any], amounts: list[float], heading: str, cheapest: str | None, title: str
) -> None:
    """A dry run's table: each site's price, the amount there, whether the policy allows it."""
    print_rows(
        [
            [
                x.site,
                f"${x.cpu_hour:g}",
                usd(amount),
                "yes" if x.allowed else "no: " + ", ".join(x.refused_by),
                "cheapest allowed" if x.site == cheapest else "",
            ]
            for x, amount in zip(sites, amounts, strict=True)
        ],
        ["site", "cpu-hour", heading, "allowed", ""],
        title=title,
    )


def require_rate(rate: float | None) -> float:
    if rate is None:
        raise ValidationFailed("--dry-run needs --rate: the expected requests per second")
    return rate
