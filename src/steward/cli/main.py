"""``steward``: the command line."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape

from steward.cli.common import HomeOpt, JsonOpt, client, handle_errors, state
from steward.cli.cost import cost_app
from steward.cli.data import data_app
from steward.cli.deploy import deploy, endpoint_app, rollback
from steward.cli.monitor import alert_app, monitor_app
from steward.cli.output import console, err_console, print_json, print_table
from steward.cli.stream import stream_app
from steward.cli.train import job_app, model_app, train, worker
from steward.config import Home, init_home
from steward.errors import ValidationFailed

__all__ = ["app", "main"]

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="steward",
    help="Steward: govern what you train.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="The metadata database.", no_args_is_help=True)
config_app = typer.Typer(help="steward.yaml.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit ledger.", no_args_is_help=True)
policy_app = typer.Typer(help="Cedar policies.", no_args_is_help=True)
object_app = typer.Typer(help="Objects in sites' artifact roots.", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (config_app, "config"),
    (token_app, "token"),
    (audit_app, "audit"),
    (policy_app, "policy"),
    (object_app, "object"),
    (data_app, "data"),
    (job_app, "job"),
    (model_app, "model"),
    (endpoint_app, "endpoint"),
    (stream_app, "stream"),
    (monitor_app, "monitor"),
    (alert_app, "alert"),
    (cost_app, "cost"),
):
    app.add_typer(sub, name=name)
app.command("train")(train)
app.command("worker")(worker)
app.command("deploy")(deploy)
app.command("rollback")(rollback)


@app.callback()
def _root(
    home: HomeOpt = None,
    user: Annotated[
        str | None,
        typer.Option("--user", "-u", envvar="STEWARD_USER", help="Acting user (embedded mode)."),
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", envvar="STEWARD_URL", help="Steward server URL.")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", envvar="STEWARD_TOKEN", help="API token for --url.", show_default=False
        ),
    ] = None,
) -> None:
    state.home, state.user, state.url, state.token = home, user, url, token


# -- init, server, demo ------------------------------------------------------------------
@app.command()
@handle_errors
def init(
    directory: Annotated[
        Path | None, typer.Argument(help="Where [default: $STEWARD_HOME or ./.steward]")
    ] = None,
    force: Annotated[bool, typer.Option(help="Rewrite steward.yaml of an existing home.")] = False,
) -> None:
    """Create a Steward home: steward.yaml, master key, signing key, policies folder."""
    home = init_home(directory or state.home, force=force)
    from steward.store import Store

    Store(home.database_url()).dispose()
    console.print(f"Created a Steward home at [bold]{escape(str(home.root))}[/bold]")
    console.print(f"  config:      {home.config_path}")
    console.print(f"  master key:  {home.master_key_path} (mode 0600; back it up)")
    console.print(f"  policies:    {home.policies_dir}")
    console.print(f"Next: export STEWARD_HOME={home.root} STEWARD_USER=admin; steward sites")


@app.command()
@handle_errors
def server(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    jobs: Annotated[
        bool, typer.Option(help="Also run queued training jobs (a worker thread).")
    ] = True,
    monitor: Annotated[
        bool,
        typer.Option(
            help="Also watch every endpoint (read the prediction log, test for drift, apply "
            "the alert rules) every monitoring.interval_seconds."
        ),
    ] = True,
    checkpoints: Annotated[
        bool,
        typer.Option(
            help="Also sign the audit ledger's checkpoints every audit.checkpoint_every_entries "
            "entries or audit.checkpoint_every_minutes, and write each to the witness directory."
        ),
    ] = True,
    access_log: Annotated[
        bool,
        typer.Option(
            help="Log one line per HTTP request (predictions are in the prediction log and "
            "actions in the audit ledger either way; a line per request costs throughput)."
        ),
    ] = False,
) -> None:
    """Serve the REST API and inference; run queued training jobs and the monitor."""
    import threading

    import uvicorn

    from steward.api import create_app
    from steward.runtime import Runtime
    from steward.training import Worker, WorkerBusy

    rt = Runtime.open(state.home)
    console.print(
        f"Steward API on http://{host}:{port} (home {rt.home.root}, db {rt.store.safe_url})"
    )
    # background threads (the prediction log's writer, the job worker) hand the GIL back
    # to the request loop within 1 ms instead of CPython's default 5 ms: a shorter tail
    sys.setswitchinterval(0.001)
    stop = threading.Event()
    if jobs:

        def run_jobs() -> None:
            w = Worker(rt)
            try:
                with w.exclusive():
                    w.serve(stop)
            except WorkerBusy as e:
                err_console.print(f"jobs: not running them here: {e.message}")

        threading.Thread(target=run_jobs, name="steward-worker", daemon=True).start()
    if checkpoints:
        from steward.governance import Checkpointer

        threading.Thread(
            target=Checkpointer(rt).serve, args=(stop,), name="steward-checkpoints", daemon=True
        ).start()
    watcher = None
    if monitor:
        # in its own process: profiling windows holds the GIL for a while, and predictions
        # must not wait for it (the child exits when this process does)
        import subprocess

        watcher = subprocess.Popen(
            [sys.executable, "-m", "steward.cli", "--home", str(rt.home.root), "monitor", "serve"],
            stdin=subprocess.DEVNULL,
        )
    try:
        uvicorn.run(
            create_app(rt),
            host=host,
            port=port,
            log_level="info",
            access_log=access_log,
            http="httptools",
            loop="uvloop" if sys.platform != "win32" else "asyncio",
        )
    finally:
        stop.set()
        if watcher is not None:
            watcher.terminate()
            watcher.wait(timeout=10)


@app.command()
@handle_errors
def demo(
    home: Annotated[Path, typer.Option(help="Where to create the demo home.")] = Path(
        ".steward-demo"
    ),
) -> None:
    """Run the governed lifecycle so far on a fresh home (embedded defaults)."""
    from steward.cli.demo import run_demo

    run_demo(home)


# -- db, config ------------------------------------------------------------------------
@db_app.command("upgrade")
@handle_errors
def db_upgrade() -> None:
    """Apply the database migrations up to the newest."""
    from steward.store import Store

    home = Home.resolve(state.home)
    home.check()
    store = Store(home.database_url(), migrate=False)
    rev = store.upgrade()
    console.print(f"database {store.safe_url} at revision {rev}")


@db_app.command("current")
@handle_errors
def db_current() -> None:
    """Show the database's migration revision."""
    from steward.store import Store

    home = Home.resolve(state.home)
    home.check()
    store = Store(home.database_url(), migrate=False)
    console.print(f"database {store.safe_url} at revision {store.current_revision() or '(none)'}")


@config_app.command("check")
@handle_errors
def config_check(
    file: Annotated[
        Path | None, typer.Argument(help="A steward.yaml [default: the home's]")
    ] = None,
) -> None:
    """Validate steward.yaml; prints every problem with its key path."""
    from steward.config import load_config

    path = file or Home.resolve(state.home).config_path
    cfg = load_config(path)
    console.print(
        f"{path}: OK ({len(cfg.sites)} sites, {len(cfg.teams)} teams, {len(cfg.users)} users)"
    )


# -- listings ---------------------------------------------------------------------------
@app.command()
@handle_errors
def sites(as_json: JsonOpt = False) -> None:
    """List the sites."""
    rows = client().sites()
    if as_json:
        return print_json(rows)
    print_table(
        rows, ["name", "provider", "region", "jurisdiction", "trust", "prices"], title="sites"
    )


@app.command()
@handle_errors
def users(as_json: JsonOpt = False) -> None:
    """List the users with their roles and teams."""
    rows = client().users()
    if as_json:
        return print_json(rows)
    print_table(rows, ["name", "roles", "teams", "email"], title="users")


@app.command()
@handle_errors
def teams(as_json: JsonOpt = False) -> None:
    """List the teams."""
    rows = client().teams()
    if as_json:
        return print_json(rows)
    print_table(rows, ["name", "members", "quotas"], title="teams")


@app.command()
@handle_errors
def whoami(as_json: JsonOpt = False) -> None:
    """Show the acting user."""
    me = client().me()
    if as_json:
        return print_json(me)
    console.print(f"{me.name} (roles: {', '.join(me.roles)}; teams: {', '.join(me.teams) or '-'})")


# -- tokens -----------------------------------------------------------------------------
@token_app.command("create")
@handle_errors
def token_create(
    user: Annotated[
        str | None, typer.Option("--for", help="Owner (admins only) [default: you]")
    ] = None,
    name: Annotated[str, typer.Option(help="A label for the token.")] = "default",
    expires_in_days: Annotated[int, typer.Option(help="Days until it expires (1-366).")] = 90,
    endpoint: Annotated[
        str | None, typer.Option(help="Scope it to this endpoint's prediction routes.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API token. It is shown once; only its hash is stored."""
    tok = client().create_token(
        user=user, name=name, expires_in_days=expires_in_days, endpoint=endpoint
    )
    if as_json:
        return print_json(tok)
    console.print(f"token {tok.id} for {tok.user}, expires {tok.expires_at:%Y-%m-%d}:")
    console.print(tok.token, markup=False)
    err_console.print("Store it now: it will not be shown again.")


@token_app.command("list")
@handle_errors
def token_list(
    user: Annotated[str | None, typer.Option("--for", help="Owner [default: you]")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List API tokens (never their secrets)."""
    rows = client().tokens(user=user)
    if as_json:
        return print_json(rows)
    print_table(
        rows, ["id", "user", "name", "created_at", "expires_at", "revoked_at"], title="tokens"
    )


@token_app.command("revoke")
@handle_errors
def token_revoke(token_id: str) -> None:
    """Revoke an API token."""
    tok = client().revoke_token(token_id)
    console.print(f"token {tok.id} of {tok.user} revoked at {tok.revoked_at}")


# -- audit ------------------------------------------------------------------------------
@audit_app.command("log")
@handle_errors
def audit_log(
    actor: Annotated[str | None, typer.Option(help="Only this actor.")] = None,
    action: Annotated[str | None, typer.Option(help="Action, or a prefix ending in *.")] = None,
    resource: Annotated[str | None, typer.Option(help='Resource, e.g. Object::"<digest>".')] = None,
    decision: Annotated[str | None, typer.Option(help="allow or deny.")] = None,
    since: Annotated[str | None, typer.Option(help="ISO time, inclusive.")] = None,
    until: Annotated[str | None, typer.Option(help="ISO time, exclusive.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many entries.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List ledger entries, filtered."""
    if decision not in (None, "allow", "deny"):
        raise ValidationFailed(f"--decision: expected allow or deny; found {decision!r}")
    rows = client().audit_log(
        actor=actor,
        action=action,
        resource=resource,
        decision=decision,
        since=since,
        until=until,
        limit=limit,
    )
    if as_json:
        return print_json(rows)
    print_table(
        rows,
        ["seq", "ts", "actor", "action", "resource", "site", "decision"],
        title="ledger entries",
    )


@audit_app.command("verify")
@handle_errors
def audit_verify(as_json: JsonOpt = False) -> None:
    """Recompute the hash chain, check signed checkpoints and the witness; exit 9 if
    tampered."""
    v = client().verify_audit()
    _report_verification(v, as_json)
    if not as_json and v.witness is None:
        err_console.print(
            "  no witness checkpoint to compare with yet (audit.witness_dir); the next "
            "checkpoint writes one"
        )


def _report_verification(v: Any, as_json: bool) -> None:
    if as_json:
        print_json(v)
    elif v.ok:
        console.print(
            f"[green]ledger verified[/green]: {v.entries} entries, head {v.head_seq} "
            f"({v.head_hash[:16]}...), {v.checkpoints} signed checkpoint(s)"
        )
        w = getattr(v, "witness", None)
        if w is not None:
            console.print(
                f"  witness: the checkpoint at position {w.position} (entry {w.seq}, {w.ts}) "
                "is in the database"
            )
    else:
        p = v.problem
        where = f" at line {p.line}" if p.line else f" at entry {p.seq}" if p.seq else ""
        err_console.print(
            f"[bold red]ledger FAILED verification[/bold red]{where} "
            f"{escape(f'[{p.kind}]')}: {escape(p.message)}"
        )
    if not v.ok:
        raise typer.Exit(9)


@audit_app.command("checkpoint")
@handle_errors
def audit_checkpoint(as_json: JsonOpt = False) -> None:
    """Sign the ledger's head with the home's Ed25519 key, chained to the last checkpoint
    (catches truncation and deleted checkpoints later); also written to the witness."""
    cp = client().checkpoint_audit()
    if as_json:
        return print_json(cp)
    console.print(
        f"checkpoint at position {cp.position} signed at entry {cp.seq} ({cp.hash[:16]}...) "
        f"by key {cp.key_id}"
    )


@audit_app.command("export")
@handle_errors
def audit_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File [default: stdout]")
    ] = None,
) -> None:
    """Export the ledger as JSON lines, verifiable with the public key alone."""
    sw = client()
    if output is None:
        sw.export_audit(sys.stdout)
        return
    with open(output, "w", encoding="utf-8") as fh:
        sw.export_audit(fh)
    err_console.print(f"ledger exported to {output}")


@audit_app.command("public-key")
@handle_errors
def audit_public_key() -> None:
    """Print the public key that verifies checkpoints (PEM)."""
    sys.stdout.write(client().audit_public_key())


@audit_app.command("verify-export")
@handle_errors
def audit_verify_export(
    file: Annotated[Path, typer.Argument(help="A file from 'steward audit export'.")],
    public_key: Annotated[Path, typer.Option(help="The PEM from 'steward audit public-key'.")],
    as_json: JsonOpt = False,
) -> None:
    """Verify an exported ledger with nothing but the public key (no home needed); exit 9
    if the file is empty, cut, altered, lacks checkpoints or was signed by another key."""
    from steward.governance import GovernanceService

    _report_verification(GovernanceService.verify_export(file, public_key), as_json)


# -- policy -----------------------------------------------------------------------------
@policy_app.command("check")
@handle_errors
def policy_check(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders [default: the home's policies/]")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate policy files against Steward's Cedar schema (with the default pack)."""
    from steward.governance import GovernanceService

    targets = paths or [Home.resolve(state.home).policies_dir]
    for p in targets:
        if not p.exists():
            raise ValidationFailed(f"{p}: no such file or folder", path=str(p))
    problems = GovernanceService.check_policies(targets)
    if as_json:
        print_json([p.to_dict() for p in problems])
    elif not problems:
        console.print(f"policies OK: {', '.join(str(t) for t in targets)} (with the default pack)")
    for problem in problems:
        if not as_json:
            err_console.print(f"[red]{escape(str(problem))}[/red]")
    if problems:
        raise typer.Exit(2)


@policy_app.command("explain")
@handle_errors
def policy_explain(
    action: Annotated[str, typer.Argument(help="e.g. object.put, model.approve")],
    resource: Annotated[str, typer.Argument(help='e.g. object:abc or Model::"loans"')],
    as_user: Annotated[
        str | None, typer.Option("--as", help="Whose request [default: you]")
    ] = None,
    site: Annotated[str | None, typer.Option(help="Site the action happens at.")] = None,
    attr: Annotated[
        list[str] | None, typer.Option(help="Resource attribute key=value (repeatable).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Dry-run a decision and print the policies that decided it."""
    attrs: dict[str, str] = {}
    for item in attr or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValidationFailed(f"--attr: expected key=value; found {item!r}")
        attrs[key] = value
    d = client().explain(action, resource, as_user=as_user, site=site, attrs=attrs)
    if as_json:
        return print_json(d)
    colour = "green" if d.decision == "allow" else "red"
    console.print(
        f"[bold {colour}]{d.decision.upper()}[/bold {colour}]: "
        f"{d.principal} {d.action} {d.resource}" + (f" at {site}" if site else "")
    )
    if d.resource_found is not None:
        seen = ", ".join(f"{k}={v}" for k, v in sorted(d.attributes.items())) or "none"
        where = "its real attributes" if d.resource_found else "not found: given attributes"
        console.print(f"  resource: {where} ({escape(seen)})")
    if not d.reasons:
        console.print("  no policy matched: denied by default")
    for r in d.reasons:
        console.print(f"  {r.effect} {escape(f'[{r.policy}]')} {escape(r.advice)}")


@policy_app.command("show-pack")
def policy_show_pack() -> None:
    """Print Steward's default policy pack."""
    from steward.policy.engine import load_pack

    for src in load_pack():
        console.print(f"[bold]// {escape(src.name)}[/bold]")
        console.print(src.text, markup=False)


# -- objects ----------------------------------------------------------------------------
@object_app.command("put")
@handle_errors
def object_put(
    file: Annotated[Path, typer.Argument(help="The file to store.", exists=True, dir_okay=False)],
    site: Annotated[str, typer.Option(help="Site to store it at.")],
    jurisdiction: Annotated[str, typer.Option(help="The data's jurisdiction, e.g. EU.")],
    team: Annotated[str | None, typer.Option(help="Owning team.")] = None,
    anonymised: Annotated[bool, typer.Option(help="The data is anonymised.")] = False,
    label: Annotated[str, typer.Option(help="A free-text label.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Store a file at a site (encrypted; residency policy applies)."""
    info = client().put_object(
        file, site=site, jurisdiction=jurisdiction, team=team, anonymised=anonymised, label=label
    )
    if as_json:
        return print_json(info)
    console.print(f"stored {info.size} bytes at {info.site} as {info.digest}")


@object_app.command("get")
@handle_errors
def object_get(
    site: str,
    digest: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write it.")],
) -> None:
    """Fetch an object (verified against its hash) into a file."""
    data = client().get_object(site, digest)
    output.write_bytes(data)
    console.print(f"wrote {len(data)} bytes to {output}")


@object_app.command("list")
@handle_errors
def object_list(
    site: Annotated[str | None, typer.Option(help="Only this site.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List stored objects."""
    rows = client().objects(site=site)
    if as_json:
        return print_json(rows)
    print_table(
        rows,
        ["site", "digest", "size", "jurisdiction", "team", "label", "created_by"],
        title="objects",
    )


def main() -> None:
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app()
