"""The dashboard part of docs/benchmarks.md: page load on the demo's data, and its aim.

``ui_sections`` renders the section; ``with_ui`` puts it (and its row of the Aims table)
into a whole report, replacing an earlier run's, so ``bench/run.py --only ui`` can update
docs/benchmarks.md without touching the other sections.
"""

from __future__ import annotations

import os
import statistics

from machine import cpu_model
from mdtable import met as _met
from mdtable import table as _table
from mdtable import version_of
from ui_bench import AIM_MS, MEASURES, UIBenchResult

__all__ = ["UI_AIM", "ui_aims", "ui_sections", "with_ui"]

UI_AIM = "pages load in under one second on the demo data"
COMMAND = ".venv/bin/python bench/run.py --only ui --output docs/benchmarks.md"


def _ms(x: float) -> str:
    return f"{x:,.0f}"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def ui_aims(r: UIBenchResult | None) -> list[list[str]]:
    """Rows for the Aims table: (aim, backend, measured, verdict)."""
    if r is None:
        return []
    slowest = r.slowest
    if r.problem is not None or slowest is None:
        why = r.problem or "no page was measured"
        return [[UI_AIM, "SQLite", f"not measured: {why}", "**not measured**"]]
    missing = [p.label for p in r.pages if p not in r.measured]
    measured = (
        f"{len(r.measured)} page kinds in headless Chromium, {r.repeats} loads each with a cold "
        f"cache: slowest p90 until the load event and every chart drawn "
        f"{_ms(slowest.p90('cold', 'charts'))} ms ({slowest.label}); medians "
        f"{_ms(min(p.median('cold', 'charts') for p in r.measured))}–"
        f"{_ms(max(p.median('cold', 'charts') for p in r.measured))} ms cold, "
        f"{_ms(min(p.median('warm', 'charts') for p in r.measured))}–"
        f"{_ms(max(p.median('warm', 'charts') for p in r.measured))} ms warm"
    )
    if missing:
        measured += f"; NOT measured: {', '.join(missing)}"
    return [[UI_AIM, "SQLite", measured, _met(r.met)]]


def _rows(r: UIBenchResult) -> list[list[str]]:
    rows = []
    for p in r.pages:
        if p not in r.measured:
            why = f"NOT measured: {p.problem or r.problem or 'not run'}"
            rows.append([p.label, f"`{p.path}`", "—", why, "—", "—", "—", "—"])
            continue
        for mode in ("cold", "warm"):
            cells = [
                f"{_ms(p.median(mode, m))} / {_ms(p.p90(mode, m))}"
                for m in MEASURES
                if m != "charts" or p.charts
            ]
            if not p.charts:
                cells.append("(no charts: = load)")
            server = p.server_ms[mode]
            rows.append(
                [
                    p.label if mode == "cold" else "",
                    f"`{p.path}`" if mode == "cold" else "",
                    mode,
                    *cells,
                    f"{sorted(server)[len(server) // 2]:.0f}" if server else "—",
                    str(p.charts) if mode == "cold" else "",
                ]
            )
    return rows


def ui_sections(r: UIBenchResult | None, number: int) -> list[str]:
    title = f"## {number}. Dashboard page load on the demo's data"
    if r is None:
        return ["", title, "", "NOT MEASURED: not run"]
    lines = [
        "",
        title,
        "",
        f"Command: `{COMMAND}` (this section only; `bench/ui_bench.py` alone prints it). "
        f"It took {r.seconds:.0f} s (the demo's home {r.demo_seconds:.0f} s of it) on "
        f"{cpu_model()}, {os.cpu_count()} logical cores; machine load (1/5/15 min) before "
        f"{r.load_before}, after {r.load_after}. Browser: headless Chromium {r.chromium or '?'} "
        f"(`/usr/bin/chromium`) driven by Playwright {version_of('playwright')}, viewport "
        "1366×900; server: `create_app` under uvicorn in the benchmark's process, on "
        "127.0.0.1.",
    ]
    if r.quick:
        lines += ["", "*A quick run (`--quick`): 2 repetitions, not for the docs.*"]
    if r.problem is not None:
        return [*lines, "", f"NOT MEASURED: {r.problem}"]
    facts = ", ".join(f"{v:,} {k}" for k, v in r.records.items())
    lines += [
        "",
        "**The data**: the home `steward demo` builds (SQLite): five data set versions, "
        "three model versions (one failed its fairness gate, one in production, one "
        "approved), the endpoint `credit` with five revisions, its 60-minute and daily "
        f"monitoring windows with drift, three open alerts, a month of cost records ({facts}).",
        "",
        "**The method**: signed in once as admin; then, repetition by repetition, for each "
        "page a **fresh browser context** (empty cache, the session cookie added) opens it "
        "(**cold**: plotly.js and the dashboard's CSS and JavaScript are fetched), "
        "then the same context opens it again (**warm**: those come from the cache; the "
        "page itself is `no-store` and rendered again by the server). One untimed round "
        "over every page first. Times are milliseconds since the navigation started, from "
        "`performance.getEntriesByType('navigation')` (`domContentLoadedEventEnd`, "
        "`loadEventEnd`); *charts drawn* is the later of the load event and the moment "
        'every `div.chart[data-figure]` has `data-drawn="1"` (a MutationObserver installed '
        "before the page's scripts); *server* is the page's `Server-Timing` (rendering "
        f"time in the server). Each cell: median / p90 of {r.repeats} loads (nearest rank: "
        "with 5 loads, p90 is the slowest).",
        "",
    ]
    header = [
        "page",
        "path",
        "cache",
        *[f"{label} ms" for label in MEASURES.values()],
        "server ms (median)",
        "charts",
    ]
    lines += _table(header, _rows(r))
    slowest = r.slowest
    lines.append("")
    if slowest is not None:
        over = [p for p in r.measured if p.p90("cold", "charts") >= AIM_MS]
        lines.append(
            f"**Against the aim** ({UI_AIM}): {_met(r.met)}. The slowest page, "
            f"{slowest.label}, is complete in {_ms(slowest.median('cold', 'charts'))} ms "
            f"(median; p90 {_ms(slowest.p90('cold', 'charts'))} ms) with a cold cache and "
            f"{_ms(slowest.median('warm', 'charts'))} ms warm."
            + (
                " Over a second at p90 with a cold cache: "
                + ", ".join(f"{p.label} ({_ms(p.p90('cold', 'charts'))} ms)" for p in over)
                + "."
                if over
                else f" Every page is complete in under {AIM_MS:,.0f} ms at p90, cold and warm."
                if all(p.worst_ms < AIM_MS for p in r.measured)
                else ""
            )
        )
        heavy = [p for p in r.measured if p.plotly_ms["cold"]]
        if heavy:
            size = max(p.plotly_bytes for p in heavy) / 2**20
            without = [p.label for p in heavy if not p.charts]
            lines += [
                "",
                f"The pages that use plotly.js ({size:.1f} MiB, {_plotly_source()}; fetched "
                "after the page's load event): its fetch (resource timing) and the page "
                "complete (charts drawn), "
                "medians, cold against warm: "
                + "; ".join(
                    f"{p.label} {_ms(_median(p.plotly_ms['cold']))} ms fetch, complete "
                    f"{_ms(p.median('cold', 'charts'))} ms cold against "
                    f"{_ms(p.median('warm', 'charts'))} ms warm"
                    for p in heavy
                )
                + ". Cold, most of the difference is not the fetch but Chromium parsing, "
                "compiling and running that much JavaScript, which goes far faster from the "
                "cache."
                + (
                    f" {', '.join(without)} loads it without drawing a chart on this data."
                    if without
                    else ""
                ),
            ]
    return lines


def _plotly_source() -> str:
    from steward.ui.views import BASIC_PLOTLY, plotly_js

    if plotly_js() == BASIC_PLOTLY:
        return "plotly.js's basic bundle from the npm registry, installed by `make charts`"
    return "the full bundle inside the installed `plotly` Python package (npm was not there)"


def _replace_section(text: str, number: int, section: list[str]) -> str:
    """``text`` with its section ``## {number}.`` replaced by ``section`` (or appended)."""
    lines = text.rstrip("\n").split("\n")
    start = next((i for i, ln in enumerate(lines) if ln.startswith(f"## {number}. ")), None)
    body = list(section)
    while body and body[0] == "":
        body.pop(0)
    if start is None:
        return "\n".join([*lines, "", *body]) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    tail = lines[end:]
    return "\n".join([*lines[:start], *body, *(["", *tail] if tail else [])]) + "\n"


def _replace_aims(text: str, rows: list[list[str]]) -> str:
    """``text`` with this benchmark's rows of the Aims table replaced by ``rows``."""
    lines = text.split("\n")
    try:
        start = lines.index("## Aims")
    except ValueError:
        return text
    first = next((i for i in range(start, len(lines)) if lines[i].startswith("|")), None)
    if first is None:
        return text
    end = first
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    kept = [ln for ln in lines[first:end] if not ln.startswith(f"| {UI_AIM} |")]
    fresh = ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join([*lines[:first], *kept, *fresh, *lines[end:]])


def with_ui(text: str, r: UIBenchResult | None, number: int) -> str:
    """A whole report with this benchmark's section and aim row in it (replacing old ones)."""
    return _replace_aims(_replace_section(text, number, ui_sections(r, number)), ui_aims(r))


if __name__ == "__main__":
    import argparse
    import pickle
    from pathlib import Path

    parser = argparse.ArgumentParser(description="Render a result saved by ui_bench.py --save")
    parser.add_argument("saved", type=Path)
    parser.add_argument("--number", type=int, default=16, help="the section's number")
    parser.add_argument(
        "--into", type=Path, help="write the section into this report (e.g. docs/benchmarks.md)"
    )
    args = parser.parse_args()
    result = pickle.loads(args.saved.read_bytes())  # a file this benchmark wrote
    if args.into is not None:
        args.into.write_text(
            with_ui(args.into.read_text("utf-8"), result, args.number), encoding="utf-8"
        )
    else:
        print("\n".join(ui_sections(result, args.number)))
        print()
        print("\n".join(_table(["aim", "backend", "measured", "verdict"], ui_aims(result))))
