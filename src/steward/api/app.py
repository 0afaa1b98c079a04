"""The FastAPI application."""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from steward.api.v2codec import V2Codec
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
from steward.datasets.mask import parse_recipe
from steward.datasets.requests import RequestInfo
from steward.datasets.service import MaskResult
from steward.datasets.validate import ValidationReport
from steward.deploy import DeployService, EndpointInfo
from steward.door import Action
from steward.errors import PolicyDenied, Reason, StewardError, Unauthenticated, ValidationFailed
from steward.gates import GateService, StageInfo, ValidationInfo
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
from steward.policy import Principal, Resource
from steward.registry import (
    DeclarationInfo,
    DeclarationService,
    ModelComparison,
    ModelDetail,
    ModelService,
    ModelVersionInfo,
)
from steward.runtime import Runtime
from steward.serving import (
    EndpointStatus,
    FeedbackResult,
    InferRequest,
    InferResponse,
    Label,
    ModelMetadata,
    ServingService,
)
from steward.training import JobInfo, JobLogLine, TrainEstimate, TrainingService
from steward.ui import create_router

__all__ = ["MUTATING_ROUTES", "READ_ONLY_ROUTES", "create_app"]

log = logging.getLogger("steward.api")

#: Every state-changing route and the governed action it runs (checked by a test).
MUTATING_ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/v1/tokens"): "token.create",
    ("DELETE", "/v1/tokens/{token_id}"): "token.revoke",
    ("POST", "/v1/audit/checkpoints"): "audit.checkpoint",
    ("POST", "/v1/objects"): "object.put",
    ("POST", "/v1/datasets"): "dataset.register",
    ("POST", "/v1/datasets/{ref}/copies"): "dataset.copy",
    ("POST", "/v1/datasets/{ref}/classification"): "dataset.classify",
    ("POST", "/v1/datasets/{ref}/masks"): "dataset.mask",
    ("POST", "/v1/datasets/{ref}/detokenise"): "dataset.detokenize",
    ("POST", "/v1/datasets/{ref}/requests"): "dataset.request",
    ("POST", "/v1/dataset-requests/{request_id}/approve"): "dataset.approve",
    ("POST", "/v1/dataset-requests/{request_id}/reject"): "dataset.reject",
    ("POST", "/v1/jobs"): "model.train",
    ("POST", "/v1/jobs/{job_id}/cancel"): "job.cancel",
    ("POST", "/v1/models/import"): "model.import",
    ("POST", "/v1/models/{ref}/validations"): "model.validate",
    ("POST", "/v1/models/{ref}/approvals"): "model.approve",
    ("POST", "/v1/models/{ref}/rejections"): "model.reject",
    ("POST", "/v1/models/{ref}/promotions"): "model.promote",
    ("POST", "/v1/declarations/{decl_id}/approval"): "model.declaration.approve",
    ("POST", "/v1/declarations/{decl_id}/rejection"): "model.declaration.reject",
    ("POST", "/v1/endpoints/{name}/revisions"): "deployment.create",
    ("POST", "/v1/endpoints/{name}/promote"): "deployment.promote",
    ("POST", "/v1/endpoints/{name}/rollback"): "deployment.rollback",
    ("POST", "/v1/endpoints/{name}/feedback"): "endpoint.feedback",
    ("POST", "/v1/cost/records"): "cost.import",
    # the validation is the caller's (team-scoped; the monitor's own only on its schedule)
    ("POST", "/v1/endpoints/{name}/monitoring/revalidate"): "model.validate",
    ("POST", "/v1/alerts/{alert_id}/acknowledge"): "alert.acknowledge",
    ("POST", "/v1/alerts/{alert_id}/resolve"): "alert.resolve",
}

#: POST routes that change nothing (dry runs); a test checks that they really do not.
READ_ONLY_ROUTES: set[tuple[str, str]] = {
    ("POST", "/v1/policy/explain"),
    ("POST", "/v1/datasets/{ref}/validate"),
    ("POST", "/v2/models/{name}/infer"),
    ("POST", "/v1/endpoints/{name}/predict"),
    ("POST", "/v2/models/{name}/versions/{version}/infer"),
    # reads the prediction log into window profiles (derived state, like the log itself)
    ("POST", "/v1/endpoints/{name}/monitoring/run"),
    ("POST", "/v1/jobs/estimate"),  # a dry run: what a job would cost, where
}

MAX_UPLOAD = 256 * 1024 * 1024

#: a day in a query: YYYY-MM-DD
Day = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")]

#: Paths served without a token.
_PUBLIC_PATHS = {"/healthz", "/v2", "/v2/health/live", "/v2/health/ready"}


class ErrorBody(BaseModel):
    error: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class Health(BaseModel):
    status: str
    database: bool


class TokenRequest(BaseModel):
    user: str | None = Field(None, max_length=128, description="owner; defaults to the caller")
    name: str = Field("default", min_length=1, max_length=128)
    expires_in_days: int = Field(90, ge=1, le=366)
    endpoint: str | None = Field(
        None, max_length=128, description="scope the token to this endpoint's predictions"
    )


class ExplainRequest(BaseModel):
    as_user: str = Field(min_length=1, max_length=128)
    action: str = Field(min_length=1, max_length=128)
    resource: str = Field(min_length=1, max_length=512)
    site: str | None = Field(None, max_length=64)
    attrs: dict[str, str] = Field(default_factory=dict)


_Format = Annotated[str, Query(pattern="^(csv|parquet|jsonl)$")]


class CopyRequest(BaseModel):
    to_site: str = Field(min_length=1, max_length=64)


class ClassifyRequest(BaseModel):
    set: dict[str, str] = Field(min_length=1)


class DatasetRequestBody(BaseModel):
    """A four-eyes request: ``declassify`` with ``set``, or ``copy`` with ``to_site``."""

    kind: Literal["declassify", "copy"]
    set: dict[str, str] | None = Field(None, min_length=1)
    to_site: str | None = Field(None, min_length=1, max_length=64)
    reason: str = Field("", max_length=2000)


class DecisionBody(BaseModel):
    note: str = Field("", max_length=2000)


class MaskRequest(BaseModel):
    recipe: dict[str, Any] | None = None
    description: str = Field("", max_length=2000)


class DetokeniseRequest(BaseModel):
    column: str = Field(min_length=1, max_length=256)
    tokens: list[str] = Field(min_length=1, max_length=10_000)


class DetokeniseResponse(BaseModel):
    values: list[str]


class ValidateRequest(BaseModel):
    holdout: str | None = Field(
        None, min_length=1, max_length=160, description="default: the applicable holdout"
    )
    suite: str | None = Field(None, max_length=128)


class DecisionRequest(BaseModel):
    note: str = Field("", max_length=4000)


class PromoteRequest(BaseModel):
    stage: str = Field("production", pattern="^(production|retired)$")
    note: str = Field("", max_length=4000)


class DeployRequest(BaseModel):
    model: str = Field(min_length=1, max_length=160)
    site: str | None = Field(None, max_length=64)
    strategy: str = Field("direct", pattern="^(direct|canary|shadow)$")
    percent: int | None = Field(None, ge=1, le=99)


class RollbackRequest(BaseModel):
    to: int | None = Field(None, ge=1)
    allow_same_model: bool = Field(
        False, description="land on a revision that still serves the model rolled away from"
    )


class PredictRequest(BaseModel):
    records: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)
    request_id: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="your id for this request (one is made if absent); feedback names it",
    )


class PredictResponse(BaseModel):
    endpoint: str
    request_id: str
    model: str | None
    revision: int | None
    predictions: list[dict[str, Any]]


class NoteRequest(BaseModel):
    note: str = Field("", max_length=2000)


class FeedbackRequest(BaseModel):
    labels: list[Label] = Field(min_length=1, max_length=10_000)


class V2Error(BaseModel):
    """The Open Inference Protocol's error body."""

    error: str


_V2_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": V2Error} for code in (400, 403, 404, 409)
}


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class V2Health(BaseModel):
    live: bool


class V2Ready(BaseModel):
    ready: bool


class CostImportRequest(BaseModel):
    records: list[CostRecordInfo] = Field(min_length=1, max_length=100_000)


class ImportResult(BaseModel):
    imported: int


class TrainRequest(BaseModel):
    spec: dict[str, Any]
    executor: str | None = Field(None, pattern="^(inline|process|ray)$")


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)
}


def _error(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": code, "message": message, "details": details or {}},
    )


def _utc_iso(name: str, value: datetime | None) -> str | None:
    """``value`` in UTC as ISO text (naive means UTC); 422 if it has no UTC form."""
    if value is None:
        return None
    try:
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat()
    except OverflowError:
        raise ValidationFailed(
            f"{name}: expected a time between the years 1 and 9999 in UTC; "
            f"found {value.isoformat()}",
            parameter=name,
        ) from None


_bearer = HTTPBearer(auto_error=False, description="an API token from 'steward token create'")


_SCOPED = re.compile(
    r"^/v2/models/(?P<e>[^/]+)(/versions/[^/]+)?(/ready|/infer)?$|"
    r"^/v1/endpoints/(?P<e2>[^/]+)/(predict|feedback)$"
)


def _principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    identity: IdentityService = request.app.state.identity
    principal, scope = identity.authenticate_scoped(creds.credentials if creds else None)
    if scope is not None:
        # an endpoint-scoped token: that endpoint's prediction (and feedback) routes only
        m = _SCOPED.match(request.url.path)
        endpoint = (m.group("e") or m.group("e2")) if m else None
        if scope != f"endpoint:{endpoint}":
            raise PolicyDenied(
                principal=principal.name,
                action=f"{request.method} {request.url.path}",
                resource=scope,
                reasons=[
                    Reason(
                        "token-scope",
                        f"this token is scoped to {scope}: it may only call that endpoint's "
                        "prediction routes; use a personal token for anything else",
                    )
                ],
            )
    return principal


Caller = Annotated[Principal, Depends(_principal)]


async def _principal_on_loop(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """:func:`_principal` without a hop to a worker thread: for the prediction routes,
    where the token's row is cached (see IdentityService.CACHE_SECONDS) and the hop costs
    more than the work."""
    return _principal(request, creds)


FastCaller = Annotated[Principal, Depends(_principal_on_loop)]

#: requests with at most this many input values are scored on the event loop
INLINE_VALUES = 4096


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    serving = getattr(app.state, "serving", None)
    if serving is not None:
        serving.close()  # write the buffered prediction log before the process ends


def create_app(rt: Runtime) -> FastAPI:
    """Build the API over one runtime (one Steward home)."""
    app = FastAPI(
        title="Steward",
        version="0.1.0",
        description="Govern what you train: the Steward control-plane API.",
        responses=_ERRORS,
        lifespan=_lifespan,
    )
    app.state.rt = rt

    # /v2 transport: JSON without a content type, and the binary tensor extension
    app.add_middleware(V2Codec)

    identity = IdentityService(rt)
    governance = GovernanceService(rt)
    objects = ObjectService(rt)
    datasets = DatasetService(rt)
    app.state.identity = identity

    @app.exception_handler(StewardError)
    async def _steward_error(_: Request, exc: StewardError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        resp = _error(exc.status, exc.code, exc.message, exc.details)
        if headers:
            resp.headers.update(headers)
        return resp

    async def _unauthenticated(request: Request) -> JSONResponse | None:
        """The 401 for a request without a valid token to a route that needs one.

        FastAPI reads and judges a request's body before it runs the Caller dependency;
        the error handlers ask this first, so such a caller gets 401, never 400 or 422.
        """
        if request.url.path in _PUBLIC_PATHS:
            return None
        creds = await _bearer(request)
        try:
            await run_in_threadpool(identity.authenticate, creds.credentials if creds else None)
        except Unauthenticated as denied:
            return await _steward_error(request, denied)
        return None

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        if (denied := await _unauthenticated(request)) is not None:
            return denied
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "message": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "message": "invalid request"}
        where = ".".join(first["loc"])
        if request.url.path.startswith("/v2/"):
            # the inference protocol's bad request: 400 {"error": "..."}
            return JSONResponse(
                {"error": f"[validation_failed] {where}: {first['message']}"}, status_code=400
            )
        return _error(
            422,
            "validation_failed",
            f"{where}: {first['message']}" if where else str(first["message"]),
            {"errors": errors},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # 404 and 405 come from routing (no route to authenticate for); others, such as
        # an unparseable body, are raised before the Caller dependency runs.
        if exc.status_code not in (404, 405) and (denied := await _unauthenticated(request)):
            return denied
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return _error(500, "internal_error", "internal error; see the server log")

    # -- health ----------------------------------------------------------------------
    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> Health:
        """Liveness and database reachability; the only route without a token."""
        ok = rt.store.ping()
        return Health(status="ok" if ok else "degraded", database=ok)

    # -- identity --------------------------------------------------------------------
    @app.get("/v1/me", response_model=UserInfo, tags=["identity"])
    def me(p: Caller) -> UserInfo:
        return identity.user(p.name)

    @app.get("/v1/users", response_model=list[UserInfo], tags=["identity"])
    def users(p: Caller) -> list[UserInfo]:
        return identity.users(p)

    @app.get("/v1/teams", response_model=list[TeamInfo], tags=["identity"])
    def teams(p: Caller) -> list[TeamInfo]:
        return identity.teams(p)

    @app.post("/v1/tokens", response_model=CreatedToken, status_code=201, tags=["identity"])
    def create_token(p: Caller, body: TokenRequest) -> CreatedToken:
        return identity.create_token(
            p,
            user=body.user,
            name=body.name,
            expires_in_days=body.expires_in_days,
            endpoint=body.endpoint,
        )

    @app.get("/v1/tokens", response_model=list[TokenInfo], tags=["identity"])
    def tokens(
        p: Caller, user: Annotated[str | None, Query(max_length=128)] = None
    ) -> list[TokenInfo]:
        return identity.tokens(p, user=user)

    @app.delete("/v1/tokens/{token_id}", response_model=TokenInfo, tags=["identity"])
    def revoke_token(p: Caller, token_id: str) -> TokenInfo:
        return identity.revoke_token(p, token_id)

    # -- sites -----------------------------------------------------------------------
    @app.get("/v1/sites", response_model=list[SiteInfo], tags=["sites"])
    def sites(p: Caller) -> list[SiteInfo]:
        return governance.sites(p)

    @app.get("/v1/sites/{name}", response_model=SiteInfo, tags=["sites"])
    def site(p: Caller, name: str) -> SiteInfo:
        return governance.site(p, name)

    # -- audit -----------------------------------------------------------------------
    @app.get("/v1/audit/entries", response_model=list[AuditEntryInfo], tags=["audit"])
    def audit_entries(
        p: Caller,
        actor: str | None = None,
        action: Annotated[str | None, Query(description="exact, or a prefix ending in *")] = None,
        resource: str | None = None,
        decision: Annotated[str | None, Query(pattern="^(allow|deny)$")] = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: Annotated[int | None, Query(ge=0, le=2**62)] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> list[AuditEntryInfo]:
        flt = LedgerFilter(
            actor=actor,
            action=action,
            resource=resource,
            decision=decision,
            since=_utc_iso("since", since),
            until=_utc_iso("until", until),
            after_seq=after_seq,
            limit=limit,
        )
        return governance.audit_log(p, flt)

    @app.get("/v1/audit/verify", response_model=VerificationInfo, tags=["audit"])
    def audit_verify(p: Caller) -> VerificationInfo:
        return governance.verify(p)

    @app.post(
        "/v1/audit/checkpoints", response_model=CheckpointInfo, status_code=201, tags=["audit"]
    )
    def audit_checkpoint(p: Caller) -> CheckpointInfo:
        return governance.checkpoint(p)

    @app.get("/v1/audit/checkpoints", response_model=list[CheckpointInfo], tags=["audit"])
    def audit_checkpoints(p: Caller) -> list[CheckpointInfo]:
        return governance.checkpoints(p)

    @app.get(
        "/v1/audit/public-key",
        response_class=PlainTextResponse,
        tags=["audit"],
        responses={200: {"content": {"text/plain": {}}}},
    )
    def audit_public_key(p: Caller) -> str:
        return governance.public_key(p)

    @app.get(
        "/v1/audit/export",
        response_class=StreamingResponse,
        tags=["audit"],
        responses={200: {"content": {"application/x-ndjson": {}}}},
    )
    def audit_export(p: Caller) -> StreamingResponse:
        import io

        buf = io.StringIO()
        governance.export(p, buf)

        def body() -> Iterator[bytes]:
            yield buf.getvalue().encode("utf-8")

        return StreamingResponse(body(), media_type="application/x-ndjson")

    # -- policy ----------------------------------------------------------------------
    @app.post("/v1/policy/explain", response_model=DecisionInfo, tags=["policy"])
    def policy_explain(p: Caller, body: ExplainRequest) -> DecisionInfo:
        """Dry-run a decision; changes nothing (so it is not a governed action)."""
        return governance.explain(
            p,
            as_user=body.as_user,
            action=body.action,
            resource=body.resource,
            site=body.site,
            attrs=body.attrs,
        )

    # -- objects ---------------------------------------------------------------------
    @app.post(
        "/v1/objects",
        response_model=ObjectInfo,
        status_code=201,
        tags=["objects"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        },
    )
    async def put_object(
        p: Caller,
        request: Request,
        site: Annotated[str, Query(min_length=1, max_length=64)],
        jurisdiction: Annotated[str, Query(min_length=2, max_length=8)],
        anonymised: bool = False,
        team: Annotated[str | None, Query(max_length=64)] = None,
        label: Annotated[str, Query(max_length=256)] = "",
    ) -> ObjectInfo:
        data = await request.body()
        if len(data) > MAX_UPLOAD:
            raise ValidationFailed(f"body: expected at most {MAX_UPLOAD} bytes; found {len(data)}")
        return await run_in_threadpool(
            objects.put,
            p,
            data,
            site=site,
            jurisdiction=jurisdiction,
            anonymised=anonymised,
            team=team,
            label=label,
        )

    @app.get("/v1/objects", response_model=list[ObjectInfo], tags=["objects"])
    def list_objects(
        p: Caller, site: Annotated[str | None, Query(max_length=64)] = None
    ) -> list[ObjectInfo]:
        return objects.list(p, site=site)

    @app.get("/v1/objects/{site}/{digest}", response_model=ObjectInfo, tags=["objects"])
    def object_info(p: Caller, site: str, digest: str) -> ObjectInfo:
        return objects.info(p, site, digest)

    @app.get(
        "/v1/objects/{site}/{digest}/content",
        response_class=Response,
        tags=["objects"],
        responses={200: {"content": {"application/octet-stream": {}}}},
    )
    def object_content(p: Caller, site: str, digest: str) -> Response:
        return Response(objects.get(p, site, digest), media_type="application/octet-stream")

    # -- datasets --------------------------------------------------------------------
    octet = {
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    }

    async def _spool(request: Request, suffix: str) -> Path:
        """Stream the request body to a scratch file; a short body is a 422."""
        scratch = rt.home.root / "tmp"
        scratch.mkdir(exist_ok=True)
        fd, name = tempfile.mkstemp(dir=scratch, suffix=suffix)
        size = 0
        try:
            with os.fdopen(fd, "wb") as fh:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > MAX_UPLOAD:
                        raise ValidationFailed(f"body: expected at most {MAX_UPLOAD} bytes")
                    fh.write(chunk)
        except ClientDisconnect:
            Path(name).unlink(missing_ok=True)
            raise ValidationFailed(
                f"body: the upload ended after {size} bytes, before its declared length",
                received=size,
            ) from None
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        claimed = request.headers.get("content-length")
        if claimed is not None and claimed.isdigit() and int(claimed) != size:
            Path(name).unlink(missing_ok=True)
            raise ValidationFailed(
                f"body: Content-Length says {claimed} bytes but {size} arrived (truncated)",
                received=size,
                claimed=int(claimed),
            )
        return Path(name)

    @app.post(
        "/v1/datasets",
        response_model=VersionInfo,
        status_code=201,
        tags=["datasets"],
        openapi_extra=octet,
    )
    async def register_dataset(
        p: Caller,
        request: Request,
        name: Annotated[str, Query(min_length=1, max_length=63)],
        format: _Format,
        site: Annotated[str | None, Query(max_length=64)] = None,
        team: Annotated[str | None, Query(max_length=64)] = None,
        locked: bool = False,
        description: Annotated[str, Query(max_length=2000)] = "",
        allow_schema_change: bool = False,
    ) -> VersionInfo:
        path = await _spool(request, "." + format)
        try:
            return await run_in_threadpool(
                datasets.register,
                p,
                path,
                name=name,
                site=site,
                team=team,
                locked=locked,
                description=description,
                format=format,
                allow_schema_change=allow_schema_change,
            )
        finally:
            path.unlink(missing_ok=True)

    @app.get("/v1/datasets", response_model=list[VersionInfo], tags=["datasets"])
    def list_datasets(p: Caller) -> list[VersionInfo]:
        return datasets.versions(p)

    @app.get(
        "/v1/datasets/{ref}",
        response_model=DatasetDetail,
        tags=["datasets"],
        response_model_by_alias=True,
    )
    def show_dataset(p: Caller, ref: str) -> DatasetDetail:
        return datasets.show(p, ref)

    @app.get("/v1/datasets/{ref}/lineage", response_model=LineageNode, tags=["datasets"])
    def dataset_lineage(p: Caller, ref: str) -> LineageNode:
        return datasets.lineage(p, ref)

    @app.get(
        "/v1/datasets/{ref}/data",
        response_class=Response,
        tags=["datasets"],
        responses={200: {"content": {"application/vnd.apache.parquet": {}}}},
    )
    def read_dataset(
        p: Caller, ref: str, site: Annotated[str | None, Query(max_length=64)] = None
    ) -> Response:
        import io as _io

        import pyarrow.parquet as pq

        table = datasets.read(p, ref, site=site)
        buf = _io.BytesIO()
        pq.write_table(table, buf)
        return Response(buf.getvalue(), media_type="application/vnd.apache.parquet")

    @app.post(
        "/v1/datasets/{ref}/copies", response_model=CopyInfo, status_code=201, tags=["datasets"]
    )
    def copy_dataset(p: Caller, ref: str, body: CopyRequest) -> CopyInfo:
        return datasets.copy(p, ref, to_site=body.to_site)

    @app.post(
        "/v1/datasets/{ref}/classification", response_model=list[ColumnClass], tags=["datasets"]
    )
    def classify_dataset(p: Caller, ref: str, body: ClassifyRequest) -> list[ColumnClass]:
        return datasets.set_classification(p, ref, body.set)

    @app.post(
        "/v1/datasets/{ref}/masks", response_model=MaskResult, status_code=201, tags=["datasets"]
    )
    def mask_dataset(p: Caller, ref: str, body: MaskRequest) -> MaskResult:
        recipe = parse_recipe(body.recipe) if body.recipe is not None else None
        return datasets.mask(p, ref, recipe=recipe, description=body.description)

    @app.post(
        "/v1/datasets/{ref}/requests",
        response_model=RequestInfo,
        status_code=201,
        tags=["datasets"],
    )
    def request_on_dataset(p: Caller, ref: str, body: DatasetRequestBody) -> RequestInfo:
        if body.kind == "declassify":
            if not body.set:
                raise ValidationFailed(
                    "set: a declassify request needs {column: class}", parameter="set"
                )
            return datasets.request_declassification(p, ref, body.set, reason=body.reason)
        if not body.to_site:
            raise ValidationFailed("to_site: a copy request needs a site", parameter="to_site")
        return datasets.request_copy(p, ref, to_site=body.to_site, reason=body.reason)

    @app.get("/v1/dataset-requests", response_model=list[RequestInfo], tags=["datasets"])
    def list_dataset_requests(
        p: Caller,
        state: Literal["pending", "approved", "rejected", "used"] | None = None,
    ) -> list[RequestInfo]:
        return datasets.requests(p, state=state)

    @app.post(
        "/v1/dataset-requests/{request_id}/approve", response_model=RequestInfo, tags=["datasets"]
    )
    def approve_dataset_request(p: Caller, request_id: str, body: DecisionBody) -> RequestInfo:
        return datasets.decide_request(p, request_id, approve=True, note=body.note)

    @app.post(
        "/v1/dataset-requests/{request_id}/reject", response_model=RequestInfo, tags=["datasets"]
    )
    def reject_dataset_request(p: Caller, request_id: str, body: DecisionBody) -> RequestInfo:
        return datasets.decide_request(p, request_id, approve=False, note=body.note)

    @app.post("/v1/datasets/{ref}/detokenise", response_model=DetokeniseResponse, tags=["datasets"])
    def detokenise_dataset(p: Caller, ref: str, body: DetokeniseRequest) -> DetokeniseResponse:
        return DetokeniseResponse(values=datasets.detokenise(p, ref, body.column, body.tokens))

    @app.post(
        "/v1/datasets/{ref}/validate",
        response_model=ValidationReport,
        tags=["datasets"],
        openapi_extra=octet,
    )
    async def validate_dataset(
        p: Caller, ref: str, request: Request, format: _Format
    ) -> ValidationReport:
        path = await _spool(request, "." + format)
        try:
            return await run_in_threadpool(datasets.validate, p, ref, path)
        finally:
            path.unlink(missing_ok=True)

    # -- training and models -------------------------------------------------------------
    training = TrainingService(rt)
    registry = ModelService(rt)

    @app.post("/v1/jobs/estimate", response_model=TrainEstimate, tags=["cost"])
    def estimate_job(p: Caller, body: TrainRequest) -> TrainEstimate:
        """What a training job would cost at each site, where it would go, and the team's
        budget after it (``steward train --dry-run``): nothing is queued."""
        return training.estimate(p, body.spec)

    @app.post("/v1/jobs", response_model=JobInfo, status_code=201, tags=["training"])
    def submit_job(p: Caller, body: TrainRequest) -> JobInfo:
        """Queue a training job; a worker (``steward worker`` or the server's) runs it."""
        return training.submit(p, body.spec, executor=body.executor)

    @app.get("/v1/jobs", response_model=list[JobInfo], tags=["training"])
    def list_jobs(
        p: Caller,
        state: Annotated[
            str | None, Query(pattern="^(queued|running|succeeded|failed|cancelled)$")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[JobInfo]:
        return training.jobs(p, state=state, limit=limit)

    @app.get("/v1/jobs/{job_id}", response_model=JobInfo, tags=["training"])
    def show_job(p: Caller, job_id: str) -> JobInfo:
        return training.job(p, job_id)

    @app.get("/v1/jobs/{job_id}/logs", response_model=list[JobLogLine], tags=["training"])
    def job_logs(
        p: Caller, job_id: str, after: Annotated[int, Query(ge=0)] = 0
    ) -> list[JobLogLine]:
        return training.logs(p, job_id, after=after)

    @app.post("/v1/jobs/{job_id}/cancel", response_model=JobInfo, tags=["training"])
    def cancel_job(p: Caller, job_id: str) -> JobInfo:
        return training.cancel(p, job_id)

    @app.get("/v1/models", response_model=list[ModelVersionInfo], tags=["models"])
    def list_models(
        p: Caller, stage: Annotated[str | None, Query(max_length=16)] = None
    ) -> list[ModelVersionInfo]:
        return registry.versions(p, stage=stage)

    @app.get("/v1/models-compare", response_model=ModelComparison, tags=["models"])
    def compare_models(
        p: Caller,
        a: Annotated[str, Query(min_length=1, max_length=160)],
        b: Annotated[str, Query(min_length=1, max_length=160)],
    ) -> ModelComparison:
        return registry.compare(p, a, b)

    @app.get("/v1/models/{ref}", response_model=ModelDetail, tags=["models"])
    def show_model(p: Caller, ref: str) -> ModelDetail:
        return registry.show(p, ref)

    @app.get(
        "/v1/models/{ref}/onnx",
        response_class=Response,
        tags=["models"],
        responses={200: {"content": {"application/octet-stream": {}}}},
    )
    def model_onnx(p: Caller, ref: str) -> Response:
        return Response(registry.onnx(p, ref), media_type="application/octet-stream")

    @app.post(
        "/v1/models/import",
        response_model=ModelVersionInfo,
        status_code=201,
        tags=["models"],
        openapi_extra=octet,
    )
    async def import_model(
        p: Caller, request: Request, meta: Annotated[str, Query(max_length=100_000)]
    ) -> ModelVersionInfo:
        import json

        try:
            fields = json.loads(meta)
        except json.JSONDecodeError as e:
            raise ValidationFailed(f"meta: expected a JSON object; {e.msg} at {e.pos}") from None
        if not isinstance(fields, dict) or not isinstance(fields.get("name"), str):
            raise ValidationFailed("meta: expected a JSON object with at least name and objective")
        allowed = {
            "name",
            "objective",
            "team",
            "site",
            "schema",
            "lineage",
            "jurisdiction",
            "anonymised",
            "metrics",
            "intended_use",
        }
        unknown = sorted(set(fields) - allowed)
        if unknown:
            raise ValidationFailed(
                f"meta: unknown fields {', '.join(unknown)}", allowed=sorted(allowed)
            )
        if "objective" not in fields:
            raise ValidationFailed("meta: objective is required (binary, multiclass or regression)")
        path = await _spool(request, ".onnx")
        try:
            return await run_in_threadpool(registry.import_onnx, p, path, **fields)
        finally:
            path.unlink(missing_ok=True)

    gates = GateService(rt)

    @app.post(
        "/v1/models/{ref}/validations",
        response_model=ValidationInfo,
        status_code=201,
        tags=["gates"],
    )
    def validate_model(p: Caller, ref: str, body: ValidateRequest) -> ValidationInfo:
        return gates.validate(p, ref, body.holdout, suite=body.suite)

    @app.get("/v1/models/{ref}/validations", response_model=list[ValidationInfo], tags=["gates"])
    def list_validations(p: Caller, ref: str) -> list[ValidationInfo]:
        return gates.validations(p, ref)

    @app.post("/v1/models/{ref}/approvals", response_model=StageInfo, tags=["gates"])
    def approve_model(p: Caller, ref: str, body: DecisionRequest) -> StageInfo:
        return gates.decide(p, ref, approve=True, note=body.note)

    @app.post("/v1/models/{ref}/rejections", response_model=StageInfo, tags=["gates"])
    def reject_model(p: Caller, ref: str, body: DecisionRequest) -> StageInfo:
        return gates.decide(p, ref, approve=False, note=body.note)

    @app.post("/v1/models/{ref}/promotions", response_model=StageInfo, tags=["gates"])
    def promote_model(p: Caller, ref: str, body: PromoteRequest) -> StageInfo:
        return gates.promote(p, ref, stage=body.stage, note=body.note)

    @app.get("/v1/models/{ref}/stage", response_model=StageInfo, tags=["gates"])
    def model_stage(p: Caller, ref: str) -> StageInfo:
        return gates.stage_info(p, ref)

    # -- declarations of imported models (a data steward decides; not the importer) -------
    declarations = DeclarationService(rt)

    @app.get("/v1/declarations", response_model=list[DeclarationInfo], tags=["models"])
    def list_declarations(
        p: Caller,
        state: Annotated[str | None, Query(max_length=16)] = None,
        model: Annotated[str | None, Query(max_length=160)] = None,
    ) -> list[DeclarationInfo]:
        return declarations.declarations(p, state=state, model=model)

    @app.post(
        "/v1/declarations/{decl_id}/approval", response_model=DeclarationInfo, tags=["models"]
    )
    def approve_declaration(p: Caller, decl_id: str, body: DecisionRequest) -> DeclarationInfo:
        return declarations.decide(p, decl_id, approve=True, note=body.note)

    @app.post(
        "/v1/declarations/{decl_id}/rejection", response_model=DeclarationInfo, tags=["models"]
    )
    def reject_declaration(p: Caller, decl_id: str, body: DecisionRequest) -> DeclarationInfo:
        return declarations.decide(p, decl_id, approve=False, note=body.note)

    deploy = DeployService(rt)

    @app.post(
        "/v1/endpoints/{name}/revisions",
        response_model=EndpointInfo,
        status_code=201,
        tags=["deployments"],
    )
    def deploy_model(p: Caller, name: str, body: DeployRequest) -> EndpointInfo:
        return deploy.deploy(
            p,
            body.model,
            endpoint=name,
            site=body.site,
            strategy=body.strategy,  # type: ignore[arg-type]
            percent=body.percent,
        )

    @app.post("/v1/endpoints/{name}/promote", response_model=EndpointInfo, tags=["deployments"])
    def promote_endpoint(p: Caller, name: str) -> EndpointInfo:
        return deploy.promote(p, name)

    @app.post("/v1/endpoints/{name}/rollback", response_model=EndpointInfo, tags=["deployments"])
    def rollback_endpoint(p: Caller, name: str, body: RollbackRequest) -> EndpointInfo:
        return deploy.rollback(p, name, to=body.to, allow_same_model=body.allow_same_model)

    @app.get("/v1/endpoints", response_model=list[EndpointInfo], tags=["deployments"])
    def list_endpoints(p: Caller) -> list[EndpointInfo]:
        return deploy.endpoints(p)

    @app.get("/v1/endpoints/{name}", response_model=EndpointInfo, tags=["deployments"])
    def show_endpoint(p: Caller, name: str) -> EndpointInfo:
        return deploy.endpoint(p, name)

    # -- Open Inference Protocol v2 -------------------------------------------------------
    serving = ServingService(rt, refresh=float(os.environ.get("STEWARD_SERVING_REFRESH", "1")))
    app.state.serving = serving

    def _v2(fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Errors in the protocol's shape: {"error": "..."}."""
        try:
            return fn(*args, **kwargs)
        except StewardError as exc:
            status = 400 if exc.status == 422 else exc.status  # the protocol's bad request
            return JSONResponse({"error": f"[{exc.code}] {exc.message}"}, status_code=status)

    async def _scored(values: int, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Small requests are scored on the event loop (their work is a few hundred
        microseconds once the caller's token and permission are cached; a hop to a thread
        would cost more); large ones in a worker thread, where ONNX Runtime runs without
        the GIL and other requests go on."""
        if values <= INLINE_VALUES:
            return fn(*args, **kwargs)
        return await run_in_threadpool(fn, *args, **kwargs)

    # The inference routes return bytes already serialised from the answer's model: the
    # response_model documents them, and FastAPI does not validate the answer a second time.
    @app.post("/v1/endpoints/{name}/predict", response_model=PredictResponse, tags=["inference"])
    async def predict_records(
        p: FastCaller, name: str, body: PredictRequest, request: Request
    ) -> Response:
        """JSON records in, predictions out (the same model and checks as v2 infer)."""
        key = request.headers.get("x-steward-key")
        out = await _scored(
            sum(len(r) for r in body.records),
            serving.measured,
            name,
            serving.predict_records,
            p,
            name,
            body.records,
            key=key,
            request_id=body.request_id,
        )
        return Response(PredictResponse(**out).model_dump_json(), media_type="application/json")

    @app.post("/v1/endpoints/{name}/feedback", response_model=FeedbackResult, tags=["inference"])
    def feedback(p: Caller, name: str, body: FeedbackRequest) -> FeedbackResult:
        """Ground-truth labels for earlier predictions, by the request ids their answers
        carried (all or nothing; monitoring compares them with the predictions)."""
        return serving.feedback(p, name, body.labels)

    monitoring = MonitoringService(rt)

    @app.post(
        "/v1/endpoints/{name}/monitoring/run",
        response_model=list[WindowReport],
        tags=["monitoring"],
    )
    def monitor_run(p: Caller, name: str) -> list[WindowReport]:
        """Read the prediction log into the endpoint's windows; test the latest ones."""
        return monitoring.run(p, name)

    @app.get(
        "/v1/endpoints/{name}/monitoring/report", response_model=WindowReport, tags=["monitoring"]
    )
    def monitor_report(
        p: Caller,
        name: str,
        window: Annotated[str | None, Query(description="60m, 1h, 1d")] = None,
        start: datetime | None = None,
        model: str | None = None,
    ) -> WindowReport:
        """One window's drift report (default: the latest of the shortest length)."""
        if start is not None:
            _utc_iso("start", start)
            start = start if start.tzinfo else start.replace(tzinfo=UTC)
        return monitoring.report(
            p,
            name,
            minutes=parse_window(window) if window else None,
            start=start,
            model=model,
        )

    @app.post(
        "/v1/endpoints/{name}/monitoring/revalidate",
        response_model=RevalidationResult,
        tags=["monitoring"],
    )
    def monitor_revalidate(p: Caller, name: str) -> RevalidationResult:
        """Re-run the endpoint's model through its gate suite now, on the latest version of
        its holdout and on recently labelled traffic. The validation is the caller's
        (``model.validate``, team-scoped), in the ledger with them as the actor."""
        return RevalidationService(rt).run(p, name)

    @app.get(
        "/v1/endpoints/{name}/monitoring/windows",
        response_model=list[WindowInfo],
        tags=["monitoring"],
    )
    def monitor_windows(p: Caller, name: str) -> list[WindowInfo]:
        return monitoring.windows(p, name)

    alerting = AlertService(rt)

    @app.get("/v1/alerts", response_model=list[AlertInfo], tags=["monitoring"])
    def list_alerts(
        p: Caller,
        endpoint: str | None = None,
        state: Annotated[str | None, Query(pattern="^(open|acknowledged|resolved)$")] = None,
        team: str | None = None,
    ) -> list[AlertInfo]:
        return alerting.alerts(p, endpoint=endpoint, state=state, team=team)

    @app.get("/v1/alerts/{alert_id}", response_model=AlertDetail, tags=["monitoring"])
    def show_alert(p: Caller, alert_id: int) -> AlertDetail:
        return alerting.alert(p, alert_id)

    costs = CostService(rt)

    @app.get("/v1/cost/report", response_model=CostReport, tags=["cost"])
    def cost_report(
        p: Caller,
        by: Annotated[list[str] | None, Query()] = None,
        team: str | None = None,
        site: str | None = None,
        kind: str | None = None,
        endpoint: str | None = None,
        since: Day = None,
        until: Day = None,
    ) -> CostReport:
        """Spend in [since, until) (default: this month so far), grouped ``by`` (repeat
        it: team, site, kind, resource, model, endpoint, action, day, month)."""
        return costs.report(
            p, by=by, team=team, site=site, kind=kind, endpoint=endpoint, since=since, until=until
        )

    @app.get("/v1/cost/records", response_model=list[CostRecordInfo], tags=["cost"])
    def cost_records(
        p: Caller, team: str | None = None, since: Day = None, until: Day = None
    ) -> list[CostRecordInfo]:
        """The cost records, oldest first (at most 10,000)."""
        return costs.records(p, team=team, since=since, until=until)

    @app.post("/v1/cost/records", response_model=ImportResult, status_code=201, tags=["cost"])
    def cost_import(p: Caller, body: CostImportRequest) -> ImportResult:
        """Bring in spend metered elsewhere (admins): all records or none."""
        return ImportResult(imported=costs.import_records(p, body.records))

    @app.get("/v1/cost/egress", response_model=list[EgressRow], tags=["cost"])
    def cost_egress(
        p: Caller, team: str | None = None, since: Day = None, until: Day = None
    ) -> list[EgressRow]:
        return costs.egress(p, team=team, since=since, until=until)

    @app.get("/v1/cost/exit", response_model=ExitEstimate, tags=["cost"])
    def cost_exit(
        p: Caller,
        from_: Annotated[str, Query(alias="from")],
        to: str,
        to_region: str | None = None,
        team: str | None = None,
    ) -> ExitEstimate:
        """What leaving provider ``from`` for ``to`` would cost: egress once, per month."""
        return costs.exit(p, from_provider=from_, to_provider=to, to_region=to_region, team=team)

    @app.get("/v1/cost/forecast", response_model=CostForecast, tags=["cost"])
    def cost_forecast(
        p: Caller, team: str | None = None, endpoint: str | None = None
    ) -> CostForecast:
        return costs.forecast(p, team=team, endpoint=endpoint)

    @app.get("/v1/cost/anomalies", response_model=list[AnomalyInfo], tags=["cost"])
    def cost_anomalies(
        p: Caller,
        team: str | None = None,
        endpoint: str | None = None,
        days: Annotated[int, Query(ge=7, le=3660)] = 90,
    ) -> list[AnomalyInfo]:
        return costs.anomalies(p, team=team, endpoint=endpoint, days=days)

    @app.get("/v1/models/{ref}/serving-estimate", response_model=ServingEstimate, tags=["cost"])
    def serving_estimate(
        p: Caller, ref: str, rate: Annotated[float, Query(ge=0, le=1e7)]
    ) -> ServingEstimate:
        """A month of serving the model at ``rate`` requests per second, at each site."""
        return costs.serving_estimate(p, ref, requests_per_second=rate)

    @app.post("/v1/alerts/{alert_id}/acknowledge", response_model=AlertInfo, tags=["monitoring"])
    def acknowledge_alert(p: Caller, alert_id: int, body: NoteRequest) -> AlertInfo:
        return alerting.acknowledge(p, alert_id, body.note)

    @app.post("/v1/alerts/{alert_id}/resolve", response_model=AlertInfo, tags=["monitoring"])
    def resolve_alert(p: Caller, alert_id: int, body: NoteRequest) -> AlertInfo:
        return alerting.resolve(p, alert_id, body.note)

    @app.get("/v1/endpoints/{name}/status", response_model=EndpointStatus, tags=["inference"])
    def endpoint_status(p: Caller, name: str) -> EndpointStatus:
        """Latency p50/p95/p99 of this server's last requests against the budget."""
        return serving.status(p, name)

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        tags=["inference"],
        responses={200: {"content": {"text/plain": {}}}},
    )
    def metrics(p: Caller) -> PlainTextResponse:
        """Prometheus text format: latency histograms and request counts per endpoint."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        rt.door.check(p, Action("system.read", Resource("System", "metrics")))
        return PlainTextResponse(generate_latest(serving.metrics), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v2", response_model=ServerMetadata, tags=["inference"])
    def v2_server() -> ServerMetadata:
        return ServerMetadata(name="steward", version="0.1.0", extensions=[])

    @app.get("/v2/health/live", response_model=V2Health, tags=["inference"])
    def v2_live() -> V2Health:
        return V2Health(live=True)

    @app.get("/v2/health/ready", response_model=V2Ready, tags=["inference"])
    def v2_ready() -> V2Ready:
        return V2Ready(ready=rt.store.ping())

    @app.get(
        "/v2/models/{name}",
        response_model=ModelMetadata,
        tags=["inference"],
        responses=_V2_ERRORS,
    )
    def v2_metadata(p: Caller, name: str) -> Any:
        return _v2(serving.metadata, p, name)

    @app.get(
        "/v2/models/{name}/versions/{version}",
        response_model=ModelMetadata,
        tags=["inference"],
        responses=_V2_ERRORS,
    )
    def v2_metadata_version(p: Caller, name: str, version: str) -> Any:
        return _v2(serving.metadata, p, name, version)

    @app.get(
        "/v2/models/{name}/ready", response_model=V2Ready, tags=["inference"], responses=_V2_ERRORS
    )
    def v2_model_ready(p: Caller, name: str) -> Any:
        return _v2(lambda: V2Ready(ready=bool(serving.metadata(p, name))))

    @app.get(
        "/v2/models/{name}/versions/{version}/ready",
        response_model=V2Ready,
        tags=["inference"],
        responses=_V2_ERRORS,
    )
    def v2_model_version_ready(p: Caller, name: str, version: str) -> Any:
        return _v2(lambda: V2Ready(ready=bool(serving.metadata(p, name, version))))

    def _infer_bytes(
        p: Principal, name: str, body: InferRequest, version: str | None, key: str | None
    ) -> Response:
        res = _v2(serving.measured, name, serving.infer, p, name, body, version=version, key=key)
        if isinstance(res, Response):
            return res
        return Response(res.model_dump_json(), media_type="application/json")

    _INFER = {"response_model": InferResponse, "responses": _V2_ERRORS, "tags": ["inference"]}

    @app.post("/v2/models/{name}/infer", **_INFER)  # type: ignore[arg-type]
    async def v2_infer(p: FastCaller, name: str, body: InferRequest, request: Request) -> Response:
        key = request.headers.get("x-steward-key")
        values = sum(len(i.data) for i in body.inputs)
        return await _scored(values, _infer_bytes, p, name, body, None, key)  # type: ignore[no-any-return]

    @app.post("/v2/models/{name}/versions/{version}/infer", **_INFER)  # type: ignore[arg-type]
    async def v2_infer_version(
        p: FastCaller, name: str, version: str, body: InferRequest, request: Request
    ) -> Response:
        key = request.headers.get("x-steward-key")
        values = sum(len(i.data) for i in body.inputs)
        return await _scored(values, _infer_bytes, p, name, body, version, key)  # type: ignore[no-any-return]

    # the dashboard: HTML pages and buttons over the same services (and so the same policy
    # and ledger) as the routes above; not part of the API's OpenAPI document
    app.include_router(create_router(rt, identity, serving), include_in_schema=False)

    # inference routes first: they are matched on every prediction
    app.router.routes.sort(key=lambda r: not getattr(r, "path", "").startswith("/v2/models/"))
    return app
