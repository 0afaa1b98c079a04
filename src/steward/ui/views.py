"""The dashboard's routes: pages over the same services, with the same policy, as the API.

Every page reads through the services with the signed-in user as the principal, so the
Cedar policy decides what each person sees; every button is one governed action through
the same service method the API route calls (the ledger records it). A denial is shown
on the page with the policy's reasons; unknown or malformed ids get the 404 page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from steward.audit import LedgerFilter
from steward.cost import CostService
from steward.datasets import DatasetService
from steward.datasets.mask import derive_key
from steward.deploy import DeployService
from steward.errors import (
    NotFound,
    PolicyDenied,
    Reason,
    StewardError,
    Unauthenticated,
    ValidationFailed,
)
from steward.gates import GateService
from steward.governance import GovernanceService
from steward.identity import IdentityService
from steward.kernels.drift import P_VALUE_METHODS
from steward.monitoring import AlertService, MonitoringService
from steward.policy import Principal
from steward.registry import ModelService, render_markdown
from steward.runtime import Runtime
from steward.serving import ServingService
from steward.ui.charts import (
    distribution_figure,
    distribution_labels,
    fairness_figure,
    latency_figure,
    profile_figure,
    spend_figure,
)
from steward.ui.lineage import KINDS, dataset_graph, model_graph
from steward.ui.session import COOKIE, SessionSealer

__all__ = ["BASIC_PLOTLY", "UI_POST_ROUTES", "create_router", "plotly_js"]

#: The dashboard's buttons: each is exactly one governed action of the service the API
#: route of the same action calls (tests/ui checks that each leaves its ledger entry).
#: Login and logout change no state: they set or clear the browser's cookie.
UI_POST_ROUTES: dict[tuple[str, str], str | None] = {
    ("POST", "/ui/login"): None,
    ("POST", "/ui/logout"): None,
    ("POST", "/ui/models/{ref}/approve"): "model.approve",
    ("POST", "/ui/models/{ref}/reject"): "model.reject",
    ("POST", "/ui/endpoints/{name}/rollback"): "deployment.rollback",
    ("POST", "/ui/endpoints/{name}/promote"): "deployment.promote",
    ("POST", "/ui/alerts/{alert_id}/acknowledge"): "alert.acknowledge",
    ("POST", "/ui/alerts/{alert_id}/resolve"): "alert.resolve",
}

#: stages in the order the models page lists them (awaiting approval first)
STAGES = ("validated", "approved", "production", "failed", "candidate", "rejected", "retired")

#: column classification categories, as a person reads them
CATEGORY_LABELS = {
    "direct": "identifier",
    "quasi": "quasi-identifier",
    "special": "special category",
    "free_text": "free text",
    "none": "not personal",
}

_DONE = {
    "approved": "Approval recorded.",
    "rejected": "Rejection recorded.",
    "rolledback": "Endpoint rolled back.",
    "promoted": "Candidate promoted: it is now the endpoint's only model.",
    "acknowledged": "Alert acknowledged.",
    "resolved": "Alert resolved.",
}

_MAX_FORM = 64 * 1024


#: plotly.js's basic bundle (scatter, bar, pie: every chart here), from the npm registry
#: by ``make charts`` (src/steward/ui/js/package-lock.json)
BASIC_PLOTLY = (
    Path(__file__).parent
    / "js"
    / "node_modules"
    / "plotly.js-basic-dist-min"
    / "plotly-basic.min.js"
)


def plotly_js() -> Path:
    """The plotly.js the dashboard serves: the basic bundle (1.2 MB) when ``make charts``
    installed it, else the full bundle (4.6 MB) inside the plotly Python package."""
    if BASIC_PLOTLY.is_file():
        return BASIC_PLOTLY
    spec = find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the plotly package is not installed (pip install plotly)")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"


@dataclass
class Soft:
    """A section's value, or the error that kept it from the page (shown in its place)."""

    value: Any = None
    error: StewardError | None = None


@dataclass
class Health:
    """An endpoint's latency against its budget: from the server's own recent requests,
    or (after a restart, before new traffic) from the newest requests in the log."""

    p50_ms: float | None
    p99_ms: float | None
    budget_ms: float
    requests: int
    source: str

    @property
    def within_budget(self) -> bool | None:
        return None if self.p99_ms is None else self.p99_ms <= self.budget_ms


def soft(fn: Callable[[], Any]) -> Soft:
    try:
        return Soft(fn())
    except StewardError as exc:
        return Soft(None, exc)


def _parse_day(name: str, value: str | None) -> str | None:
    if not value:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            f"{name}: expected a date such as 2026-01-31; found {value!r}", parameter=name
        ) from None
    return (d.astimezone(UTC) if d.tzinfo else d).isoformat()


class Dashboard:
    """The dashboard over one runtime; ``identity`` and ``serving`` are the API's own."""

    def __init__(self, rt: Runtime, identity: IdentityService, serving: ServingService) -> None:
        self.rt = rt
        self.identity = identity
        self.serving = serving
        self.sealer = SessionSealer(derive_key(rt.home.master_key(), "ui-session"))
        self.governance = GovernanceService(rt)
        self.datasets = DatasetService(rt)
        self.models = ModelService(rt)
        self.gates = GateService(rt)
        self.deploy = DeployService(rt)
        self.monitoring = MonitoringService(rt)
        self.alerting = AlertService(rt)
        self.costs = CostService(rt)
        self.env = Environment(
            loader=PackageLoader("steward.ui", "templates"),
            autoescape=select_autoescape(default=True),
        )
        self.env.globals["category_label"] = lambda c: CATEGORY_LABELS.get(c, c)
        self.env.globals["kinds"] = KINDS
        self.env.globals["drift_measure"] = drift_measure
        self.env.filters["q"] = lambda s: quote(str(s), safe="@")
        self.env.filters["num"] = _num

    # -- sessions and rendering -------------------------------------------------------
    def caller(self, request: Request) -> tuple[Principal, str] | None:
        value = request.cookies.get(COOKIE)
        token = self.sealer.open(value)
        if token is None or value is None:
            return None
        try:
            principal, scope = self.identity.authenticate_scoped(token)
        except Unauthenticated:
            return None
        if scope is not None:
            return None
        return principal, value

    def to_login(self, request: Request) -> Response:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        resp = RedirectResponse(f"/ui/login?next={quote(target)}", status_code=303)
        if COOKIE in request.cookies:
            resp.delete_cookie(COOKIE, path="/ui")
        return resp

    def render(
        self,
        request: Request,
        template: str,
        ctx: dict[str, Any],
        *,
        who: tuple[Principal, str] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        started = request.scope.get("steward.ui.started", time.perf_counter())
        page = self.env.get_template(template).render(
            user=who[0].name if who else None,
            csrf=self.sealer.csrf(who[1]) if who else "",
            path=request.url.path,
            **ctx,
        )
        resp = HTMLResponse(page, status_code=status)
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return resp

    def error_page(
        self, request: Request, exc: StewardError, who: tuple[Principal, str] | None
    ) -> HTMLResponse:
        status = 404 if isinstance(exc, NotFound | ValidationFailed) else exc.status
        title = {404: "Not found", 403: "Not allowed"}.get(status, "Something went wrong")
        return self.render(
            request,
            "error.html",
            {"title": title, "error": exc, "status": status},
            who=who,
            status=status,
        )

    def page(
        self, request: Request, build: Callable[[Principal], tuple[str, dict[str, Any]]]
    ) -> Response:
        request.scope["steward.ui.started"] = time.perf_counter()
        who = self.caller(request)
        if who is None:
            return self.to_login(request)
        try:
            template, ctx = build(who[0])
        except StewardError as exc:
            return self.error_page(request, exc, who)
        done = request.query_params.get("done")
        ctx.setdefault("done", _DONE.get(done or ""))
        return self.render(request, template, ctx, who=who)

    async def action(
        self,
        request: Request,
        do: Callable[[Principal, dict[str, str]], str],
        on_denied: Callable[[Principal], tuple[str, dict[str, Any]]],
    ) -> Response:
        """A button: check the session and the form token, run ``do`` (one governed
        action) and redirect to the URL it returns; a denial re-renders the page with
        the policy's reasons (403)."""
        who = self.caller(request)
        if who is None:
            return self.to_login(request)
        form = await _form(request)
        if not self.sealer.csrf_ok(who[1], form.get("csrf", "")):
            exc = PolicyDenied(
                principal=who[0].name,
                action=f"POST {request.url.path}",
                resource="dashboard",
                reasons=[
                    Reason(
                        "form-token",
                        "the form was not sent from a page of this session; reload the page "
                        "and press the button again",
                    )
                ],
            )
            return self.error_page(request, exc, who)
        try:
            target = await run_in_threadpool(do, who[0], form)
        except PolicyDenied as exc:
            try:
                template, ctx = await run_in_threadpool(on_denied, who[0])
            except StewardError as inner:
                return self.error_page(request, inner, who)
            ctx["denied"] = exc
            return self.render(request, template, ctx, who=who, status=403)
        except StewardError as exc:
            if isinstance(exc, NotFound):
                return self.error_page(request, exc, who)
            try:
                template, ctx = await run_in_threadpool(on_denied, who[0])
            except StewardError as inner:
                return self.error_page(request, inner, who)
            ctx["denied"] = exc
            return self.render(request, template, ctx, who=who, status=exc.status)
        return RedirectResponse(target, status_code=303)

    # -- pages ------------------------------------------------------------------------
    def health(self, p: Principal, name: str) -> Health:
        st = self.serving.status(p, name)
        if st.window:
            return Health(
                st.p50_ms, st.p99_ms, st.budget_ms, st.window, f"last {st.window:,} requests"
            )
        logged = self.serving.logged_latency(p, name, last=1_000, points=1)
        if not logged:
            return Health(None, None, st.budget_ms, 0, "no requests yet")
        x = logged[0]
        return Health(
            x.p50_ms, x.p99_ms, st.budget_ms, x.rows, f"newest {x.rows:,} requests in the log"
        )

    def overview(self, p: Principal) -> tuple[str, dict[str, Any]]:
        endpoints = soft(lambda: self.deploy.endpoints(p))
        health = []
        for e in endpoints.value or []:
            health.append((e, soft(partial(self.health, p, e.name))))
        return "overview.html", {
            "alerts": soft(lambda: self.alerting.alerts(p, state="open")),
            "endpoints": endpoints,
            "health": health,
            "awaiting": soft(lambda: self.models.versions(p, stage="validated")),
            "spend": soft(lambda: self._team_spend(p)),
            "verify": soft(lambda: self.governance.verify(p)),
        }

    def _team_spend(self, p: Principal) -> dict[str, Any]:
        report = self.costs.report(p, by=["team"])
        spent = {str(r.key.get("team") or "(no team)"): r.amount for r in report.rows}
        rows = []
        for name in sorted(set(self.rt.config.teams) | set(spent)):
            cfg = self.rt.config.teams.get(name)
            budget = cfg.budget if cfg is not None else None
            amount = spent.get(name, 0.0)
            share = amount / budget.monthly_usd if budget and budget.monthly_usd else None
            if budget is None:
                verdict = "no budget"
            elif share is not None and share >= 1:
                verdict = "over budget"
            elif share is not None and share >= budget.soft_share:
                verdict = "near budget"
            else:
                verdict = "within budget"
            rows.append(
                {
                    "team": name,
                    "spent": amount,
                    "budget": budget.monthly_usd if budget else None,
                    "share": share,
                    "verdict": verdict,
                }
            )
        return {"report": report, "rows": rows}

    def dataset_list(self, p: Principal) -> tuple[str, dict[str, Any]]:
        return "datasets.html", {"versions": self.datasets.versions(p)}

    def dataset(self, p: Principal, ref: str) -> tuple[str, dict[str, Any]]:
        detail = self.datasets.show(p, ref)
        classes = {c.column: c for c in detail.classification}
        cols = (detail.profile or {}).get("columns", {})
        # personal columns' values stay off the page: their distributions too
        shown = [
            (c.name, cols[c.name])
            for c in detail.schema_
            if c.name in cols
            and (classes.get(c.name) is None or classes[c.name].category == "none")
            and ((cols[c.name].get("histogram") or {}).get("counts") or cols[c.name].get("top"))
        ]
        lineage = soft(lambda: self.datasets.lineage(p, ref))
        graph = None
        if lineage.value is not None:
            models = soft(lambda: self.models.versions(p)).value or []
            endpoints = soft(lambda: self.deploy.endpoints(p)).value or []
            graph = dataset_graph(lineage.value, models, endpoints)
        return "dataset.html", {
            "d": detail,
            "classes": classes,
            "profile": cols,
            "profile_fig": profile_figure(shown) if shown else None,
            "hidden": [
                c.name for c in detail.schema_ if c.name in cols and c.name not in dict(shown)
            ],
            "lineage": lineage,
            "graph": graph,
            "site": soft(lambda: self.governance.site(p, detail.site)),
        }

    def model_list(self, p: Principal) -> tuple[str, dict[str, Any]]:
        versions = self.models.versions(p)
        by_stage: dict[str, list[Any]] = {}
        for v in versions:
            by_stage.setdefault(v.stage, []).append(v)
        order = [s for s in STAGES if s in by_stage] + sorted(set(by_stage) - set(STAGES))
        return "models.html", {"stages": [(s, by_stage[s]) for s in order]}

    def model(self, p: Principal, ref: str) -> tuple[str, dict[str, Any]]:
        detail = self.models.show(p, ref)
        stage = soft(lambda: self.gates.stage_info(p, ref))
        validations = soft(lambda: self.gates.validations(p, ref))
        latest = None
        if stage.value is not None and stage.value.validation is not None:
            latest = stage.value.validation
        elif validations.value:
            latest = validations.value[0]
        charts = []
        if latest is not None:
            report = latest.report
            attrs = (report.fairness or {}).get("attributes") or {}
            for attr, data in attrs.items():
                limits = [
                    {"metric": c.name.split(": ", 1)[1], **(c.limit or {})}
                    for c in report.checks
                    if c.kind == "fairness"
                    and c.name.startswith(f"{attr}: ")
                    and c.limit
                    and c.name != f"{attr}: judged"
                ]
                charts.append((attr, fairness_figure(attr, data.get("groups", []), limits), data))
        parents = {}
        for d in detail.datasets:
            got = soft(partial(self.datasets.lineage, p, d))
            if got.value is not None:
                parents[d] = got.value
        endpoints = soft(lambda: self.deploy.endpoints(p))
        holdout = latest.report.holdout if latest is not None else None
        return "model.html", {
            "graph": model_graph(detail, parents, endpoints.value or [], holdout),
            "endpoints": endpoints,
            "m": detail,
            "stage": stage,
            "validations": validations,
            "latest": latest,
            "fairness": charts,
            "card_md": render_markdown(detail.ref, detail.stage, detail.card),
        }

    def endpoint_list(self, p: Principal) -> tuple[str, dict[str, Any]]:
        endpoints = self.deploy.endpoints(p)
        return "endpoints.html", {
            "health": [(e, soft(partial(self.health, p, e.name))) for e in endpoints]
        }

    def endpoint(self, p: Principal, name: str) -> tuple[str, dict[str, Any]]:
        ep = self.deploy.endpoint(p, name)
        recent = soft(lambda: self.monitoring.recent(p, name, limit=6))
        reports = recent.value or []
        features: list[str] = []
        for r in reports:
            for f in r.features:
                if f.column not in features:
                    features.append(f.column)
        cells = {(i, f.column): f for i, r in enumerate(reports) for f in r.features}
        status = soft(lambda: self.serving.status(p, name))
        budget_ms = (
            status.value.budget_ms
            if status.value is not None
            else self.rt.config.serving.budget_ms(name)
        )
        # per monitoring window once there are a few; before that, from the log
        series = soft(lambda: self.monitoring.latency(p, name))
        latency_over = "per monitoring window"
        if len([x for x in series.value or [] if x.p99_ms is not None]) < 6:
            series = soft(lambda: self.serving.logged_latency(p, name))
            latency_over = "of the newest requests in the log, per time bucket"
        points = [
            {"start": x.start.isoformat(), "p50": x.p50_ms, "p99": x.p99_ms}
            for x in series.value or []
            if x.p99_ms is not None
        ]
        return "endpoint.html", {
            "e": ep,
            "status": status,
            "windows": recent,
            "reports": reports,
            "features": features,
            "cells": cells,
            "latency_fig": (
                latency_figure(points, budget_ms, over=latency_over)
                if points and budget_ms
                else None
            ),
            "health": soft(lambda: self.health(p, name)),
            "alerts": soft(lambda: self.alerting.alerts(p, endpoint=name)),
        }

    def drift(self, p: Principal, name: str, q: dict[str, str]) -> tuple[str, dict[str, Any]]:
        """One feature in one monitoring window against the model's reference."""
        column = q.get("feature", "")
        if not column:
            raise NotFound("feature: expected ?feature=COLUMN (a column of the drift table)")
        minutes = q.get("minutes") or None
        if minutes is not None and (not minutes.isdigit() or len(minutes) > 6):
            raise ValidationFailed(
                f"minutes: expected a window length in minutes; found {minutes!r}",
                parameter="minutes",
            )
        start = _parse_day("start", q.get("start"))
        at = datetime.fromisoformat(start) if start else None
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        dist = self.monitoring.distribution(
            p,
            name,
            column,
            minutes=int(minutes) if minutes else None,
            start=at,
            model=q.get("model") or None,
        )
        return "drift.html", {
            "e": self.deploy.endpoint(p, name),
            "d": dist,
            "fig": distribution_figure(dist),
            "rows": list(
                zip(distribution_labels(dist), dist.reference, dist.current, strict=False)
            ),
        }

    def cost(self, p: Principal, team: str | None) -> tuple[str, dict[str, Any]]:
        if team is not None and team not in self.rt.config.teams:
            raise NotFound(f"team {team!r} not found; known: {', '.join(self.rt.config.teams)}")
        by = {
            dim: soft(partial(self.costs.report, p, by=[dim], team=team))
            for dim in ("team", "site", "kind", "day")
        }
        # a forecast is per team (or endpoint): the all-teams page links to each team's
        fc = soft(lambda: self.costs.forecast(p, team=team)) if team else Soft()
        anomalies = soft(lambda: self.costs.anomalies(p, team=team))
        fig = None
        if fc.value is not None:
            recent = date.today().toordinal() - 45
            fig = spend_figure(fc.value, anomalies.value or [], since=date.fromordinal(recent))
        return "cost.html", {
            "team": team,
            "teams": sorted(self.rt.config.teams),
            "by": by,
            "forecast": fc,
            "anomalies": anomalies,
            "egress": soft(lambda: self.costs.egress(p, team=team)),
            "spend_fig": fig,
        }

    def audit(self, p: Principal, q: dict[str, str]) -> tuple[str, dict[str, Any]]:
        filters = {
            k: (q.get(k) or "").strip()
            for k in ("actor", "action", "resource", "decision", "since", "until")
        }
        problem = None
        entries = Soft()
        try:
            decision = filters["decision"] or None
            if decision not in (None, "allow", "deny"):
                raise ValidationFailed(
                    f"decision: expected allow or deny; found {decision!r}", parameter="decision"
                )
            flt = LedgerFilter(
                actor=filters["actor"] or None,
                action=filters["action"] or None,
                resource=filters["resource"] or None,
                decision=decision,
                since=_parse_day("since", filters["since"]),
                until=_parse_day("until", filters["until"]),
                limit=10_000,
            )
            # the newest 500 that match, newest first
            entries = soft(lambda: self.governance.audit_log(p, flt)[-500:][::-1])
        except ValidationFailed as exc:
            problem = exc
        return "audit.html", {
            "filters": filters,
            "problem": problem,
            "entries": entries,
            "verify": soft(lambda: self.governance.verify(p)),
            "checkpoints": soft(lambda: self.governance.checkpoints(p)),
        }


def drift_measure(c: Any) -> dict[str, Any]:
    """A drift cell's text (test, the number the verdict is on, the threshold) and shade:
    0 up to half the threshold, rising to 0.45 at twice it (``severity`` None when untested).
    For a distance the ratio is ``score / threshold``; for a p-value ``threshold / p``."""
    method = c.method or ""
    if c.threshold is None or c.score is None:
        return {"text": method or (c.reason or c.status).replace("_", " "), "severity": None}
    if method in P_VALUE_METHODS and c.p_value is not None:
        ratio = c.threshold / max(c.p_value, 1e-12)
        text = f"{method} p = {_num(c.p_value, 3)} / {_num(c.threshold, 3)}"
    else:
        ratio = c.score / c.threshold if c.threshold else 0.0
        text = f"{method} {_num(c.score, 3)} / {_num(c.threshold, 3)}"
    return {"text": text, "severity": round(0.45 * min(max(ratio - 0.5, 0.0) / 1.5, 1.0), 3)}


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "—"
        return f"{value:,.{digits}f}"
    return str(value)


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > _MAX_FORM:
        return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def create_router(rt: Runtime, identity: IdentityService, serving: ServingService) -> APIRouter:
    """The dashboard's routes under ``/ui``."""
    ui = Dashboard(rt, identity, serving)
    router = APIRouter(prefix="/ui")
    plotly_file = plotly_js()
    static = Path(__file__).parent / "static"

    @router.get("/static/plotly.min.js")
    def plotly_static() -> FileResponse:
        return FileResponse(
            plotly_file,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @router.get("/static/{name}")
    def own_static(name: str) -> Response:
        files = {"ui.js": "text/javascript", "ui.css": "text/css"}
        if name not in files:
            return HTMLResponse("not found", status_code=404)
        return FileResponse(static / name, media_type=files[name])

    @router.get("/login")
    def login_page(request: Request, next: str = "/ui") -> Response:
        if ui.caller(request) is not None:
            return RedirectResponse(_safe_next(next), status_code=303)
        return ui.render(request, "login.html", {"next": _safe_next(next), "problem": None})

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await _form(request)
        token = form.get("token", "").strip()
        target = _safe_next(form.get("next", "/ui"))
        problem = None
        try:
            _, scope = await run_in_threadpool(identity.authenticate_scoped, token or None)
            if scope is not None:
                problem = (
                    f"This token is scoped to {scope} (predictions only); sign in with a "
                    "personal token from 'steward token create --for USER'."
                )
        except Unauthenticated as exc:
            problem = exc.message
        if problem is not None:
            return ui.render(
                request, "login.html", {"next": target, "problem": problem}, status=401
            )
        resp = RedirectResponse(target, status_code=303)
        resp.set_cookie(
            COOKIE,
            ui.sealer.seal(token),
            max_age=ui.sealer.lifetime,
            path="/ui",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return resp

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        resp = RedirectResponse("/ui/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/ui")
        return resp

    @router.get("")
    def overview(request: Request) -> Response:
        return ui.page(request, ui.overview)

    @router.get("/datasets")
    def datasets(request: Request) -> Response:
        return ui.page(request, ui.dataset_list)

    @router.get("/datasets/{ref}")
    def dataset(request: Request, ref: str) -> Response:
        return ui.page(request, lambda p: ui.dataset(p, ref))

    @router.get("/models")
    def models(request: Request) -> Response:
        return ui.page(request, ui.model_list)

    @router.get("/models/{ref}")
    def model(request: Request, ref: str) -> Response:
        return ui.page(request, lambda p: ui.model(p, ref))

    async def decide(request: Request, ref: str, approve: bool) -> Response:
        def do(p: Principal, form: dict[str, str]) -> str:
            ui.gates.decide(p, ref, approve=approve, note=form.get("note", "")[:4000])
            done = "approved" if approve else "rejected"
            return f"/ui/models/{quote(ref, safe='@')}?done={done}"

        return await ui.action(request, do, lambda p: ui.model(p, ref))

    @router.post("/models/{ref}/approve")
    async def approve(request: Request, ref: str) -> Response:
        return await decide(request, ref, approve=True)

    @router.post("/models/{ref}/reject")
    async def reject(request: Request, ref: str) -> Response:
        return await decide(request, ref, approve=False)

    @router.get("/endpoints")
    def endpoints(request: Request) -> Response:
        return ui.page(request, ui.endpoint_list)

    @router.get("/endpoints/{name}")
    def endpoint(request: Request, name: str) -> Response:
        return ui.page(request, lambda p: ui.endpoint(p, name))

    @router.get("/endpoints/{name}/drift")
    def drift(request: Request, name: str) -> Response:
        q = dict(request.query_params)
        return ui.page(request, lambda p: ui.drift(p, name, q))

    @router.post("/endpoints/{name}/rollback")
    async def rollback(request: Request, name: str) -> Response:
        def do(p: Principal, form: dict[str, str]) -> str:
            ui.deploy.rollback(p, name)
            return f"/ui/endpoints/{quote(name)}?done=rolledback"

        return await ui.action(request, do, lambda p: ui.endpoint(p, name))

    @router.post("/endpoints/{name}/promote")
    async def promote(request: Request, name: str) -> Response:
        def do(p: Principal, form: dict[str, str]) -> str:
            ui.deploy.promote(p, name)
            return f"/ui/endpoints/{quote(name)}?done=promoted"

        return await ui.action(request, do, lambda p: ui.endpoint(p, name))

    def alert_origin(form: dict[str, str]) -> tuple[str, str | None]:
        """The page the alert button was pressed on: the overview or an endpoint's page."""
        back = _safe_next(form.get("back", "/ui").split("?", 1)[0])
        prefix = "/ui/endpoints/"
        if back.startswith(prefix) and "/" not in back[len(prefix) :]:
            return back, unquote(back[len(prefix) :])
        return "/ui", None

    async def alert_button(request: Request, alert_id: str, state: str) -> Response:
        origin: list[str | None] = [None]

        def do(p: Principal, form: dict[str, str]) -> str:
            back, endpoint = alert_origin(form)
            origin[0] = endpoint
            if not alert_id.isdigit() or len(alert_id) > 18:
                raise NotFound(f"alert {alert_id!r} not found")
            note = form.get("note", "")[:4000]
            if state == "acknowledged":
                ui.alerting.acknowledge(p, int(alert_id), note)
            else:
                ui.alerting.resolve(p, int(alert_id), note)
            return f"{back}?done={state}"

        def on_denied(p: Principal) -> tuple[str, dict[str, Any]]:
            if origin[0] is not None:
                return ui.endpoint(p, origin[0])
            return ui.overview(p)

        return await ui.action(request, do, on_denied)

    @router.post("/alerts/{alert_id}/acknowledge")
    async def acknowledge(request: Request, alert_id: str) -> Response:
        return await alert_button(request, alert_id, "acknowledged")

    @router.post("/alerts/{alert_id}/resolve")
    async def resolve(request: Request, alert_id: str) -> Response:
        return await alert_button(request, alert_id, "resolved")

    @router.get("/cost")
    def cost(request: Request, team: str | None = None) -> Response:
        return ui.page(request, lambda p: ui.cost(p, team or None))

    @router.get("/audit")
    def audit(request: Request) -> Response:
        q = dict(request.query_params)
        return ui.page(request, lambda p: ui.audit(p, q))

    @router.get("/{rest:path}")
    def unknown(request: Request, rest: str) -> Response:
        if rest == "":
            return RedirectResponse("/ui", status_code=307)

        def missing(_: Principal) -> tuple[str, dict[str, Any]]:
            raise NotFound(f"no dashboard page /ui/{rest}")

        return ui.page(request, missing)

    return router


def _safe_next(target: str) -> str:
    """Only a path inside the dashboard: never an open redirect to another site."""
    if target.startswith("/ui") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui"
