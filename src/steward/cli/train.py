"""``steward train``, ``steward job ...``, ``steward model ...`` and ``steward worker``."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from steward.cli.common import JsonOpt, client, handle_errors, state
from steward.cli.output import console, err_console, print_json, print_rows
from steward.errors import ValidationFailed

__all__ = ["job_app", "model_app", "train", "worker"]

job_app = typer.Typer(help="Training jobs: list, show, logs, cancel.", no_args_is_help=True)
model_app = typer.Typer(
    help="The model registry: list, show, compare, card, import.", no_args_is_help=True
)


def _params(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValidationFailed(f"--param: expected NAME=VALUE; found {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _job_line(job: Any) -> str:
    line = f"job {job.id} [{job.state}] {job.model_name} at {job.site}"
    if job.result_ref:
        line += f" → {job.result_ref}"
    if job.error_message:
        line += f": {job.error_message}"
    return line


@handle_errors
def train(
    spec_file: Annotated[
        Path | None, typer.Argument(help="A YAML/JSON training spec (options override it).")
    ] = None,
    data: Annotated[
        list[str] | None, typer.Option("--data", help="Dataset version NAME@V (repeatable).")
    ] = None,
    target: Annotated[str | None, typer.Option(help="Target column.")] = None,
    objective: Annotated[str | None, typer.Option(help="binary, multiclass or regression.")] = None,
    family: Annotated[
        str | None, typer.Option(help="linear, random_forest, hgb or custom [default: hgb]")
    ] = None,
    estimator: Annotated[
        str | None, typer.Option(help="family custom: a scikit-learn class path.")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Hyper-parameter NAME=VALUE (repeatable).")
    ] = None,
    feature: Annotated[
        list[str] | None, typer.Option("--feature", help="Use only these columns (repeatable).")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Leave these columns out (repeatable).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed [default: 0]")] = None,
    name: Annotated[str | None, typer.Option(help="Model name [default: DATASET-TARGET]")] = None,
    site: Annotated[
        str | None, typer.Option(help="Where to train [default: cheapest allowed site]")
    ] = None,
    team: Annotated[str | None, typer.Option(help="Team that pays [default: yours]")] = None,
    intended_use: Annotated[str | None, typer.Option(help="For the model card.")] = None,
    executor: Annotated[
        str | None, typer.Option(help="inline, process or ray [default: from steward.yaml]")
    ] = None,
    detach: Annotated[
        bool, typer.Option("--detach", help="Queue the job and return; a worker runs it.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the estimated cost at each site and the budget; queue nothing."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Train a model: placed by policy, checked against quotas, metered, registered as ONNX."""
    sw = client()
    fields: dict[str, Any] = {
        "data": data or None,
        "target": target,
        "objective": objective,
        "family": family,
        "estimator": estimator,
        "params": _params(param) or None,
        "features": feature or None,
        "exclude": exclude or None,
        "seed": seed,
        "name": name,
        "site": site,
        "team": team,
        "intended_use": intended_use,
    }
    if spec_file is None and not data:
        raise ValidationFailed("name a spec file or at least --data, --target and --objective")
    if dry_run:
        from steward.cli.cost import show_training_estimate

        estimate = sw.estimate_training(spec_file, **fields)
        if as_json:
            return print_json(estimate)
        show_training_estimate(estimate)
        return None
    if detach:
        job = sw.train(spec_file, wait=False, executor=executor, **fields)
        if as_json:
            return print_json(job)
        console.print(escape(_job_line(job)))
        console.print(f"  placement: {escape(job.placement)}")
        console.print(f"follow it: steward job show {job.id}")
        return None
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=as_json,
    ) as bar:
        task = bar.add_task("submitting", total=1.0)
        shown: set[str] = set()

        def update(job: Any) -> None:
            if job.id not in shown:
                shown.add(job.id)
                err_console.print(
                    f"job {job.id} queued at [bold]{escape(job.site)}[/bold]: "
                    f"{escape(job.placement)}"
                )
            phase = job.progress.get("phase", job.state)
            bar.update(
                task, description=f"{job.id} {phase}", completed=job.progress.get("fraction", 0.0)
            )

        job = sw.train(spec_file, wait=True, executor=executor, on_update=update, **fields)
    if as_json:
        return print_json(job)
    console.print(escape(_job_line(job)))
    if job.state != "succeeded":
        raise typer.Exit(1)
    m = sw.model(job.result_ref or "")
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in sorted(m.metrics.items()))
    console.print(f"  metrics (validation split): {escape(metrics)}")
    console.print(
        f"  metered: {job.cpu_seconds:.1f} cpu-s, {job.wall_seconds:.1f} s wall, "
        f"peak {job.peak_memory_bytes / 2**20:,.0f} MiB, {job.bytes_read:,} bytes read"
    )
    console.print(f"  card: steward model card {m.ref}")
    return None


@handle_errors
def worker(
    once: Annotated[bool, typer.Option(help="Run at most one job, then exit.")] = False,
    executor: Annotated[
        str | None, typer.Option(help="inline, process or ray [default: from steward.yaml]")
    ] = None,
) -> None:
    """Run queued training jobs (one worker per home on SQLite; many on PostgreSQL)."""
    from steward.runtime import Runtime
    from steward.training import Worker

    rt = Runtime.open(state.home)
    w = Worker(
        rt,
        executor,
        on_progress=lambda j, phase, f: err_console.print(f"{j}: {phase} {f:.0%}"),
    )
    with w.exclusive():
        console.print(f"worker {w.name} on the {w.executor.name} executor (Ctrl-C to stop)")
        if once:
            ran = w.run_once()
            console.print(f"ran {ran}" if ran else "no queued job")
            return
        stop = threading.Event()
        try:
            w.serve(stop)
        except KeyboardInterrupt:
            stop.set()


# -- jobs ------------------------------------------------------------------------------------
@job_app.command("list")
@handle_errors
def job_list(
    state_: Annotated[str | None, typer.Option("--state", help="Only jobs in this state.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Training jobs, newest first."""
    jobs = client().jobs(state=state_)
    if as_json:
        return print_json(jobs)
    rows = [
        [
            j.id,
            j.state,
            j.model_name,
            j.team or "",
            j.site,
            j.created_by,
            j.created_at.strftime("%Y-%m-%d %H:%M"),
            f"{j.cpu_seconds:.1f}",
            j.result_ref or (j.error_code or ""),
        ]
        for j in jobs
    ]
    print_rows(
        rows,
        ["id", "state", "model", "team", "site", "by", "created", "cpu-s", "result"],
        title="jobs",
    )
    return None


@job_app.command("show")
@handle_errors
def job_show(
    job_id: str,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Wait until it ends.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """One job: state, placement, progress, metering, result or error."""
    sw = client()
    job = sw.wait_job(job_id) if follow else sw.job(job_id)
    if as_json:
        return print_json(job)
    console.print(escape(_job_line(job)))
    console.print(f"  placement: {escape(job.placement)}")
    console.print(
        f"  attempts {job.attempts}/{job.max_attempts}, executor {job.executor}, "
        f"worker {job.worker or '-'}, progress {escape(json.dumps(job.progress))}"
    )
    console.print(
        f"  estimate {job.estimate_cpu_hours:.4f} cpu-h; metered {job.cpu_seconds:.1f} cpu-s, "
        f"{job.wall_seconds:.1f} s wall, peak {job.peak_memory_bytes / 2**20:,.0f} MiB, "
        f"{job.bytes_read:,} bytes read"
    )
    return None


@job_app.command("logs")
@handle_errors
def job_logs(
    job_id: str,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until it ends.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """A job's log lines (all attempts)."""
    import time

    sw = client()
    after = 0
    while True:
        lines = sw.job_logs(job_id, after=after)
        if as_json and not follow:
            return print_json(lines)
        for ln in lines:
            console.print(f"{ln.at:%H:%M:%S} [{ln.attempt}] {escape(ln.line)}")
            after = ln.seq
        if not follow or sw.job(job_id).state in ("succeeded", "failed", "cancelled"):
            return None
        time.sleep(0.5)


@job_app.command("cancel")
@handle_errors
def job_cancel(job_id: str, as_json: JsonOpt = False) -> None:
    """Cancel a job: at once if queued, at its next heartbeat if running."""
    job = client().cancel_job(job_id)
    if as_json:
        return print_json(job)
    console.print(
        escape(_job_line(job)) + ("" if job.state == "cancelled" else " (cancel requested)")
    )
    return None


# -- models ----------------------------------------------------------------------------------
@model_app.command("list")
@handle_errors
def model_list(
    stage: Annotated[str | None, typer.Option(help="Only this stage.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Model versions by name."""
    models = client().models(stage=stage)
    if as_json:
        return print_json(models)
    rows = []
    for m in models:
        key = next(iter(sorted(m.metrics)), None)
        rows.append(
            [
                m.ref,
                m.stage,
                m.family,
                m.team or "",
                m.site,
                ", ".join(m.datasets) or ("external" if m.external else ""),
                f"{key} {m.metrics[key]:.4g}" if key else "",
                m.created_by,
            ]
        )
    print_rows(
        rows, ["model", "stage", "family", "team", "site", "data", "metric", "by"], title="models"
    )
    return None


@model_app.command("show")
@handle_errors
def model_show(ref: str, as_json: JsonOpt = False) -> None:
    """One model version: metrics, inputs, lineage."""
    m = client().model(ref)
    if as_json:
        return print_json(m)
    console.print(
        f"[bold]{m.ref}[/bold] {escape(f'[{m.stage}]')} {m.objective} {escape(m.estimator)} "
        f"at {m.site} "
        f"({m.jurisdiction}{', anonymised' if m.anonymised else ''})"
    )
    console.print("  metrics: " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(m.metrics.items())))
    console.print("  inputs: " + ", ".join(f"{i['name']}:{i['datatype']}" for i in m.inputs))
    console.print(
        f"  data: {', '.join(m.datasets) or '-'}; job {m.job_id or '-'}; by {m.created_by}"
    )
    check = m.lineage.get("onnx_check") or {}
    if check:
        console.print(
            f"  ONNX vs scikit-learn: max diff {check.get('max_diff'):.2e} over "
            f"{check.get('rows')} rows (tolerance {check.get('tolerance')})"
        )
    return None


@model_app.command("compare")
@handle_errors
def model_compare(a: str, b: str, as_json: JsonOpt = False) -> None:
    """Two versions side by side: metrics, parameters that differ, data that differs."""
    c = client().compare_models(a, b)
    if as_json:
        return print_json(c)
    rows = [[k, _num(v["a"]), _num(v["b"]), _num(v["delta"])] for k, v in c.metrics.items()]
    print_rows(rows, ["metric", c.a, c.b, "b − a"], title="metrics")
    if c.params:
        print_rows(
            [[k, escape(str(v["a"])), escape(str(v["b"]))] for k, v in c.params.items()],
            ["parameter", c.a, c.b],
            title="parameters that differ",
        )
    console.print(
        "same training data" if c.same_data else f"data: {c.a} {c.data['a']}, {c.b} {c.data['b']}"
    )
    return None


def _num(x: Any) -> str:
    return "—" if x is None else f"{x:.4g}"


@model_app.command("card")
@handle_errors
def model_card(
    ref: str,
    format: Annotated[str, typer.Option(help="markdown or json.")] = "markdown",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> None:
    """The model card (Markdown or JSON)."""
    card = client().model_card(ref, format=format)
    text = card if isinstance(card, str) else json.dumps(card, indent=2, sort_keys=True)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")
    else:
        typer.echo(text)


@model_app.command("download")
@handle_errors
def model_download(
    ref: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="The .onnx file to write.")],
) -> None:
    """Download the model's ONNX artifact (for the model's team and admins: a read of the
    team's objects, ``object.read``)."""
    data = client().model_onnx(ref)
    output.write_bytes(data)
    console.print(f"wrote {output} ({len(data):,} bytes)")


@model_app.command("import")
@handle_errors
def model_import(
    file: Annotated[Path, typer.Argument(help="An ONNX model file.")],
    name: Annotated[str, typer.Option(help="Model name.")],
    objective: Annotated[str, typer.Option(help="binary, multiclass or regression.")],
    schema: Annotated[
        Path | None, typer.Option(help="YAML/JSON list of inputs {name, datatype, ...}.")
    ] = None,
    lineage: Annotated[
        Path | None, typer.Option(help="YAML/JSON mapping: the declared lineage.")
    ] = None,
    team: Annotated[str | None, typer.Option(help="Owning team.")] = None,
    site: Annotated[str | None, typer.Option(help="Where it is stored [default_site]")] = None,
    jurisdiction: Annotated[
        str | None, typer.Option(help="Jurisdiction of its training data [the site's]")
    ] = None,
    anonymised: Annotated[bool, typer.Option(help="Trained on anonymised data only.")] = False,
    intended_use: Annotated[str | None, typer.Option(help="For the model card.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register an externally trained ONNX model, marked external."""
    import yaml

    def load(path: Path | None) -> Any:
        if path is None:
            return None
        try:
            return yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise ValidationFailed(f"cannot read {path}: {e}") from None

    info = client().import_model(
        file,
        name=name,
        objective=objective,
        team=team,
        site=site,
        schema=load(schema),
        lineage=load(lineage),
        jurisdiction=jurisdiction,
        anonymised=anonymised,
        intended_use=intended_use,
    )
    if as_json:
        return print_json(info)
    console.print(
        f"imported [bold]{info.ref}[/bold] (external) at {info.site}, {info.onnx_bytes:,} bytes"
    )
    if info.pending_declaration:
        console.print(
            f"  it is {info.jurisdiction} data, not anonymised, until a data steward other "
            f"than you approves declaration {info.pending_declaration}: "
            f"'steward model approve-declaration {info.pending_declaration}'"
        )
    return None


# -- declarations ----------------------------------------------------------------------------
def _declaration_line(d: Any) -> str:
    return (
        f"declaration {d.id} of {d.model}: [bold]{d.state}[/bold] (declared "
        f"{d.declared_jurisdiction}, anonymised={str(d.declared_anonymised).lower()}; now "
        f"{d.jurisdiction}, anonymised={str(d.anonymised).lower()})"
    )


@model_app.command("declarations")
@handle_errors
def model_declarations(
    state: Annotated[str | None, typer.Option(help="pending, approved or rejected [all]")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model's.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """What importers declared about external models, and whether a steward agreed."""
    found = client().declarations(state=state, model=model)
    if as_json:
        return print_json(found)
    rows = [
        [
            d.id,
            d.model,
            d.state,
            f"{d.declared_jurisdiction}, anonymised={str(d.declared_anonymised).lower()}",
            f"{d.jurisdiction}, anonymised={str(d.anonymised).lower()}",
            d.requested_by,
            d.decided_by or "",
        ]
        for d in found
    ]
    print_rows(
        rows,
        ["id", "model", "state", "declared", "applies", "importer", "decided by"],
        title="declarations",
    )
    return None


@model_app.command("approve-declaration")
@handle_errors
def model_approve_declaration(
    declaration: str,
    note: Annotated[str, typer.Option(help="Why (kept with the decision).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Approve an importer's declaration (data stewards; not the importer)."""
    d = client().approve_declaration(declaration, note=note)
    if as_json:
        return print_json(d)
    console.print(_declaration_line(d))
    return None


@model_app.command("reject-declaration")
@handle_errors
def model_reject_declaration(
    declaration: str,
    note: Annotated[str, typer.Option(help="Why (kept with the decision).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Reject an importer's declaration: the strictest attributes stay."""
    d = client().reject_declaration(declaration, note=note)
    if as_json:
        return print_json(d)
    console.print(_declaration_line(d))
    return None


# -- gates ---------------------------------------------------------------------------------
@model_app.command("validate")
@handle_errors
def model_validate(
    ref: str,
    holdout: Annotated[
        str | None,
        typer.Option(help="A locked holdout, NAME@V [default: the one that applies]."),
    ] = None,
    suite: Annotated[
        str | None, typer.Option(help="Gate suite [default: the one that applies]")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the Markdown report.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate the ONNX model on a locked holdout against its gate suite."""
    from steward.gates import render_report

    info = client().validate_model(ref, holdout=holdout, suite=suite)
    if as_json:
        print_json(info)
    else:
        text = render_report(info.report)
        if output is not None:
            output.write_text(text, encoding="utf-8")
            console.print(f"wrote {output}")
        console.print(escape(text), highlight=False)
    if not info.passed:
        raise typer.Exit(8)


@model_app.command("validations")
@handle_errors
def model_validations(ref: str, as_json: JsonOpt = False) -> None:
    """Every validation of a model version, with whether it is still current."""
    found = client().validations(ref)
    if as_json:
        return print_json(found)
    rows = [
        [
            v.id,
            "passed" if v.passed else "FAILED",
            v.holdout,
            v.suite,
            "current" if v.current else f"stale: {v.stale_reason}",
            "yes" if v.counts else f"no: {v.not_counted_reason}",
            v.created_by,
            v.created_at.strftime("%Y-%m-%d %H:%M"),
        ]
        for v in found
    ]
    print_rows(
        rows,
        ["id", "verdict", "holdout", "suite", "current", "counts", "by", "at"],
        title="validations",
    )
    return None


def _stage_out(info: Any, as_json: bool) -> None:
    if as_json:
        print_json(info)
        return
    yes = [a.user for a in info.approvals if a.decision == "approve"]
    console.print(
        f"{info.model}: [bold]{info.stage}[/bold] ({len(yes)}/{info.approvals_required} "
        f"approval(s){': ' + ', '.join(yes) if yes else ''})"
    )
    v = info.validation
    if v is not None:
        console.print(
            f"  validation {v.id}: {'passed' if v.passed else 'FAILED'} under suite {v.suite} "
            f"on {v.holdout}"
            + ("" if v.counts else f" (does not count: {escape(v.not_counted_reason or '')})")
        )
    for h in info.history:
        console.print(
            f"  {h['at'][:16]} {h['from']} → {h['to']} by {h['by']}: {escape(h['reason'])}"
        )


@model_app.command("approve")
@handle_errors
def model_approve(
    ref: str,
    note: Annotated[str, typer.Option(help="Why (kept with the approval).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Approve a validated model (not your own; audited)."""
    _stage_out(client().approve_model(ref, note=note), as_json)


@model_app.command("reject")
@handle_errors
def model_reject(
    ref: str,
    note: Annotated[str, typer.Option(help="Why (kept with the rejection).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Reject a validated model: it goes back to candidate."""
    _stage_out(client().reject_model(ref, note=note), as_json)


@model_app.command("promote")
@handle_errors
def model_promote(
    ref: str,
    stage: Annotated[str, typer.Option(help="production or retired.")] = "production",
    note: Annotated[str, typer.Option(help="Why.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Move an approved model to production (the previous one retires atomically)."""
    _stage_out(client().promote_model(ref, stage=stage, note=note), as_json)


@model_app.command("stage")
@handle_errors
def model_stage(ref: str, as_json: JsonOpt = False) -> None:
    """Stage, approvals and stage history of a model version."""
    _stage_out(client().model_stage(ref), as_json)
