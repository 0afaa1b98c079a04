"""The dashboard end to end in a real browser: Playwright drives the machine's Chromium
against a real server (uvicorn on a port) over a home with trained, validated, approved
and deployed models. Screenshots of each page go to the test's temporary directory.

Every test runs twice, on a home on SQLite and on one on PostgreSQL (the throw-away
database of the session's ``pg_database`` fixture, emptied first): the ids say which
(``[sqlite]``, ``[postgresql-laptop]``). Without a reachable PostgreSQL the second variant
is skipped with a notice; with ``STEWARD_REQUIRE_SERVICES=1`` it fails.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parents[1] / "gates"))
sys.path.insert(0, str(Path(__file__).parents[1] / "serving"))
sys.path.insert(0, str(Path(__file__).parent))
import uiserver
from gatesdata import SUITE, register_split, train_model, with_suite
from test_v2 import approved

from steward.audit import LedgerFilter
from steward.config import init_home
from steward.deploy import DeployService
from steward.gates import GateService
from steward.identity import IdentityService
from steward.monitoring import AlertService
from steward.policy import Principal
from steward.runtime import Runtime

ADMIN, BOB = Principal("admin"), Principal("bob")
# the suite with fairness (lax example limits) and no champion hurdle, so each model passes
FAIR = SUITE | {"champion": {"margin": 1.0}}

uiserver.require_chromium()

from playwright.sync_api import Browser, Page, expect  # noqa: E402


class Site:
    def __init__(self, url: str, rt: Runtime, tokens: dict[str, str], refs: dict[str, str]):
        self.url, self.rt, self.tokens, self.refs = url, rt, tokens, refs


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    saved = os.environ.pop("STEWARD_DATABASE_URL", None)
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_module_database")
        os.environ["STEWARD_DATABASE_URL"] = url
    try:
        home = with_suite(init_home(tmp_path_factory.mktemp(f"ui-{request.param}") / "home"), FAIR)
        cfg = yaml.safe_load(home.config_path.read_text())
        cfg.setdefault("serving", {})["latency_budgets_ms"] = {"credit": 25.0}
        home.config_path.write_text(yaml.safe_dump(cfg))
        rt = Runtime.open(home)
    finally:
        # the runtime holds its store: the variable is needed only to open it
        os.environ.pop("STEWARD_DATABASE_URL", None)
        if saved is not None:
            os.environ["STEWARD_DATABASE_URL"] = saved
    assert rt.store.dialect == request.param
    train, hold = register_split(rt)
    live = approved(rt, train, hold, exclude=["afam"])
    canary = approved(rt, train, hold, seed=3, exclude=["afam"])
    waiting = train_model(rt, train, seed=5)
    assert GateService(rt).validate(BOB, waiting, hold).passed
    deploy = DeployService(rt)
    deploy.deploy(ADMIN, live, endpoint="credit", site="eu-fra")
    deploy.deploy(ADMIN, canary, endpoint="credit", strategy="canary", percent=20)
    identity = IdentityService(rt)
    tokens = {u: identity.create_token(ADMIN, user=u).token for u in ("admin", "alice", "bob")}
    refs = {"live": live, "canary": canary, "waiting": waiting, "train": train, "hold": hold}
    with uiserver.live_server(rt) as url:
        yield Site(url, rt, tokens, refs)
    rt.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with uiserver.chromium() as b:
        yield b


def sign_in(browser: Browser, site: Site, user: str, **ctx: Any) -> Page:
    page: Page = uiserver.sign_in(browser, site.url, site.tokens[user], user, **ctx)
    return page


def visit(page: Page, url: str, shot: Path) -> float:
    """Open ``url``, save a screenshot, return the load time in seconds (logged)."""
    started = time.perf_counter()
    page.goto(url, wait_until="load")
    took = time.perf_counter() - started
    page.screenshot(path=str(shot), full_page=True)
    print(f"page {url}: {took * 1000:.0f} ms")
    return took


def test_without_a_session_every_page_sends_you_to_sign_in(browser: Browser, site: Site) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{site.url}/ui/models")
    assert page.url.startswith(f"{site.url}/ui/login")
    expect(page.get_by_role("heading", name="Sign in to Steward")).to_be_visible()
    page.fill("#token", "stw_nope_nope")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_be_visible()
    assert "/ui/login" in page.url


def test_the_cookie_is_sealed_and_a_tampered_one_is_rejected(browser: Browser, site: Site) -> None:
    page = sign_in(browser, site, "bob")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "steward_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert 7 * 3600 < cookie["expires"] - time.time() <= 8 * 3600
    assert site.tokens["bob"] not in cookie["value"]
    value = cookie["value"]
    i = len(value) // 2
    tampered = value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1 :]
    page.context.add_cookies([{**cookie, "value": tampered}])  # type: ignore[list-item]
    page.goto(f"{site.url}/ui")
    assert page.url.startswith(f"{site.url}/ui/login")
    expect(page.get_by_role("heading", name="Sign in to Steward")).to_be_visible()


@pytest.mark.parametrize("width,height", [(1366, 900), (820, 1180)], ids=["laptop", "tablet"])
def test_every_page_shows_its_content(
    browser: Browser, site: Site, tmp_path: Path, width: int, height: int
) -> None:
    page = sign_in(browser, site, "bob", viewport={"width": width, "height": height})
    r = site.refs
    pages = [
        ("/ui", ["Open alerts", "Audit ledger", "verified", r["waiting"], "credit"]),
        ("/ui/datasets", [r["train"], r["hold"], "locked holdout"]),
        (f"/ui/datasets/{r['train']}", ["Residency", "eu-fra", "EU", "special category"]),
        ("/ui/models", ["Validated — awaiting approval", r["waiting"], r["live"]]),
        (f"/ui/models/{r['live']}", ["passed", "Fairness by group", "single", "Model card"]),
        ("/ui/endpoints", ["credit", "eu-fra"]),
        ("/ui/endpoints/credit", ["Revisions and traffic", r["canary"], "20%", "budget of 25"]),
        ("/ui/cost", ["Forecast", "This month by team", "risk", "Egress between sites"]),
        ("/ui/audit", ["chain verified", "model.approve", "deployment.create"]),
    ]
    times = []
    for i, (path, texts) in enumerate(pages):
        times.append(visit(page, site.url + path, tmp_path / f"{i:02d}-{width}.png"))
        body = page.locator("main")
        for text in texts:
            expect(body).to_contain_text(text)
        assert not page.get_by_text("Something went wrong").is_visible()
    # the charts are drawn by plotly.js (served from the installed package)
    page.goto(f"{site.url}/ui/models/{r['live']}")
    expect(page.locator("#fairness-1 .main-svg").first).to_be_visible()
    page.goto(f"{site.url}/ui/cost?team=risk")
    expect(page.locator("#spend-chart .main-svg").first).to_be_visible()
    print(f"slowest page: {max(times) * 1000:.0f} ms (aim: under 1000 ms)")


def test_unknown_and_malformed_ids_get_the_404_page(browser: Browser, site: Site) -> None:
    page = sign_in(browser, site, "bob")
    for path in (
        "/ui/models/nope@9",
        "/ui/models/%00%ff",
        "/ui/models/hmda-deny@notanumber",
        "/ui/datasets/x@y",
        "/ui/datasets/" + "a" * 500,
        "/ui/endpoints/nope",
        "/ui/cost?team=nope",
        "/ui/nothing/here",
    ):
        resp = page.goto(site.url + path)
        assert resp is not None and resp.status == 404, path
        expect(page.get_by_role("heading", level=1)).to_contain_text("404")


def test_buttons_go_through_the_policy_and_into_the_ledger(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    ref = site.refs["waiting"]
    seq = site.rt.ledger.head()[0]

    # alice trained it: her approval is refused by four-eyes, with the reason on the page
    alice = sign_in(browser, site, "alice")
    alice.goto(f"{site.url}/ui/models/{ref}")
    alice.click("#approve")
    alert = alice.get_by_role("alert")
    expect(alert).to_contain_text("Denied by policy")
    expect(alert).to_contain_text("four-eyes")
    expect(alice.locator("#stage")).to_have_text("stage: validated")
    alice.screenshot(path=str(tmp_path / "alice-denied.png"), full_page=True)

    # bob approves: the stage changes
    bob = sign_in(browser, site, "bob")
    bob.goto(f"{site.url}/ui/models/{ref}")
    bob.fill("input[name=note]", "reviewed in the dashboard")
    bob.click("#approve")
    expect(bob.get_by_role("status")).to_contain_text("Approval recorded")
    expect(bob.locator("#stage")).to_have_text("stage: approved")
    expect(bob.locator("#decision")).to_contain_text("reviewed in the dashboard")
    bob.screenshot(path=str(tmp_path / "bob-approved.png"), full_page=True)

    # admin rolls the endpoint back from the canary to the live model alone
    admin = sign_in(browser, site, "admin")
    admin.goto(f"{site.url}/ui/endpoints/credit")
    expect(admin.locator("#serving")).to_contain_text(site.refs["canary"])
    admin.on("dialog", lambda d: d.accept())
    admin.click("#rollback")
    expect(admin.get_by_role("status")).to_contain_text("rolled back")
    expect(admin.locator("#serving")).to_contain_text("100% of traffic")
    expect(admin.locator("#serving")).not_to_contain_text(site.refs["canary"])

    # a form without this session's form token changes nothing
    before = site.rt.ledger.head()[0]
    resp = admin.request.post(
        f"{site.url}/ui/endpoints/credit/rollback", form={"csrf": "forged"}, max_redirects=0
    )
    assert resp.status == 403
    assert site.rt.ledger.head()[0] == before

    # the ledger has each action, by whom, with the decision; the Audit page shows them
    entries = site.rt.ledger.entries(LedgerFilter(after_seq=seq))
    got = [(e.actor, e.action, e.decision) for e in entries]
    assert ("alice", "model.approve", "deny") in got
    assert ("bob", "model.approve", "allow") in got
    assert ("admin", "deployment.rollback", "allow") in got
    admin.goto(f"{site.url}/ui/audit?action=model.approve")
    rows = admin.locator("#entries")
    expect(rows).to_contain_text("four-eyes")
    expect(rows.locator("tr", has_text="alice")).to_contain_text("deny")
    expect(rows.locator("tr", has_text="bob").first).to_contain_text("allow")
    admin.goto(f"{site.url}/ui/audit?actor=admin&action=deployment.*")
    expect(admin.locator("#entries")).to_contain_text("deployment.rollback")
    admin.screenshot(path=str(tmp_path / "audit.png"), full_page=True)


def test_alert_buttons_acknowledge_and_resolve(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    alerting = AlertService(site.rt)
    evidence = {"model": site.refs["live"], "window_minutes": 60, "p99_ms": 80.0, "budget_ms": 25.0}
    [latency] = alerting.apply("credit", {"latency": evidence})
    budget_ev = {
        "team": "risk",
        "spent": 450.0,
        "budget": 500.0,
        "month": "2026-11",
        "share": 0.9,
        "soft_share": 0.8,
    }
    [budget] = alerting.apply("", {"budget": budget_ev}, team="risk")
    seq = site.rt.ledger.head()[0]

    # alice (a scientist) may not acknowledge: the policy's reason is on the page
    alice = sign_in(browser, site, "alice")
    alice.goto(f"{site.url}/ui/endpoints/credit")
    alice.click(f"#ack-{latency.id}")
    expect(alice.get_by_role("alert")).to_contain_text("Denied by policy")
    expect(alice.locator(f"#alert-{latency.id}-state")).to_contain_text("open")

    # admin acknowledges the endpoint's alert on its page, then resolves it
    admin = sign_in(browser, site, "admin")
    started = time.perf_counter()
    admin.goto(f"{site.url}/ui/endpoints/credit")
    admin.click(f"#ack-{latency.id}")
    expect(admin.get_by_role("status")).to_contain_text("Alert acknowledged")
    took = time.perf_counter() - started
    expect(admin.locator(f"#alert-{latency.id}-state")).to_contain_text("acknowledged")
    admin.screenshot(path=str(tmp_path / "alert-acknowledged.png"), full_page=True)
    print(f"acknowledge (page + button + page): {took * 1000:.0f} ms")
    admin.click(f"#resolve-{latency.id}")
    expect(admin.get_by_role("status")).to_contain_text("Alert resolved")
    expect(admin.locator(f"#alert-{latency.id}-state")).to_contain_text("resolved")
    expect(admin.locator(f"#resolve-{latency.id}")).to_have_count(0)

    # bob (a member of team risk) acknowledges the team's budget alert on the overview
    bob = sign_in(browser, site, "bob")
    bob.goto(f"{site.url}/ui")
    expect(bob.locator("#alerts")).to_contain_text("risk")
    bob.click(f"#ack-{budget.id}")
    expect(bob.get_by_role("status")).to_contain_text("Alert acknowledged")
    assert bob.url.split("?")[0] == f"{site.url}/ui"
    # the overview lists open alerts only: the acknowledged one has left it
    expect(bob.locator(f"#ack-{budget.id}")).to_have_count(0)

    # acknowledging again is a conflict, shown on the page; an unknown id is the 404 page
    again = admin.request.post(
        f"{site.url}/ui/alerts/{latency.id}/acknowledge",
        form={"csrf": admin.locator("input[name=csrf]").first.get_attribute("value") or ""},
        max_redirects=0,
    )
    assert again.status == 409
    for bad in ("999999", "nope"):
        csrf = admin.locator("input[name=csrf]").first.get_attribute("value") or ""
        resp = admin.request.post(
            f"{site.url}/ui/alerts/{bad}/resolve", form={"csrf": csrf}, max_redirects=0
        )
        assert resp.status == 404, bad
    # a form without the session's form token changes nothing
    before = site.rt.ledger.head()[0]
    resp = admin.request.post(
        f"{site.url}/ui/alerts/{budget.id}/resolve", form={"csrf": "forged"}, max_redirects=0
    )
    assert resp.status == 403
    assert site.rt.ledger.head()[0] == before

    got = [
        (e.actor, e.action, e.decision) for e in site.rt.ledger.entries(LedgerFilter(after_seq=seq))
    ]
    assert ("alice", "alert.acknowledge", "deny") in got
    assert ("admin", "alert.acknowledge", "allow") in got
    assert ("admin", "alert.resolve", "allow") in got
    assert ("bob", "alert.acknowledge", "allow") in got


def test_promote_makes_the_candidate_the_only_model(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    live, canary = site.refs["live"], site.refs["canary"]
    DeployService(site.rt).deploy(ADMIN, canary, endpoint="credit", strategy="canary", percent=20)
    seq = site.rt.ledger.head()[0]

    # alice (a scientist) may not promote: the policy's reason is on the page
    alice = sign_in(browser, site, "alice")
    alice.goto(f"{site.url}/ui/endpoints/credit")
    alice.on("dialog", lambda d: d.accept())
    alice.click("#promote")
    expect(alice.get_by_role("alert")).to_contain_text("Denied by policy")
    expect(alice.locator("#serving")).to_contain_text(f"{canary} 20%")

    admin = sign_in(browser, site, "admin")
    admin.goto(f"{site.url}/ui/endpoints/credit")
    expect(admin.locator("#serving")).to_contain_text(canary)
    admin.on("dialog", lambda d: d.accept())
    started = time.perf_counter()
    admin.click("#promote")
    expect(admin.get_by_role("status")).to_contain_text("Candidate promoted")
    print(f"promote (button + page): {(time.perf_counter() - started) * 1000:.0f} ms")
    serving = admin.locator("#serving")
    expect(serving).to_contain_text(canary)
    expect(serving).to_contain_text("100% of traffic")
    expect(serving).not_to_contain_text(live)
    expect(admin.locator("#promote")).to_have_count(0)
    admin.screenshot(path=str(tmp_path / "promoted.png"), full_page=True)
    current = DeployService(site.rt).endpoint(ADMIN, "credit").current
    assert current is not None and current.primary == canary and current.candidate is None

    got = [
        (e.actor, e.action, e.decision) for e in site.rt.ledger.entries(LedgerFilter(after_seq=seq))
    ]
    assert ("alice", "deployment.promote", "deny") in got
    assert ("admin", "deployment.promote", "allow") in got
