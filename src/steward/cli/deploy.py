"""``steward deploy``, ``steward rollback`` and ``steward endpoint ...``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from steward.cli.common import JsonOpt, client, handle_errors
from steward.cli.output import console, print_json, print_rows
from steward.errors import ValidationFailed

__all__ = ["deploy", "endpoint_app", "rollback"]

endpoint_app = typer.Typer(help="Prediction endpoints: list, show.", no_args_is_help=True)


def _show(info: Any) -> None:
    cur = info.current
    console.print(
        f"endpoint [bold]{info.name}[/bold] at {info.site}"
        + (f" (team {info.team})" if info.team else "")
        + (
            f": revision {cur.revision}, {cur.strategy}, {cur.primary}"
            + (f" + {cur.candidate} ({cur.percent}%)" if cur.candidate else "")
            if cur
            else ": no revision"
        )
    )
    rows = [
        [
            str(r.revision) + (" *" if r.current else ""),
            r.strategy,
            r.primary,
            r.candidate or "",
            f"{r.percent}%" if r.candidate else "",
            escape(r.reason),
            r.created_by,
            r.created_at.strftime("%Y-%m-%d %H:%M"),
        ]
        for r in info.revisions
    ]
    print_rows(
        rows,
        ["rev", "strategy", "primary", "candidate", "share", "why", "by", "at"],
        title="revisions (* current)",
    )


@handle_errors
def deploy(
    target: Annotated[str, typer.Argument(help="NAME@K to deploy, or 'promote'.")],
    endpoint_arg: Annotated[
        str | None, typer.Argument(metavar="[ENDPOINT]", help="With 'promote': the endpoint.")
    ] = None,
    endpoint: Annotated[str | None, typer.Option(help="Endpoint name.")] = None,
    site: Annotated[str | None, typer.Option(help="Site of a new endpoint [default_site]")] = None,
    strategy: Annotated[str, typer.Option(help="direct, canary or shadow.")] = "direct",
    percent: Annotated[int | None, typer.Option(help="Canary: the candidate's share.")] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the monthly serving cost at each site; deploy nothing."
        ),
    ] = False,
    rate: Annotated[
        float | None, typer.Option(help="With --dry-run: expected requests per second.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Deploy an approved model to an endpoint, or `steward deploy promote E` a canary."""
    sw = client()
    if dry_run:
        from steward.cli.cost import require_rate, show_serving_estimate

        estimate = sw.estimate_serving(target, requests_per_second=require_rate(rate))
        if as_json:
            return print_json(estimate)
        show_serving_estimate(estimate)
        return None
    if target == "promote":
        name = endpoint_arg or endpoint
        if not name:
            raise ValidationFailed("steward deploy promote ENDPOINT: name the endpoint")
        info = sw.promote_endpoint(name)
    else:
        if endpoint is None:
            raise ValidationFailed("--endpoint: name the endpoint to deploy to")
        info = sw.deploy(target, endpoint=endpoint, site=site, strategy=strategy, percent=percent)
    if as_json:
        return print_json(info)
    _show(info)
    return None


@handle_errors
def rollback(
    endpoint: str,
    to: Annotated[int | None, typer.Option(help="Revision to return to [the previous one]")] = None,
    allow_same_model: Annotated[
        bool,
        typer.Option(
            "--allow-same-model",
            help="Land on the revision even if it still serves the model rolled away from.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Return an endpoint to its previous revision in one step (a new revision).

    Refused when that revision still serves the model being rolled away from (the current
    canary's or shadow's candidate, or else the current model), unless --allow-same-model.
    """
    info = client().rollback(endpoint, to=to, allow_same_model=allow_same_model)
    if as_json:
        return print_json(info)
    _show(info)
    return None


@endpoint_app.command("list")
@handle_errors
def endpoint_list(as_json: JsonOpt = False) -> None:
    """Endpoints and what they serve."""
    eps = client().endpoints()
    if as_json:
        return print_json(eps)
    rows = [
        [
            e.name,
            e.site,
            e.team or "",
            str(e.current.revision) if e.current else "",
            e.current.strategy if e.current else "",
            e.current.primary if e.current else "",
            (
                f"{e.current.candidate} ({e.current.percent}%)"
                if e.current and e.current.candidate
                else ""
            ),
        ]
        for e in eps
    ]
    print_rows(
        rows,
        ["endpoint", "site", "team", "rev", "strategy", "primary", "candidate"],
        title="endpoints",
    )
    return None


@endpoint_app.command("show")
@handle_errors
def endpoint_show(name: str, as_json: JsonOpt = False) -> None:
    """An endpoint's current revision and its history."""
    info = client().endpoint(name)
    if as_json:
        return print_json(info)
    _show(info)
    return None


@endpoint_app.command("status")
@handle_errors
def endpoint_status(name: str, as_json: JsonOpt = False) -> None:
    """Latency p50/p95/p99 against the budget (ask the server: steward --url ...)."""
    st = client().endpoint_status(name)
    if as_json:
        return print_json(st)

    def ms(x: float | None) -> str:
        return "—" if x is None else f"{x:.2f} ms"

    verdict = (
        "no requests yet"
        if st.within_budget is None
        else ("[green]within budget[/green]" if st.within_budget else "[red]OVER budget[/red]")
    )
    console.print(
        f"endpoint [bold]{st.endpoint}[/bold] (revision {st.revision or '—'}): "
        f"p50 {ms(st.p50_ms)}, p95 {ms(st.p95_ms)}, p99 {ms(st.p99_ms)} "
        f"vs budget {st.budget_ms:g} ms: {verdict}"
    )
    console.print(
        f"  {st.requests:,} requests ({st.rejected:,} rejected inputs, {st.errors:,} errors); "
        f"percentiles over the last {st.window:,}"
    )
    console.print(
        f"  prediction log: {st.logged:,} row(s) written, {st.pending_log_rows:,} buffered"
    )
    sh = st.shadow
    if sh is not None:
        agree = "—" if sh.agreement is None else f"{sh.agreement:.1%}"
        console.print(
            f"  shadow {sh.shadow} vs {sh.primary} (revision {sh.revision}): {sh.compared:,} "
            f"rows compared, agreement {agree}; p50 {ms(sh.shadow_p50_ms)} (shadow) vs "
            f"{ms(sh.primary_p50_ms)} (primary, whole request)"
        )
    return None
