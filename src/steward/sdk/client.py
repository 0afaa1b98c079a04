"""``Steward``: one client, two backends (embedded runtime or a remote server)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from steward import errors as E
from steward.audit import LedgerFilter
from steward.cost import (
    AnomalyInfo,
    CostForecast,
    CostRecordInfo,
    CostReport,
    CostService,
    EgressRow,
    ExitEstimate,
    ServingEstimate,
)
from steward.datasets import (
    ColumnClass,
    CopyInfo,
    DatasetDetail,
    DatasetService,
    LineageNode,
    VersionInfo,
)
from steward.datasets.mask import Recipe, load_recipe, parse_recipe
from steward.datasets.requests import RequestInfo
from steward.datasets.service import MaskResult
from steward.datasets.validate import ValidationReport
from steward.deploy import DeployService, EndpointInfo, NoSafeRevision, RollbackKeepsModel
from steward.gates import GateService, HoldoutOverlap, StageInfo, ValidationInfo, render_report
from steward.governance import (
    AuditEntryInfo,
    CheckpointInfo,
    DecisionInfo,
    GovernanceService,
    SiteInfo,
    VerificationInfo,
)
from steward.identity import CreatedToken, IdentityService, TeamInfo, TokenInfo, UserInfo
from steward.monitoring import (
    AlertDetail,
    AlertInfo,
    AlertService,
    MonitoringService,
    RevalidationResult,
    RevalidationService,
    WindowInfo,
    WindowReport,
    parse_window,
)
from steward.objects import ObjectInfo, ObjectService
from steward.policy import Principal
from steward.registry import (
    DeclarationInfo,
    DeclarationService,
    ModelComparison,
    ModelDetail,
    ModelService,
    ModelVersionInfo,
    render_markdown,
)
from steward.runtime import Runtime
from steward.serving import EndpointStatus, FeedbackResult, Label, ServingService
from steward.training import (
    JobInfo,
    JobLogLine,
    NoSuchSite,
    TrainEstimate,
    TrainingService,
    TrainingSpec,
    WorkerBusy,
    load_spec_file,
)

__all__ = ["Steward"]

M = TypeVar("M", bound=BaseModel)

_ERRORS: dict[str, type[E.StewardError]] = {
    cls.code: cls
    for cls in (
        E.ConfigError,
        E.ValidationFailed,
        E.Unauthenticated,
        E.NotFound,
        E.Conflict,
        E.QuotaExceeded,
        E.GateFailed,
        E.IntegrityError,
        NoSuchSite,
        WorkerBusy,
        HoldoutOverlap,
        NoSafeRevision,
        RollbackKeepsModel,
    )
}
_FINAL = ("succeeded", "failed", "cancelled")


def _raise_for(resp: httpx.Response) -> None:
    if resp.status_code < 400:
        return
    try:
        body = resp.json()
        code, message, details = body["error"], body["message"], body.get("details", {})
    except (ValueError, KeyError, TypeError):
        raise E.StewardError(f"server answered {resp.status_code}: {resp.text[:200]}") from None
    if code == "policy_denied":
        raise E.PolicyDenied(
            principal=details.get("principal", ""),
            action=details.get("action", ""),
            resource=details.get("resource", ""),
            reasons=[E.Reason(**r) for r in details.get("reasons", [])],
        )
    if code == "config_error":
        raise E.ConfigError(details.get("problems", [message]), path=details.get("path"))
    cls = _ERRORS.get(code, E.StewardError)
    raise cls(message, **details)


class _Remote:
    def __init__(self, url: str, token: str, timeout: float) -> None:
        self.http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise E.StewardError(f"cannot reach the Steward server: {exc}") from exc
        _raise_for(resp)
        return resp

    def model(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return model.model_validate(self.call(method, path, **kwargs).json())

    def models(self, model: type[M], method: str, path: str, **kwargs: Any) -> list[M]:
        return TypeAdapter(list[model]).validate_python(  # type: ignore[valid-type]
            self.call(method, path, **kwargs).json()
        )


def _raw_spec(
    spec: TrainingSpec | dict[str, Any] | str | os.PathLike[str] | None, fields: dict[str, Any]
) -> dict[str, Any]:
    """A training spec as a mapping: the spec (object, mapping or file) with ``fields``
    added or overriding."""
    raw: dict[str, Any]
    if spec is None:
        raw = {}
    elif isinstance(spec, TrainingSpec):
        raw = spec.model_dump(exclude_unset=True)
    elif isinstance(spec, dict):
        raw = dict(spec)
    else:
        raw = load_spec_file(Path(spec))
    raw.update({k: v for k, v in fields.items() if v is not None})
    return raw


class Steward:
    """The Steward SDK.

    Embedded: ``Steward(home="./.steward", user="alice")`` runs the services in this
    process on the home's store. Remote: ``Steward(url="http://host:8000",
    token="stw_...")`` calls a ``steward server``. Both raise the same errors.

    Examples
    --------
    >>> sw = Steward(home=".steward", user="alice")          # doctest: +SKIP
    >>> sw.put_object(b"...", site="eu-fra", jurisdiction="EU")  # doctest: +SKIP
    """

    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        *,
        user: str | None = None,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._remote: _Remote | None = None
        self._rt: Runtime | None = None
        if url:
            if not token:
                raise E.Unauthenticated("a remote Steward needs a token (STEWARD_TOKEN)")
            self._remote = _Remote(url, token, timeout)
            self._principal = Principal("")
        else:
            self._rt = Runtime.open(home)
            name = user or os.environ.get("STEWARD_USER")
            if not name:
                raise E.Unauthenticated(
                    "name the acting user: Steward(user=...) or STEWARD_USER "
                    f"(one of {', '.join(sorted(self._rt.config.users))})"
                )
            if name not in self._rt.config.users:
                raise E.NotFound(
                    f"unknown user {name!r}; expected one of "
                    f"{', '.join(sorted(self._rt.config.users))}",
                    user=name,
                )
            self._principal = Principal(name)
            self._identity = IdentityService(self._rt)
            self._governance = GovernanceService(self._rt)
            self._objects = ObjectService(self._rt)
            self._datasets = DatasetService(self._rt)
            self._training = TrainingService(self._rt)
            self._models = ModelService(self._rt)
            self._declarations = DeclarationService(self._rt)
            self._gates = GateService(self._rt)
            self._deploy = DeployService(self._rt)
        self._serving: ServingService | None = None
        self._monitoring: MonitoringService | None = None

    # -- lifecycle -------------------------------------------------------------------
    @property
    def embedded(self) -> bool:
        return self._rt is not None

    @property
    def runtime(self) -> Runtime:
        if self._rt is None:
            raise E.StewardError("a remote Steward has no local runtime")
        return self._rt

    def close(self) -> None:
        if self._remote is not None:
            self._remote.http.close()
        if self._serving is not None:
            self._serving.close()  # write the buffered prediction log
        if self._rt is not None:
            self._rt.close()

    def __enter__(self) -> Steward:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- identity --------------------------------------------------------------------
    def me(self) -> UserInfo:
        if self._remote:
            return self._remote.model(UserInfo, "GET", "/v1/me")
        return self._identity.user(self._principal.name)

    def users(self) -> list[UserInfo]:
        if self._remote:
            return self._remote.models(UserInfo, "GET", "/v1/users")
        return self._identity.users(self._principal)

    def teams(self) -> list[TeamInfo]:
        if self._remote:
            return self._remote.models(TeamInfo, "GET", "/v1/teams")
        return self._identity.teams(self._principal)

    def create_token(
        self,
        *,
        user: str | None = None,
        name: str = "default",
        expires_in_days: int = 90,
        endpoint: str | None = None,
    ) -> CreatedToken:
        """Create an API token (for yourself, or for ``user`` as an admin). Shown once.
        With ``endpoint``, it may only call that endpoint's prediction routes."""
        if self._remote:
            body = {
                "user": user,
                "name": name,
                "expires_in_days": expires_in_days,
                "endpoint": endpoint,
            }
            return self._remote.model(CreatedToken, "POST", "/v1/tokens", json=body)
        return self._identity.create_token(
            self._principal,
            user=user,
            name=name,
            expires_in_days=expires_in_days,
            endpoint=endpoint,
        )

    def tokens(self, *, user: str | None = None) -> list[TokenInfo]:
        if self._remote:
            params = {"user": user} if user else {}
            return self._remote.models(TokenInfo, "GET", "/v1/tokens", params=params)
        return self._identity.tokens(self._principal, user=user)

    def revoke_token(self, token_id: str) -> TokenInfo:
        if self._remote:
            return self._remote.model(TokenInfo, "DELETE", f"/v1/tokens/{token_id}")
        return self._identity.revoke_token(self._principal, token_id)

    # -- sites -----------------------------------------------------------------------
    def sites(self) -> list[SiteInfo]:
        if self._remote:
            return self._remote.models(SiteInfo, "GET", "/v1/sites")
        return self._governance.sites(self._principal)

    def site(self, name: str) -> SiteInfo:
        if self._remote:
            return self._remote.model(SiteInfo, "GET", f"/v1/sites/{name}")
        return self._governance.site(self._principal, name)

    # -- audit -----------------------------------------------------------------------
    def audit_log(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        resource: str | None = None,
        decision: str | None = None,
        since: str | None = None,
        until: str | None = None,
        after_seq: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntryInfo]:
        flt = LedgerFilter(actor, action, resource, decision, since, until, after_seq, limit)
        if self._remote:
            params = {k: v for k, v in vars(flt).items() if v is not None}
            return self._remote.models(AuditEntryInfo, "GET", "/v1/audit/entries", params=params)
        return self._governance.audit_log(self._principal, flt)

    def verify_audit(self) -> VerificationInfo:
        if self._remote:
            return self._remote.model(VerificationInfo, "GET", "/v1/audit/verify")
        return self._governance.verify(self._principal)

    def checkpoint_audit(self) -> CheckpointInfo:
        """Sign the ledger's head (Ed25519) so that truncation is detectable."""
        if self._remote:
            return self._remote.model(CheckpointInfo, "POST", "/v1/audit/checkpoints")
        return self._governance.checkpoint(self._principal)

    def checkpoints(self) -> list[CheckpointInfo]:
        if self._remote:
            return self._remote.models(CheckpointInfo, "GET", "/v1/audit/checkpoints")
        return self._governance.checkpoints(self._principal)

    def audit_public_key(self) -> str:
        if self._remote:
            return self._remote.call("GET", "/v1/audit/public-key").text
        return self._governance.public_key(self._principal)

    def export_audit(self, out: IO[str]) -> None:
        """Write the ledger as JSON lines (verifiable with the public key alone)."""
        if self._remote:
            out.write(self._remote.call("GET", "/v1/audit/export").text)
            return
        self._governance.export(self._principal, out)

    # -- policy ----------------------------------------------------------------------
    def explain(
        self,
        action: str,
        resource: str,
        *,
        as_user: str | None = None,
        site: str | None = None,
        attrs: dict[str, str] | None = None,
    ) -> DecisionInfo:
        """Dry-run a policy decision and return the policies that decided it."""
        if self._remote:
            body = {
                "as_user": as_user or self.me().name,
                "action": action,
                "resource": resource,
                "site": site,
                "attrs": attrs or {},
            }
            return self._remote.model(DecisionInfo, "POST", "/v1/policy/explain", json=body)
        return self._governance.explain(
            self._principal,
            as_user=as_user or self._principal.name,
            action=action,
            resource=resource,
            site=site,
            attrs=attrs,
        )

    # -- objects ---------------------------------------------------------------------
    def put_object(
        self,
        data: bytes | str | os.PathLike[str],
        *,
        site: str,
        jurisdiction: str,
        anonymised: bool = False,
        team: str | None = None,
        label: str = "",
    ) -> ObjectInfo:
        """Store bytes or a file at ``site``; residency policy decides if it may go there."""
        if self._remote:
            payload = data if isinstance(data, bytes) else Path(data).read_bytes()
            params: dict[str, Any] = {
                "site": site,
                "jurisdiction": jurisdiction,
                "anonymised": str(anonymised).lower(),
                "label": label,
            }
            if team:
                params["team"] = team
            return self._remote.model(
                ObjectInfo,
                "POST",
                "/v1/objects",
                params=params,
                content=payload,
                headers={"content-type": "application/octet-stream"},
            )
        source = data if isinstance(data, bytes) else Path(data)
        return self._objects.put(
            self._principal,
            source,
            site=site,
            jurisdiction=jurisdiction,
            anonymised=anonymised,
            team=team,
            label=label,
        )

    def get_object(self, site: str, digest: str) -> bytes:
        if self._remote:
            return self._remote.call("GET", f"/v1/objects/{site}/{digest}/content").content
        return self._objects.get(self._principal, site, digest)

    def object_info(self, site: str, digest: str) -> ObjectInfo:
        if self._remote:
            return self._remote.model(ObjectInfo, "GET", f"/v1/objects/{site}/{digest}")
        return self._objects.info(self._principal, site, digest)

    def objects(self, *, site: str | None = None) -> list[ObjectInfo]:
        if self._remote:
            params = {"site": site} if site else {}
            return self._remote.models(ObjectInfo, "GET", "/v1/objects", params=params)
        return self._objects.list(self._principal, site=site)

    # -- datasets --------------------------------------------------------------------
    def register_dataset(
        self,
        source: str | os.PathLike[str] | Any,
        *,
        name: str,
        site: str | None = None,
        team: str | None = None,
        locked: bool = False,
        description: str = "",
        format: str | None = None,
        allow_schema_change: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> VersionInfo:
        """Register a CSV, Parquet or JSON Lines file, an Arrow table or a pandas frame
        as the next version of ``name`` (identical content returns the existing version)."""
        if self._remote:
            path = _as_file(source)
            params: dict[str, Any] = {
                "name": name,
                "format": format or _format_of(path),
                "locked": str(locked).lower(),
                "description": description,
                "allow_schema_change": str(allow_schema_change).lower(),
            }
            if site:
                params["site"] = site
            if team:
                params["team"] = team
            with open(path, "rb") as fh:
                return self._remote.model(
                    VersionInfo,
                    "POST",
                    "/v1/datasets",
                    params=params,
                    content=fh,
                    headers={"content-type": "application/octet-stream"},
                )
        src = Path(source) if isinstance(source, str | os.PathLike) else source
        return self._datasets.register(
            self._principal,
            src,
            name=name,
            site=site,
            team=team,
            locked=locked,
            description=description,
            format=format,
            allow_schema_change=allow_schema_change,
            progress=progress,
        )

    def datasets(self) -> list[VersionInfo]:
        if self._remote:
            return self._remote.models(VersionInfo, "GET", "/v1/datasets")
        return self._datasets.versions(self._principal)

    def dataset(self, ref: str) -> DatasetDetail:
        """Schema, classification, profile summary and residency of ``name@version``."""
        if self._remote:
            return self._remote.model(DatasetDetail, "GET", f"/v1/datasets/{ref}")
        return self._datasets.show(self._principal, ref)

    def dataset_lineage(self, ref: str) -> LineageNode:
        if self._remote:
            return self._remote.model(LineageNode, "GET", f"/v1/datasets/{ref}/lineage")
        return self._datasets.lineage(self._principal, ref)

    def read_dataset(self, ref: str, *, site: str | None = None) -> Any:
        """The version's data as an Arrow table, read at ``site`` (default: its home)."""
        if self._remote:
            import io

            import pyarrow.parquet as pq

            params = {"site": site} if site else {}
            data = self._remote.call("GET", f"/v1/datasets/{ref}/data", params=params).content
            return pq.read_table(io.BytesIO(data))
        return self._datasets.read(self._principal, ref, site=site)

    def copy_dataset(self, ref: str, *, to_site: str) -> CopyInfo:
        if self._remote:
            return self._remote.model(
                CopyInfo, "POST", f"/v1/datasets/{ref}/copies", json={"to_site": to_site}
            )
        return self._datasets.copy(self._principal, ref, to_site=to_site)

    # -- four eyes on data: declassification, cross-jurisdiction copies ------------------
    def request_declassification(
        self, ref: str, overrides: dict[str, str], *, reason: str = ""
    ) -> RequestInfo:
        """Ask to lower column classes of ``ref``; another data steward decides."""
        if self._remote:
            return self._remote.model(
                RequestInfo,
                "POST",
                f"/v1/datasets/{ref}/requests",
                json={"kind": "declassify", "set": overrides, "reason": reason},
            )
        return self._datasets.request_declassification(
            self._principal, ref, overrides, reason=reason
        )

    def request_dataset_copy(self, ref: str, *, to_site: str, reason: str = "") -> RequestInfo:
        """Ask to copy personal data to another jurisdiction (a transfer rule, four eyes)."""
        if self._remote:
            return self._remote.model(
                RequestInfo,
                "POST",
                f"/v1/datasets/{ref}/requests",
                json={"kind": "copy", "to_site": to_site, "reason": reason},
            )
        return self._datasets.request_copy(self._principal, ref, to_site=to_site, reason=reason)

    def dataset_requests(self, *, state: str | None = None) -> list[RequestInfo]:
        """Four-eyes requests on datasets, newest first."""
        if self._remote:
            params = {"state": state} if state else {}
            return self._remote.models(RequestInfo, "GET", "/v1/dataset-requests", params=params)
        return self._datasets.requests(self._principal, state=state)

    def decide_dataset_request(
        self, request_id: str, *, approve: bool, note: str = ""
    ) -> RequestInfo:
        """Approve or reject another data steward's request (never your own approval)."""
        if self._remote:
            verb = "approve" if approve else "reject"
            return self._remote.model(
                RequestInfo,
                "POST",
                f"/v1/dataset-requests/{request_id}/{verb}",
                json={"note": note},
            )
        return self._datasets.decide_request(
            self._principal, request_id, approve=approve, note=note
        )

    def classify_dataset(self, ref: str, overrides: dict[str, str]) -> list[ColumnClass]:
        """Override column classes (data stewards); each override is audited."""
        if self._remote:
            return self._remote.models(
                ColumnClass,
                "POST",
                f"/v1/datasets/{ref}/classification",
                json={"set": overrides},
            )
        return self._datasets.set_classification(self._principal, ref, overrides)

    def mask_dataset(
        self,
        ref: str,
        *,
        recipe: str | os.PathLike[str] | dict[str, Any] | None = None,
        description: str = "",
    ) -> MaskResult:
        """Derive a masked version with a recipe (a YAML file or a dict), or the
        automatic recipe from the classification when none is given."""
        data: dict[str, Any] | None
        if recipe is None or isinstance(recipe, dict):
            data = recipe
        else:
            data = load_recipe(Path(recipe)).model_dump()
            data = {
                "columns": {k: {"op": v["op"], **v["params"]} for k, v in data["columns"].items()},
                "k_min": data.get("k_min"),
                "enforce_k": bool(data.get("enforce_k", False)),
            }
        if self._remote:
            return self._remote.model(
                MaskResult,
                "POST",
                f"/v1/datasets/{ref}/masks",
                json={"recipe": data, "description": description},
            )
        parsed: Recipe | None = parse_recipe(data) if data is not None else None
        return self._datasets.mask(self._principal, ref, recipe=parsed, description=description)

    def detokenise(self, ref: str, column: str, tokens: list[str]) -> list[str]:
        """Reverse tokens (data stewards only; audited)."""
        if self._remote:
            body = {"column": column, "tokens": tokens}
            resp = self._remote.call("POST", f"/v1/datasets/{ref}/detokenise", json=body)
            return list(resp.json()["values"])
        return self._datasets.detokenise(self._principal, ref, column, tokens)

    def validate_dataset(
        self,
        ref: str,
        source: str | os.PathLike[str],
        *,
        quarantine: str | os.PathLike[str] | None = None,
    ) -> ValidationReport:
        """Check a new batch against the registered schema of ``ref``."""
        if self._remote:
            if quarantine is not None:
                raise E.ValidationFailed("quarantine files are written by the embedded client")
            path = Path(source)
            with open(path, "rb") as fh:
                return self._remote.model(
                    ValidationReport,
                    "POST",
                    f"/v1/datasets/{ref}/validate",
                    params={"format": _format_of(path)},
                    content=fh,
                    headers={"content-type": "application/octet-stream"},
                )
        return self._datasets.validate(
            self._principal,
            ref,
            Path(source),
            quarantine=Path(quarantine) if quarantine is not None else None,
        )

    # -- training --------------------------------------------------------------------
    def train(
        self,
        spec: TrainingSpec | dict[str, Any] | str | os.PathLike[str] | None = None,
        *,
        wait: bool = True,
        executor: str | None = None,
        on_update: Callable[[JobInfo], None] | None = None,
        **fields: Any,
    ) -> JobInfo:
        """Submit a training job; with ``wait`` (the default) run or follow it to its end.

        ``spec`` is a :class:`~steward.training.TrainingSpec`, a mapping, or a YAML/JSON
        file; keyword ``fields`` add to or override it, e.g.
        ``sw.train(data=["loans@2"], target="default", objective="binary", family="hgb")``.
        Embedded, a waiting call runs the job in this process on the configured executor
        (unless a worker already runs jobs for the home: then it follows that worker).
        """
        raw = _raw_spec(spec, fields)
        if self._remote:
            job = self._remote.model(
                JobInfo, "POST", "/v1/jobs", json={"spec": raw, "executor": executor}
            )
        else:
            job = self._training.submit(self._principal, raw, executor=executor)
            if wait:
                return self._run_here(job, executor or job.executor, on_update)
        if on_update is not None:
            on_update(job)
        return self.wait_job(job.id, on_update=on_update) if wait else job

    def _run_here(
        self, job: JobInfo, executor: str, on_update: Callable[[JobInfo], None] | None
    ) -> JobInfo:
        """Run a job in a thread of this process while following its progress; when the
        home's worker is busy (:class:`WorkerBusy`), that worker runs it: follow it."""
        import threading

        failed: list[BaseException] = []

        def run() -> None:
            try:
                self._training.run_pending(job.id, executor=executor)
            except WorkerBusy:
                pass
            except BaseException as e:  # re-raised in the caller's thread below
                failed.append(e)

        runner = threading.Thread(target=run, name=f"steward-job-{job.id}", daemon=True)
        runner.start()
        final = self.wait_job(job.id, on_update=on_update, poll=0.3, alive=runner.is_alive)
        runner.join()
        if failed:
            raise failed[0]
        return final if final.state in _FINAL else self.wait_job(job.id, on_update=on_update)

    def wait_job(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        poll: float = 0.5,
        on_update: Callable[[JobInfo], None] | None = None,
        alive: Callable[[], bool] | None = None,
    ) -> JobInfo:
        """Poll a job until it ends (or ``timeout`` seconds pass, or ``alive`` says the
        thread running it stopped); returns its last state."""
        import time

        start = time.monotonic()
        while True:
            running = alive() if alive is not None else True
            job = self.job(job_id)
            if on_update is not None:
                on_update(job)
            if job.state in _FINAL or not running:
                return job
            if timeout is not None and time.monotonic() - start > timeout:
                return job
            time.sleep(poll)

    def jobs(self, *, state: str | None = None, limit: int = 100) -> list[JobInfo]:
        if self._remote:
            params: dict[str, Any] = {"limit": limit}
            if state:
                params["state"] = state
            return self._remote.models(JobInfo, "GET", "/v1/jobs", params=params)
        return self._training.jobs(self._principal, state=state, limit=limit)

    def job(self, job_id: str) -> JobInfo:
        if self._remote:
            return self._remote.model(JobInfo, "GET", f"/v1/jobs/{job_id}")
        return self._training.job(self._principal, job_id)

    def job_logs(self, job_id: str, *, after: int = 0) -> list[JobLogLine]:
        if self._remote:
            return self._remote.models(
                JobLogLine, "GET", f"/v1/jobs/{job_id}/logs", params={"after": after}
            )
        return self._training.logs(self._principal, job_id, after=after)

    def cancel_job(self, job_id: str) -> JobInfo:
        if self._remote:
            return self._remote.model(JobInfo, "POST", f"/v1/jobs/{job_id}/cancel")
        return self._training.cancel(self._principal, job_id)

    # -- models ----------------------------------------------------------------------
    def models(self, *, stage: str | None = None) -> list[ModelVersionInfo]:
        if self._remote:
            params = {"stage": stage} if stage else {}
            return self._remote.models(ModelVersionInfo, "GET", "/v1/models", params=params)
        return self._models.versions(self._principal, stage=stage)

    def model(self, ref: str) -> ModelDetail:
        """Metrics, schema, lineage, card and profile summary of ``name@version``."""
        if self._remote:
            return self._remote.model(ModelDetail, "GET", f"/v1/models/{ref}")
        return self._models.show(self._principal, ref)

    def compare_models(self, a: str, b: str) -> ModelComparison:
        if self._remote:
            return self._remote.model(
                ModelComparison, "GET", "/v1/models-compare", params={"a": a, "b": b}
            )
        return self._models.compare(self._principal, a, b)

    def model_card(self, ref: str, *, format: str = "json") -> Any:
        """The model card: a mapping (``format="json"``) or Markdown text."""
        detail = self.model(ref)
        if format == "markdown":
            return render_markdown(detail.ref, detail.stage, detail.card)
        if format != "json":
            raise E.ValidationFailed(f"format: expected json or markdown; found {format!r}")
        return detail.card

    def model_onnx(self, ref: str) -> bytes:
        """The ONNX bytes of a model version."""
        if self._remote:
            return self._remote.call("GET", f"/v1/models/{ref}/onnx").content
        return self._models.onnx(self._principal, ref)

    def import_model(
        self,
        file: str | os.PathLike[str],
        *,
        name: str,
        objective: str,
        team: str | None = None,
        site: str | None = None,
        schema: list[dict[str, Any]] | None = None,
        lineage: dict[str, Any] | None = None,
        jurisdiction: str | None = None,
        anonymised: bool = False,
        metrics: dict[str, float] | None = None,
        intended_use: str | None = None,
    ) -> ModelVersionInfo:
        """Register an externally trained ONNX model (marked external)."""
        meta: dict[str, Any] = {
            "name": name,
            "objective": objective,
            "team": team,
            "site": site,
            "schema": schema,
            "lineage": lineage,
            "jurisdiction": jurisdiction,
            "anonymised": anonymised,
            "metrics": metrics,
            "intended_use": intended_use,
        }
        if self._remote:
            import json as _json

            with open(file, "rb") as fh:
                return self._remote.model(
                    ModelVersionInfo,
                    "POST",
                    "/v1/models/import",
                    params={"meta": _json.dumps(meta)},
                    content=fh.read(),
                    headers={"content-type": "application/octet-stream"},
                )
        return self._models.import_onnx(self._principal, Path(file), **meta)

    # -- gates -----------------------------------------------------------------------
    def validate_model(
        self, ref: str, *, holdout: str | None = None, suite: str | None = None
    ) -> ValidationInfo:
        """Evaluate the ONNX model on a locked holdout against its gate suite (defaults:
        the holdout and suite steward.yaml applies; others are recorded, never counted)."""
        if self._remote:
            return self._remote.model(
                ValidationInfo,
                "POST",
                f"/v1/models/{ref}/validations",
                json={"holdout": holdout, "suite": suite},
            )
        return self._gates.validate(self._principal, ref, holdout, suite=suite)

    def validations(self, ref: str) -> list[ValidationInfo]:
        if self._remote:
            return self._remote.models(ValidationInfo, "GET", f"/v1/models/{ref}/validations")
        return self._gates.validations(self._principal, ref)

    def validation_report(self, ref: str) -> str:
        """The latest validation report of ``ref`` as Markdown."""
        found = self.validations(ref)
        if not found:
            raise E.NotFound(f"{ref} has no validation yet", model=ref)
        return render_report(found[-1].report)

    def approve_model(self, ref: str, *, note: str = "") -> StageInfo:
        """Approve a validated model (approvers other than its producer; audited)."""
        if self._remote:
            return self._remote.model(
                StageInfo, "POST", f"/v1/models/{ref}/approvals", json={"note": note}
            )
        return self._gates.decide(self._principal, ref, approve=True, note=note)

    def declarations(
        self, *, state: str | None = None, model: str | None = None
    ) -> list[DeclarationInfo]:
        """What importers declared about external models (jurisdiction, anonymised), and
        whether a data steward approved it."""
        if self._remote:
            params = {k: v for k, v in {"state": state, "model": model}.items() if v}
            return self._remote.models(DeclarationInfo, "GET", "/v1/declarations", params=params)
        return self._declarations.declarations(self._principal, state=state, model=model)

    def approve_declaration(self, declaration: str, *, note: str = "") -> DeclarationInfo:
        """Approve an importer's declaration (data stewards other than the importer): the
        declared jurisdiction and anonymised then apply to the model version."""
        if self._remote:
            return self._remote.model(
                DeclarationInfo,
                "POST",
                f"/v1/declarations/{declaration}/approval",
                json={"note": note},
            )
        return self._declarations.decide(self._principal, declaration, approve=True, note=note)

    def reject_declaration(self, declaration: str, *, note: str = "") -> DeclarationInfo:
        """Reject an importer's declaration: the strictest attributes stay."""
        if self._remote:
            return self._remote.model(
                DeclarationInfo,
                "POST",
                f"/v1/declarations/{declaration}/rejection",
                json={"note": note},
            )
        return self._declarations.decide(self._principal, declaration, approve=False, note=note)

    def reject_model(self, ref: str, *, note: str = "") -> StageInfo:
        if self._remote:
            return self._remote.model(
                StageInfo, "POST", f"/v1/models/{ref}/rejections", json={"note": note}
            )
        return self._gates.decide(self._principal, ref, approve=False, note=note)

    def promote_model(self, ref: str, *, stage: str = "production", note: str = "") -> StageInfo:
        """Move an approved model to production (the previous one retires atomically)."""
        if self._remote:
            return self._remote.model(
                StageInfo,
                "POST",
                f"/v1/models/{ref}/promotions",
                json={"stage": stage, "note": note},
            )
        return self._gates.promote(self._principal, ref, stage=stage, note=note)

    def model_stage(self, ref: str) -> StageInfo:
        """Stage, approvals, history and the latest validation of a model version."""
        if self._remote:
            return self._remote.model(StageInfo, "GET", f"/v1/models/{ref}/stage")
        return self._gates.stage_info(self._principal, ref)

    # -- deployments -----------------------------------------------------------------
    def deploy(
        self,
        ref: str,
        *,
        endpoint: str,
        site: str | None = None,
        strategy: str = "direct",
        percent: int | None = None,
    ) -> EndpointInfo:
        """Deploy an approved model to an endpoint (a new revision; policy decides)."""
        if self._remote:
            body = {
                "model": ref,
                "site": site,
                "strategy": strategy,
                "percent": percent,
            }
            return self._remote.model(
                EndpointInfo, "POST", f"/v1/endpoints/{endpoint}/revisions", json=body
            )
        return self._deploy.deploy(
            self._principal,
            ref,
            endpoint=endpoint,
            site=site,
            strategy=strategy,  # type: ignore[arg-type]
            percent=percent,
        )

    def promote_endpoint(self, endpoint: str) -> EndpointInfo:
        """Turn an endpoint's canary or shadow into its only model."""
        if self._remote:
            return self._remote.model(EndpointInfo, "POST", f"/v1/endpoints/{endpoint}/promote")
        return self._deploy.promote(self._principal, endpoint)

    def rollback(
        self, endpoint: str, *, to: int | None = None, allow_same_model: bool = False
    ) -> EndpointInfo:
        """Return an endpoint to its previous revision (or to revision ``to``); refused
        when that revision still serves the model rolled away from, unless
        ``allow_same_model``."""
        if self._remote:
            body: dict[str, Any] = {"to": to}
            if allow_same_model:
                body["allow_same_model"] = True
            return self._remote.model(
                EndpointInfo, "POST", f"/v1/endpoints/{endpoint}/rollback", json=body
            )
        return self._deploy.rollback(
            self._principal, endpoint, to=to, allow_same_model=allow_same_model
        )

    def endpoints(self) -> list[EndpointInfo]:
        if self._remote:
            return self._remote.models(EndpointInfo, "GET", "/v1/endpoints")
        return self._deploy.endpoints(self._principal)

    def endpoint_status(self, name: str) -> EndpointStatus:
        """Latency p50/p95/p99 against the endpoint's budget, as measured by the server that
        answers its predictions (so: a remote client, ``Steward(url=...)``)."""
        if self._remote:
            return self._remote.model(EndpointStatus, "GET", f"/v1/endpoints/{name}/status")
        raise E.ValidationFailed(
            "latency figures live in the server that answers predictions; ask it: "
            "Steward(url=..., token=...) or steward --url ... endpoint status",
            endpoint=name,
        )

    def endpoint(self, name: str) -> EndpointInfo:
        if self._remote:
            return self._remote.model(EndpointInfo, "GET", f"/v1/endpoints/{name}")
        return self._deploy.endpoint(self._principal, name)

    def _monitor(self) -> MonitoringService:
        if self._monitoring is None:
            self._monitoring = MonitoringService(self.runtime)
        return self._monitoring

    def monitor_run(self, endpoint: str) -> list[WindowReport]:
        """Read the prediction log into the endpoint's windows and test the latest ones
        for drift against the model's reference profile."""
        if self._remote:
            return self._remote.models(
                WindowReport, "POST", f"/v1/endpoints/{endpoint}/monitoring/run"
            )
        return self._monitor().run(self._principal, endpoint)

    def monitor_report(
        self,
        endpoint: str,
        *,
        window: str | None = None,
        start: datetime | None = None,
        model: str | None = None,
    ) -> WindowReport:
        """One window's drift report (default: the latest of the shortest length);
        ``window`` as ``60m``, ``1h`` or ``1d``."""
        if self._remote:
            params = {
                k: v
                for k, v in {
                    "window": window,
                    "start": start.isoformat() if start else None,
                    "model": model,
                }.items()
                if v is not None
            }
            return self._remote.model(
                WindowReport,
                "GET",
                f"/v1/endpoints/{endpoint}/monitoring/report",
                params=params,
            )
        return self._monitor().report(
            self._principal,
            endpoint,
            minutes=parse_window(window) if window else None,
            start=start,
            model=model,
        )

    def monitor_revalidate(self, endpoint: str) -> RevalidationResult:
        """Re-run the endpoint's model through its gate suite now: on the latest version
        of its holdout and on recently labelled traffic. The validation is the caller's
        (``model.validate`` on the model, team-scoped; in the ledger with them as actor)."""
        if self._remote:
            return self._remote.model(
                RevalidationResult, "POST", f"/v1/endpoints/{endpoint}/monitoring/revalidate"
            )
        return RevalidationService(self.runtime).run(self._principal, endpoint)

    def monitor_windows(self, endpoint: str) -> list[WindowInfo]:
        """The endpoint's monitoring windows, newest first."""
        if self._remote:
            return self._remote.models(
                WindowInfo, "GET", f"/v1/endpoints/{endpoint}/monitoring/windows"
            )
        return self._monitor().windows(self._principal, endpoint)

    def alert(self, alert_id: int) -> AlertDetail:
        """One alert with every occurrence's evidence and the actions each triggered (with
        the ledger seq of each automatic action)."""
        if self._remote:
            return self._remote.model(AlertDetail, "GET", f"/v1/alerts/{alert_id}")
        return AlertService(self.runtime).alert(self._principal, alert_id)

    def alerts(
        self, *, endpoint: str | None = None, state: str | None = None, team: str | None = None
    ) -> list[AlertInfo]:
        """Monitoring's alerts, newest first (``state``: open, acknowledged, resolved;
        ``team``: a team's own alerts, about its budget and spend)."""
        if self._remote:
            params = {
                k: v for k, v in {"endpoint": endpoint, "state": state, "team": team}.items() if v
            }
            return self._remote.models(AlertInfo, "GET", "/v1/alerts", params=params)
        return AlertService(self.runtime).alerts(
            self._principal, endpoint=endpoint, state=state, team=team
        )

    # -- cost --------------------------------------------------------------------------------
    def cost_report(
        self,
        *,
        by: list[str] | None = None,
        team: str | None = None,
        site: str | None = None,
        kind: str | None = None,
        endpoint: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> CostReport:
        """Spend in [since, until) (default: this month), grouped by team, site, kind,
        resource, model, endpoint, action, day or month."""
        if self._remote:
            params: dict[str, Any] = {
                k: v
                for k, v in {
                    "team": team,
                    "site": site,
                    "kind": kind,
                    "endpoint": endpoint,
                    "since": since,
                    "until": until,
                }.items()
                if v is not None
            }
            if by:
                params["by"] = by
            return self._remote.model(CostReport, "GET", "/v1/cost/report", params=params)
        return CostService(self.runtime).report(
            self._principal,
            by=by,
            team=team,
            site=site,
            kind=kind,
            endpoint=endpoint,
            since=since,
            until=until,
        )

    def cost_records(
        self, *, team: str | None = None, since: str | None = None, until: str | None = None
    ) -> list[CostRecordInfo]:
        """The cost records themselves, oldest first (at most 10,000)."""
        if self._remote:
            params = {k: v for k, v in {"team": team, "since": since, "until": until}.items() if v}
            return self._remote.models(CostRecordInfo, "GET", "/v1/cost/records", params=params)
        return CostService(self.runtime).records(
            self._principal, team=team, since=since, until=until
        )

    def cost_import(self, records: list[CostRecordInfo] | list[dict[str, Any]]) -> int:
        """Bring in spend metered elsewhere (admins; ``cost.import``): all or none."""
        rows = [r if isinstance(r, CostRecordInfo) else CostRecordInfo(**r) for r in records]
        if self._remote:
            body = [r.model_dump(mode="json") for r in rows]
            resp = self._remote.call("POST", "/v1/cost/records", json={"records": body})
            return int(resp.json()["imported"])
        return CostService(self.runtime).import_records(self._principal, rows)

    def cost_egress(
        self, *, team: str | None = None, since: str | None = None, until: str | None = None
    ) -> list[EgressRow]:
        """Bytes and money moved between sites, by source and destination."""
        if self._remote:
            params = {k: v for k, v in {"team": team, "since": since, "until": until}.items() if v}
            return self._remote.models(EgressRow, "GET", "/v1/cost/egress", params=params)
        return CostService(self.runtime).egress(
            self._principal, team=team, since=since, until=until
        )

    def cost_exit(
        self,
        from_provider: str,
        to_provider: str,
        *,
        to_region: str | None = None,
        team: str | None = None,
    ) -> ExitEstimate:
        """What leaving one provider for another would cost: egress once, and per month."""
        if self._remote:
            params = {
                k: v
                for k, v in {
                    "from": from_provider,
                    "to": to_provider,
                    "to_region": to_region,
                    "team": team,
                }.items()
                if v
            }
            return self._remote.model(ExitEstimate, "GET", "/v1/cost/exit", params=params)
        return CostService(self.runtime).exit(
            self._principal,
            from_provider=from_provider,
            to_provider=to_provider,
            to_region=to_region,
            team=team,
        )

    def cost_forecast(
        self, *, team: str | None = None, endpoint: str | None = None
    ) -> CostForecast:
        """This month's spend of a team or an endpoint: so far, and forecast to the end."""
        if self._remote:
            params = {k: v for k, v in {"team": team, "endpoint": endpoint}.items() if v}
            return self._remote.model(CostForecast, "GET", "/v1/cost/forecast", params=params)
        return CostService(self.runtime).forecast(self._principal, team=team, endpoint=endpoint)

    def cost_anomalies(
        self, *, team: str | None = None, endpoint: str | None = None, days: int = 90
    ) -> list[AnomalyInfo]:
        """Days whose spend left the forecast band, over the last ``days``."""
        if self._remote:
            params: dict[str, Any] = {
                k: v for k, v in {"team": team, "endpoint": endpoint}.items() if v
            }
            params["days"] = days
            return self._remote.models(AnomalyInfo, "GET", "/v1/cost/anomalies", params=params)
        return CostService(self.runtime).anomalies(
            self._principal, team=team, endpoint=endpoint, days=days
        )

    def estimate_training(
        self,
        spec: TrainingSpec | dict[str, Any] | str | os.PathLike[str] | None = None,
        **fields: Any,
    ) -> TrainEstimate:
        """What a training job would cost at each site, where it would go and the team's
        budget after it (a dry run: nothing is queued). Arguments as for :meth:`train`."""
        raw = _raw_spec(spec, fields)
        if self._remote:
            return self._remote.model(
                TrainEstimate, "POST", "/v1/jobs/estimate", json={"spec": raw}
            )
        return TrainingService(self.runtime).estimate(self._principal, raw)

    def estimate_serving(self, model: str, *, requests_per_second: float) -> ServingEstimate:
        """A month of serving ``model`` at a request rate, at each site (a dry run)."""
        if self._remote:
            return self._remote.model(
                ServingEstimate,
                "GET",
                f"/v1/models/{model}/serving-estimate",
                params={"rate": requests_per_second},
            )
        return CostService(self.runtime).serving_estimate(
            self._principal, model, requests_per_second=requests_per_second
        )

    def acknowledge_alert(self, alert_id: int, *, note: str = "") -> AlertInfo:
        if self._remote:
            return self._remote.model(
                AlertInfo, "POST", f"/v1/alerts/{alert_id}/acknowledge", json={"note": note}
            )
        return AlertService(self.runtime).acknowledge(self._principal, alert_id, note)

    def resolve_alert(self, alert_id: int, *, note: str = "") -> AlertInfo:
        if self._remote:
            return self._remote.model(
                AlertInfo, "POST", f"/v1/alerts/{alert_id}/resolve", json={"note": note}
            )
        return AlertService(self.runtime).resolve(self._principal, alert_id, note)

    def _served(self) -> ServingService:
        if self._serving is None:
            self._serving = ServingService(self.runtime)
        return self._serving

    def predict(
        self,
        endpoint: str,
        records: list[dict[str, Any]],
        *,
        request_id: str | None = None,
        key: str | None = None,
    ) -> dict[str, Any]:
        """Predictions for JSON records (column → value) from what the endpoint serves.

        The answer carries the ``request_id`` (yours, or a new one) that :meth:`feedback`
        names later; ``key`` keeps a canary's routing sticky (e.g. a customer id)."""
        if self._remote:
            headers = {"x-steward-key": key} if key else {}
            body = {"records": records, "request_id": request_id}
            out: dict[str, Any] = self._remote.call(
                "POST", f"/v1/endpoints/{endpoint}/predict", json=body, headers=headers
            ).json()
            return out
        return self._served().predict_records(
            self._principal, endpoint, records, key=key, request_id=request_id
        )

    def feedback(
        self, endpoint: str, labels: Sequence[Mapping[str, Any] | Label]
    ) -> FeedbackResult:
        """Attach ground truth to earlier predictions: ``[{"request_id": ..., "row": 0,
        "label": ...}]`` (all or nothing; for members of the endpoint's team; a label must
        name a class of the model that answered, see steward.serving.labels)."""
        try:
            parsed = [lb if isinstance(lb, Label) else Label.model_validate(lb) for lb in labels]
        except ValidationError as exc:
            raise E.ValidationFailed(
                f"labels: expected {{request_id, row, label}} objects; {exc.errors()[0]['msg']}"
            ) from None
        if self._remote:
            body = {"labels": [lb.model_dump(mode="json") for lb in parsed]}
            return self._remote.model(
                FeedbackResult, "POST", f"/v1/endpoints/{endpoint}/feedback", json=body
            )
        return self._served().feedback(self._principal, endpoint, parsed)


def _as_file(source: Any) -> Path:
    if isinstance(source, str | os.PathLike):
        return Path(source)
    raise E.ValidationFailed("a remote Steward registers files; write the table to a file first")


def _format_of(path: Path) -> str:
    from steward.datasets.io import format_of

    return format_of(path)
