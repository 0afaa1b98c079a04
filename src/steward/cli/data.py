"""``steward data ...``: datasets from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.tree import Tree

from steward.cli.common import JsonOpt, client, handle_errors
from steward.cli.output import console, err_console, print_json, print_table
from steward.errors import ValidationFailed

__all__ = ["data_app"]

data_app = typer.Typer(
    help="Datasets: register, classify, mask, validate, lineage.", no_args_is_help=True
)


def _pairs(items: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValidationFailed(f"{option}: expected column=VALUE; found {item!r}")
        out[key] = value
    return out


@data_app.command("register")
@handle_errors
def register(
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or JSON Lines file.")],
    name: Annotated[str, typer.Option(help="Dataset name; versions are NAME@1, NAME@2, ...")],
    site: Annotated[str | None, typer.Option(help="Home site [default: default_site]")] = None,
    team: Annotated[str | None, typer.Option(help="Owning team.")] = None,
    locked: Annotated[bool, typer.Option(help="A holdout: only gate evaluation reads it.")] = False,
    description: Annotated[str, typer.Option(help="What the data is.")] = "",
    format: Annotated[str | None, typer.Option(help="csv, parquet or jsonl [from suffix]")] = None,
    allow_schema_change: Annotated[
        bool, typer.Option(help="Accept removed or retyped columns against the last version.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Register a file as the next version of a dataset (profiled, classified, encrypted)."""
    sw = client()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=as_json,
    ) as bar:
        task = bar.add_task(f"reading {file.name}", total=None)

        def progress(rows: int) -> None:
            bar.update(task, description=f"reading {file.name}: {rows:,} rows")

        info = sw.register_dataset(
            file,
            name=name,
            site=site,
            team=team,
            locked=locked,
            description=description,
            format=format,
            allow_schema_change=allow_schema_change,
            progress=progress if sw.embedded else None,
        )
    if as_json:
        return print_json(info)
    console.print(
        f"registered [bold]{info.ref}[/bold]: {info.rows:,} rows × {info.columns} "
        f"columns at {info.site} ({info.jurisdiction}), fingerprint {info.fingerprint[:16]}"
        + (" [locked]" if info.locked else "")
    )
    _print_classes(sw.dataset(info.ref).classification)


def _print_classes(classes: list[Any]) -> None:
    flagged = [c for c in classes if c.pii_type]
    if not flagged:
        console.print("no personal data found")
        return
    print_table(
        flagged,
        ["column", "category", "pii_type", "confidence", "explanation"],
        title="personal data",
    )


@data_app.command("list")
@handle_errors
def list_(as_json: JsonOpt = False) -> None:
    """List dataset versions."""
    rows = client().datasets()
    if as_json:
        return print_json(rows)
    print_table(
        rows,
        [
            "ref",
            "team",
            "site",
            "jurisdiction",
            "rows",
            "columns",
            "locked",
            "anonymised",
            "transform",
            "created_by",
        ],
        title="datasets",
    )


@data_app.command("show")
@handle_errors
def show(ref: str, as_json: JsonOpt = False) -> None:
    """Schema, classification, profile summary and residency of NAME@VERSION."""
    d = client().dataset(ref)
    if as_json:
        return print_json(d.model_dump(mode="json", by_alias=True))
    console.print(
        f"[bold]{d.ref}[/bold] ({d.transform}) — {d.rows:,} rows, home {d.site} "
        f"({d.jurisdiction}), team {d.team or '-'}, "
        f"{'locked holdout, ' if d.locked else ''}"
        f"verdict {d.verdict}" + ("" if d.anonymised else " (personal data: residency binds it)")
    )
    if d.parents:
        console.print(f"derived from {', '.join(d.parents)}")
    print_table(
        d.schema_,
        ["name", "type", "nullable", "null_rate", "min", "max", "categories"],
        title="schema",
    )
    _print_classes(d.classification)
    if d.copies:
        print_table(d.copies, ["to_site", "bytes", "created_by", "created_at"], title="copies")


@data_app.command("lineage")
@handle_errors
def lineage(ref: str, as_json: JsonOpt = False) -> None:
    """Parents of NAME@VERSION, the transform that made each, and who ran it."""
    node = client().dataset_lineage(ref)
    if as_json:
        return print_json(node)

    def add(tree: Tree, n: Any) -> None:
        for p in n.parents:
            add(tree.add(_label(p)), p)

    def _label(n: Any) -> str:
        return (
            f"[bold]{n.ref}[/bold] {n.transform} by {n.created_by} at {n.created_at:%Y-%m-%d %H:%M}"
        )

    root = Tree(_label(node))
    add(root, node)
    console.print(root)


@data_app.command("read")
@handle_errors
def read(
    ref: str,
    output: Annotated[Path, typer.Option("--output", "-o", help=".csv or .parquet file")],
    site: Annotated[str | None, typer.Option(help="Where the read happens [home site]")] = None,
) -> None:
    """Read a version's data into a file (residency and locked holdouts apply)."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    table = client().read_dataset(ref, site=site)
    if output.suffix == ".parquet":
        pq.write_table(table, output)
    else:
        pcsv.write_csv(table, output)
    console.print(f"wrote {table.num_rows:,} rows to {output}")


@data_app.command("copy")
@handle_errors
def copy(
    ref: str,
    to_site: Annotated[str, typer.Option("--to", help="Destination site.")],
    as_json: JsonOpt = False,
) -> None:
    """Copy a version to another site (residency decides; bytes moved are recorded)."""
    c = client().copy_dataset(ref, to_site=to_site)
    if as_json:
        return print_json(c)
    console.print(f"copied {c.ref} from {c.from_site} to {c.to_site}: {c.bytes:,} bytes")


@data_app.command("classify")
@handle_errors
def classify(
    ref: str,
    set_: Annotated[list[str] | None, typer.Option("--set", help="column=CLASS (or none)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the classification, or override it with --set col=CLASS (audited)."""
    sw = client()
    overrides = _pairs(set_, "--set")
    classes = sw.classify_dataset(ref, overrides) if overrides else sw.dataset(ref).classification
    if as_json:
        return print_json(classes)
    print_table(
        classes,
        ["column", "category", "pii_type", "confidence", "detector", "explanation"],
        title="classification",
    )


@data_app.command("mask")
@handle_errors
def mask(
    ref: str,
    recipe: Annotated[
        Path | None, typer.Option(help="recipe.yaml [automatic when omitted]")
    ] = None,
    description: Annotated[str, typer.Option(help="What the derived version is for.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Derive a masked version: per-column operators, k-anonymity report, anonymised verdict."""
    r = client().mask_dataset(ref, recipe=recipe, description=description)
    if as_json:
        return print_json(r)
    console.print(
        f"derived [bold]{r.version.ref}[/bold] from {ref}: "
        + ", ".join(f"{c}={op}" for c, op in r.applied.items())
    )
    k = r.k_anonymity
    console.print(
        f"k-anonymity: k={k.get('k')} over {', '.join(k.get('quasi_identifiers', [])) or '-'}"
    )
    for warning in r.warnings:
        console.print(f"[yellow]warning[/yellow]: {escape(warning)}")
    if r.anonymised:
        console.print("[green]anonymised[/green]: residency no longer binds this version")
    else:
        console.print(f"[yellow]{r.verdict}[/yellow]: residency still binds this version")
        for reason in r.reasons:
            console.print(f"[yellow]not anonymised[/yellow]: {escape(reason)}")


# -- four eyes: declassification and cross-jurisdiction copies ----------------------
_REQUEST_COLUMNS = ["id", "ref", "kind", "spec", "state", "requested_by", "decided_by"]


def _print_request(r: Any) -> None:
    console.print(
        f"request [bold]{r.id}[/bold] ({r.kind} of {r.ref}): {r.state}"
        + (f", decided by {r.decided_by}" if r.decided_by else f", asked by {r.requested_by}")
    )
    for v in r.reverdicts:
        console.print(f"re-judged {v.ref}: {v.before} → {v.after}")
    for o in r.outside:
        flag = "[red]outside its jurisdiction[/red]" if o.violates_residency else "outside"
        console.print(f"copy of {o.ref} at {o.site} ({o.jurisdiction}, {o.verdict}): {flag}")


@data_app.command("request-declassify")
@handle_errors
def request_declassify(
    ref: str,
    set_: Annotated[list[str], typer.Option("--set", help="column=CLASS (or none)")],
    reason: Annotated[str, typer.Option(help="Why the class should be lower.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Ask to lower column classes; another data steward approves (four eyes)."""
    r = client().request_declassification(ref, _pairs(set_, "--set"), reason=reason)
    if as_json:
        return print_json(r)
    _print_request(r)


@data_app.command("request-copy")
@handle_errors
def request_copy(
    ref: str,
    to_site: Annotated[str, typer.Option("--to", help="Destination site.")],
    reason: Annotated[str, typer.Option(help="Why the data must go there.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Ask to copy personal data to another jurisdiction under a transfer rule (four eyes)."""
    r = client().request_dataset_copy(ref, to_site=to_site, reason=reason)
    if as_json:
        return print_json(r)
    _print_request(r)


@data_app.command("requests")
@handle_errors
def requests_(
    state: Annotated[str | None, typer.Option(help="pending, approved, rejected, used")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Four-eyes requests on datasets (newest first)."""
    rows = client().dataset_requests(state=state)
    if as_json:
        return print_json(rows)
    print_table(rows, _REQUEST_COLUMNS, title="dataset requests")


@data_app.command("approve")
@handle_errors
def approve(
    request_id: str,
    note: Annotated[str, typer.Option(help="Why.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Approve another data steward's request (never your own)."""
    r = client().decide_dataset_request(request_id, approve=True, note=note)
    if as_json:
        return print_json(r)
    _print_request(r)


@data_app.command("reject")
@handle_errors
def reject(
    request_id: str,
    note: Annotated[str, typer.Option(help="Why.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Reject a request on a dataset."""
    r = client().decide_dataset_request(request_id, approve=False, note=note)
    if as_json:
        return print_json(r)
    _print_request(r)


@data_app.command("detokenise")
@handle_errors
def detokenise(
    ref: str,
    column: Annotated[str, typer.Option(help="The tokenised column.")],
    tokens: Annotated[list[str], typer.Argument(help="Tokens to reverse.")],
    as_json: JsonOpt = False,
) -> None:
    """Reverse tokens (data stewards only; every reversal is audited)."""
    values = client().detokenise(ref, column, tokens)
    if as_json:
        return print_json(values)
    for t, v in zip(tokens, values, strict=True):
        console.print(f"{t}\t{v}", markup=False)


@data_app.command("validate")
@handle_errors
def validate(
    ref: str,
    file: Annotated[Path, typer.Argument(help="The new batch.")],
    quarantine: Annotated[Path | None, typer.Option(help="Write offending rows here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a new batch against NAME@VERSION's schema; exit 10 when it does not fit."""
    rep = client().validate_dataset(ref, file, quarantine=quarantine)
    if as_json:
        print_json(rep)
    else:
        if rep.ok:
            console.print(f"[green]{file.name} fits {rep.ref}[/green]: {rep.rows:,} rows")
        else:
            console.print(
                f"[red]{file.name} does not fit {rep.ref}[/red]: "
                f"{rep.bad_rows:,} of {rep.rows:,} rows offend"
            )
            print_table(
                rep.checks,
                ["column", "check", "failed", "expected", "found", "first_rows"],
                title="problems",
            )
        if rep.quarantined:
            console.print(f"offending rows written to {rep.quarantined}")
    if not rep.ok:
        raise typer.Exit(10)
