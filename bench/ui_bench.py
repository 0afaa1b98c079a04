"""Dashboard page load on the demo's data, in the machine's Chromium.

``steward demo`` builds its home in a temporary directory (a subprocess, on SQLite, as
``make demo`` does); the dashboard is served by a real server (``create_app`` under uvicorn
on a free port, in this process, as ``steward server`` runs it) and Playwright drives
headless Chromium (``/usr/bin/chromium``) signed in as admin at a laptop's viewport.

For each page kind (overview, the data sets list, a data set, the models list, a model
with its fairness charts, the endpoints list, the demo's endpoint, cost, audit) and each
repetition, a **fresh browser context** (empty cache; the session cookie is added to it,
so the sign-in page does not warm the cache) opens the page (**cold**), then the same page
is opened again in that context (**warm**: plotly.js, ``ui.css`` and ``ui.js`` cached; the
HTML is ``no-store`` and always rendered again). Three times per load, from
``performance.getEntriesByType('navigation')`` (milliseconds since the navigation
started): ``domContentLoadedEventEnd``, ``loadEventEnd``, and when every chart
(``div.chart[data-figure]``) has its ``data-drawn="1"`` (recorded by a MutationObserver
installed before the page's scripts; the later of that and the load event; pages
without charts: the load event). The server's own time (its ``Server-Timing`` header)
is recorded too.

Run alone with ``.venv/bin/python bench/ui_bench.py [--quick]``: it prints the section.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from machine import load_average
from stats import percentile
from steward.api import background_server, create_app
from steward.config import Home
from steward.identity import IdentityService
from steward.policy import Principal
from steward.runtime import Runtime

__all__ = [
    "AIM_MS",
    "CHROMIUM",
    "MEASURES",
    "PAGES",
    "PageRun",
    "UIBenchResult",
    "bench_ui",
]

CHROMIUM = "/usr/bin/chromium"
AIM_MS = 1000.0  # "pages load in under one second on the demo data"
REPEATS = 5
VIEWPORT = {"width": 1366, "height": 900}
#: (key, what a person opens, path on the demo's data)
PAGES: list[tuple[str, str, str]] = [
    ("overview", "Overview", "/ui"),
    ("datasets", "Data sets", "/ui/datasets"),
    ("dataset", "A data set (covid-tests@1, 15,524 rows)", "/ui/datasets/covid-tests@1"),
    ("models", "Models", "/ui/models"),
    ("model", "A model with fairness charts (hmda-deny@2)", "/ui/models/hmda-deny@2"),
    ("endpoints", "Endpoints", "/ui/endpoints"),
    ("endpoint", "The demo's endpoint (credit)", "/ui/endpoints/credit"),
    ("cost", "Cost, all teams", "/ui/cost"),
    ("cost-team", "Cost of team risk (forecast chart)", "/ui/cost?team=risk"),
    ("drift", "Drift of lvrat in a window", "/ui/endpoints/credit/drift?feature=lvrat"),
    ("audit", "Audit", "/ui/audit"),
]
#: what is measured per load, in the order the report shows it
MEASURES = {
    "dcl": "DOMContentLoaded",
    "load": "load event",
    "charts": "charts drawn",
}

#: Installed before the page's own scripts: the time when every chart is drawn.
_OBSERVER_JS = """
window.__stewardDrawn = null;
new MutationObserver(function () {
  var charts = document.querySelectorAll('div.chart[data-figure]');
  if (window.__stewardDrawn === null && charts.length &&
      Array.prototype.every.call(charts, function (c) {
        return c.getAttribute('data-drawn') === '1';
      })) {
    window.__stewardDrawn = performance.now();
  }
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-drawn']});
"""

_TIMINGS_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const server = (nav.serverTiming || []).find(s => s.name === 'app');
  const plotly = performance.getEntriesByType('resource')
    .find(e => e.name.endsWith('/ui/static/plotly.min.js'));
  return {
    dcl: nav.domContentLoadedEventEnd,
    load: nav.loadEventEnd,
    drawn: window.__stewardDrawn,
    charts: document.querySelectorAll('div.chart[data-figure]').length,
    server: server ? server.duration : null,
    bytes: nav.transferSize,
    plotly_ms: plotly ? plotly.responseEnd - plotly.startTime : null,
    plotly_bytes: plotly ? plotly.decodedBodySize : null,
  };
}"""

_READY_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  if (!nav || nav.loadEventEnd <= 0) return false;
  const charts = document.querySelectorAll('div.chart[data-figure]');
  return Array.prototype.every.call(charts, c => c.getAttribute('data-drawn') === '1');
}"""


@dataclass
class PageRun:
    """One page kind: per mode (``cold``, ``warm``) and measure, the times of each load."""

    key: str
    label: str
    path: str
    charts: int = 0
    times: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: {m: {k: [] for k in MEASURES} for m in ("cold", "warm")}
    )
    server_ms: dict[str, list[float]] = field(default_factory=lambda: {"cold": [], "warm": []})
    html_bytes: int = 0
    #: plotly.js on the page: its fetch (cold) or cache read (warm), from resource timing
    plotly_ms: dict[str, list[float]] = field(default_factory=lambda: {"cold": [], "warm": []})
    plotly_bytes: int = 0
    problem: str | None = None

    def median(self, mode: str, measure: str) -> float:
        return statistics.median(self.times[mode][measure])

    def p90(self, mode: str, measure: str) -> float:
        """Nearest rank: of 5 loads, the slowest."""
        return percentile(self.times[mode][measure], 0.9)

    @property
    def worst_ms(self) -> float:
        """The slowest p90 of the page's complete load (cold or warm)."""
        return max(self.p90(m, "charts") for m in ("cold", "warm"))


@dataclass
class UIBenchResult:
    quick: bool
    repeats: int
    pages: list[PageRun] = field(default_factory=list)
    chromium: str = ""
    demo_seconds: float = 0.0
    seconds: float = 0.0
    load_before: str = ""
    load_after: str = ""
    records: dict[str, int] = field(default_factory=dict)
    problem: str | None = None

    @property
    def measured(self) -> list[PageRun]:
        return [p for p in self.pages if p.problem is None and p.times["cold"]["load"]]

    @property
    def slowest(self) -> PageRun | None:
        return max(self.measured, key=lambda p: p.worst_ms, default=None)

    @property
    def met(self) -> bool:
        """Every page complete (load event and charts) in under a second, at p90, cold."""
        runs = self.measured
        return (
            bool(runs)
            and len(runs) == len(self.pages)
            and all(p.p90("cold", "charts") < AIM_MS for p in runs)
        )


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def _no_database_url() -> Iterator[None]:
    saved = os.environ.pop("STEWARD_DATABASE_URL", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["STEWARD_DATABASE_URL"] = saved


def build_demo(home: Path, log: Callable[[str], None]) -> float:
    """``steward demo --home HOME`` in a subprocess; its seconds."""
    steward = Path(sys.executable).parent / "steward"
    env = {k: v for k, v in os.environ.items() if k != "STEWARD_DATABASE_URL"}
    t0 = time.perf_counter()
    out = subprocess.run(
        [str(steward), "demo", "--home", str(home)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"steward demo failed ({out.returncode}): {out.stderr[-2000:]}")
    log(f"[ui] demo home built in {took:.0f} s")
    return took


@contextmanager
def serve(rt: Runtime) -> Iterator[str]:
    """The API and dashboard on a free port; its base URL."""
    with background_server(create_app(rt)) as url:
        yield url


def _counts(rt: Runtime) -> dict[str, int]:
    from sqlalchemy import func, select

    from steward.store import CostRecord

    with rt.store.transaction() as s:
        cost = int(s.execute(select(func.count()).select_from(CostRecord)).scalar_one())
    return {"ledger entries": rt.ledger.head()[0], "cost records": cost}


def _measure(page: Any, url: str, timeout_ms: float = 30_000) -> dict[str, Any]:
    resp = page.goto(url, wait_until="load", timeout=timeout_ms)
    if resp is None or resp.status != 200:
        raise RuntimeError(f"{url}: HTTP {resp.status if resp else None}")
    page.wait_for_function(_READY_JS, timeout=timeout_ms)
    t: dict[str, Any] = page.evaluate(_TIMINGS_JS)
    return t


def bench_pages(
    url: str, token: str, repeats: int, log: Callable[[str], None]
) -> tuple[list[PageRun], str]:
    from playwright.sync_api import sync_playwright

    runs = [PageRun(key, label, path) for key, label, path in PAGES]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"], headless=True
        )
        try:
            login = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
            page = login.new_page()
            page.goto(f"{url}/ui/login")
            page.fill("#token", token)
            page.click("button[type=submit]")
            page.wait_for_selector("#whoami")
            cookies = [c for c in login.cookies() if c["name"] == "steward_session"]
            login.close()
            if not cookies:
                raise RuntimeError("signing in set no session cookie")
            # one untimed round: the server's first requests (imports, statement caches)
            warm = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
            warm.add_cookies(cookies)  # type: ignore[arg-type]
            p = warm.new_page()
            for _, _, path in PAGES:
                p.goto(url + path, wait_until="load")
            warm.close()
            # repetition by repetition, every page, so the machine's drift hits them alike
            for rep in range(repeats):
                for run in runs:
                    if run.problem is not None:
                        continue
                    ctx = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
                    try:
                        ctx.add_cookies(cookies)  # type: ignore[arg-type]
                        ctx.add_init_script(_OBSERVER_JS)
                        p = ctx.new_page()
                        for mode in ("cold", "warm"):
                            t = _measure(p, url + run.path)
                            load = float(t["load"])
                            drawn = t["drawn"]
                            run.charts = int(t["charts"])
                            run.times[mode]["dcl"].append(float(t["dcl"]))
                            run.times[mode]["load"].append(load)
                            run.times[mode]["charts"].append(
                                max(load, float(drawn)) if run.charts and drawn else load
                            )
                            if t["server"] is not None:
                                run.server_ms[mode].append(float(t["server"]))
                            if t["plotly_ms"] is not None:
                                run.plotly_ms[mode].append(float(t["plotly_ms"]))
                                run.plotly_bytes = int(t["plotly_bytes"] or 0)
                            if mode == "cold":
                                run.html_bytes = int(t["bytes"] or 0)
                    except Exception as exc:  # reported on the page's row
                        run.problem = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                        log(f"[ui] {run.path}: {run.problem}")
                    finally:
                        ctx.close()
                log(f"[ui] repetition {rep + 1}/{repeats} done")
            version = browser.version
        finally:
            browser.close()
    return runs, version


def bench_ui(quick: bool = False, log: Callable[[str], None] = _log) -> UIBenchResult:
    """Page load times of the dashboard on the demo's data (see the module docs)."""
    repeats = 2 if quick else REPEATS
    result = UIBenchResult(quick=quick, repeats=repeats, load_before=load_average())
    t0 = time.perf_counter()
    if not Path(CHROMIUM).exists():
        result.problem = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        log(f"[ui] NOT MEASURED: {result.problem}")
        result.pages = [PageRun(k, label, path) for k, label, path in PAGES]
        return result
    with tempfile.TemporaryDirectory(prefix="steward-ui-bench-") as tmp, _no_database_url():
        home = Path(tmp) / "demo"
        log("[ui] building the demo's home (steward demo)")
        result.demo_seconds = build_demo(home, log)
        rt = Runtime.open(Home(home))
        try:
            result.records = _counts(rt)
            token = IdentityService(rt).create_token(Principal("admin"), user="admin").token
            with serve(rt) as url:
                log(f"[ui] {len(PAGES)} pages x {repeats} repetitions, cold and warm, at {url}")
                result.pages, result.chromium = bench_pages(url, token, repeats, log)
        finally:
            rt.close()
    result.load_after = load_average()
    result.seconds = time.perf_counter() - t0
    return result


if __name__ == "__main__":
    import argparse
    import pickle

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 repetitions instead of 5")
    parser.add_argument("--number", type=int, default=16, help="the section's number")
    parser.add_argument(
        "--save", type=Path, help="also pickle the result here (bench/report_ui.py renders it)"
    )
    args = parser.parse_args()
    import ui_bench  # the result's classes pickled under the module's name, not __main__

    res = ui_bench.bench_ui(args.quick)
    if args.save is not None:
        args.save.write_bytes(pickle.dumps(res))
    from report_ui import ui_sections

    print("\n".join(ui_sections(res, args.number)))
