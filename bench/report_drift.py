"""The drift part of docs/benchmarks.md: Steward's drift report against Evidently's."""

from __future__ import annotations

import os

from drift_bench import (
    BATCH_ROWS,
    CATEGORICAL,
    NUMERIC,
    SEED,
    DriftResult,
    ToolRun,
    steward_summary,
)
from machine import cpu_model
from mdtable import met as _met
from mdtable import table as _table

__all__ = ["MEMORY_GROWTH", "RATIO_AIM", "SECONDS_AIM", "drift_aims", "drift_sections"]

RATIO_AIM = 100.0
SECONDS_AIM = 10.0
#: "memory that does not grow with the rows": peak RSS at 10x the rows within this factor
MEMORY_GROWTH = 1.1


def _s(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def _mib(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f} MiB"


def _names(cols: list[str]) -> str:
    return ", ".join(f"`{c}`" for c in cols) if cols else "none"


def _ratio(r: DriftResult) -> tuple[float, float] | None:
    """(Evidently / Steward with the reference precomputed, Evidently / Steward with both
    profiles built) at the main size."""
    st, ev, pre = r.steward_median(r.rows), r.evidently.get(r.rows), r.precompute.get(r.rows)
    if st is None or ev is None or pre is None or st.seconds <= 0:
        return None
    return ev.seconds / st.seconds, ev.seconds / (st.seconds + pre.seconds)


def _agreement(r: DriftResult, rows: int) -> tuple[int, int] | None:
    """(columns on which both tools agree, columns compared) at ``rows``."""
    st, ev = r.steward_median(rows), r.evidently.get(rows)
    if st is None or ev is None:
        return None
    both = [c for c in st.verdicts if c in ev.verdicts]
    return sum(st.verdicts[c].drifted == ev.verdicts[c].drifted for c in both), len(both)


def _exact(run: ToolRun | None, expected: list[str]) -> bool:
    return run is not None and sorted(run.flagged) == sorted(expected)


def _memory(r: DriftResult) -> tuple[float, float] | None:
    """Steward's peak RSS at the small and the main size (drift step)."""
    small, big = r.steward_peak(r.small_rows), r.steward_peak(r.rows)
    if small is None or big is None or r.small_rows == r.rows:
        return None
    return small, big


def _comparable(r: DriftResult) -> bool:
    """Both sizes hold at least one full record batch, so that the rows, not the batch,
    differ between them."""
    return min(r.rows, r.small_rows) >= BATCH_ROWS


def drift_aims(r: DriftResult | None) -> list[list[str]]:
    """Rows for an aims table: (aim, backend, measured, verdict)."""
    if r is None:
        return []
    n = f"{r.rows:,}"
    cols = f"{NUMERIC + CATEGORICAL} columns"
    st = r.steward_median(r.rows)
    if r.problem is not None or st is None:
        why = r.problem or "not run"
        return [
            [f"drift report on {n} + {n} rows", "—", f"not measured: {why}", "**not measured**"]
        ]
    rows: list[list[str]] = []
    ev = r.evidently.get(r.rows)
    ratio = _ratio(r)
    if ev is None or ratio is None:
        rows.append(
            [
                f"drift report at least {RATIO_AIM:g}x faster than Evidently's DataDriftPreset "
                f"({n}-row reference and window, {cols})",
                "—",
                f"Evidently not measured at {n} rows: {r.evidently_problem or 'not run'}",
                "**not measured**",
            ]
        )
    else:
        rows.append(
            [
                f"drift report at least {RATIO_AIM:g}x faster than Evidently's DataDriftPreset "
                f"({n}-row reference and window, {cols})",
                "—",
                f"Steward {_s(st.seconds)} s (reference profile precomputed) vs Evidently "
                f"{_s(ev.seconds)} s: **{ratio[0]:,.0f}x** ({ratio[1]:,.0f}x building both "
                "profiles)",
                _met(ratio[0] >= RATIO_AIM),
            ]
        )
    median, lo, hi = steward_summary(r.steward[r.rows])
    rows.append(
        [
            f"Steward under {SECONDS_AIM:g} s with the reference profile precomputed "
            f"({n} rows, {cols})",
            "—",
            f"{_s(median)} s (median of {len(r.steward[r.rows])}, {_s(lo)}–{_s(hi)}; "
            f"profiling {_s(st.phases['profile'])} s, tests {st.phases['tests']:.2f} s)",
            _met(median < SECONDS_AIM),
        ]
    )
    agree = _agreement(r, r.rows)
    if agree is None:
        rows.append(["the same per-column verdicts as Evidently", "—", "no comparison", "—"])
    else:
        both_exact = _exact(st, r.expected) and _exact(ev, r.expected)
        rows.append(
            [
                "the same per-column verdicts as Evidently",
                "—",
                f"{agree[0]}/{agree[1]} columns agree at {n} rows; "
                + (
                    f"both flag exactly the {len(r.expected)} drifted columns"
                    if both_exact
                    else f"Steward flags {len(st.flagged)}, Evidently "
                    f"{len(ev.flagged) if ev else 0} (expected {len(r.expected)})"
                ),
                _met(agree[0] == agree[1] and both_exact),
            ]
        )
    mem = _memory(r)
    if mem is not None:
        small, big = mem
        rows.append(
            [
                "memory that does not grow with the number of rows",
                "—",
                f"Steward peak RSS {_mib(small)} at {r.small_rows:,} rows, {_mib(big)} at {n} "
                f"(Evidently {_mib(_peak(r.evidently.get(r.small_rows)))} → "
                f"{_mib(_peak(r.evidently.get(r.rows)))})",
                _met(big <= small * MEMORY_GROWTH)
                if _comparable(r)
                else f"**not measured** (needs both sizes at least {BATCH_ROWS:,} rows, one "
                "record batch)",
            ]
        )
    return rows


def _peak(run: ToolRun | None) -> float | None:
    return run.peak_rss_mib if run is not None else None


def _design(r: DriftResult) -> list[str]:
    drifted = [f"`{c}` ({r.design[c]})" for c in r.expected]
    return drifted


def drift_sections(r: DriftResult | None, number: int) -> list[str]:
    title = f"## {number}. Drift report against Evidently"
    if r is None:
        return ["", title, "", "NOT MEASURED: not run"]
    if r.problem is not None:
        return ["", title, "", f"NOT MEASURED: {r.problem}"]
    n = f"{r.rows:,}"
    v = r.versions
    mb = r.file_mb.get(r.rows, {})
    lines = [
        "",
        title,
        "",
        f"Run with `.venv/bin/python bench/run.py --only drift --output FILE` (part of "
        f"`make bench`); it took {r.seconds:,.0f} s, {r.generate_seconds:.0f} s of it "
        f"generating the data. Machine load (1/5/15 min) before {r.load_before}, after "
        f"{r.load_after}.",
        "",
        f"**The data**, generated once (seed {SEED}) and written as Parquet (snappy, row groups "
        f"of {BATCH_ROWS:,} rows) to a temporary directory before anything is timed, so both "
        f"tools read the same files from the page cache: a reference and a current window of "
        f"{n} rows each (about {mb.get('reference', 0):,.0f} MB a file), and of "
        f"{r.small_rows:,} rows each, with {NUMERIC} float64 columns (normal, lognormal, "
        "uniform, exponential and bimodal, a location and scale drawn for each) and "
        f"{CATEGORICAL} string columns of 3 to 30 categories (shares drawn from a Dirichlet(2)). "
        "The current window is drawn afresh from the reference's distributions except in "
        f"{len(r.expected)} columns, the expected verdict: {'; '.join(_design(r))}. A shift "
        "by s σ has a normalised Wasserstein distance of s, a spread × f one of "
        "(f − 1)·E|X − μ|/σ (0.3 or more here); the re-weighted categories are 0.2 to 0.35 "
        "in Jensen–Shannon distance. Both tools' thresholds are 0.1.",
        "",
        f"**Steward** {v.get('steward', '?')} (pyarrow {v.get('pyarrow', '?')}), each step in "
        "a fresh child process: *precompute*: the reference's `TableProfile` (default "
        "sketches, k=200) updated record batch by record batch from "
        f"`pyarrow.parquet.ParquetFile(path, pre_buffer=False).iter_batches({BATCH_ROWS:,})`"
        " and saved with `to_dict` as JSON, as a model version keeps it; *drift*: that JSON "
        "loaded with `TableProfile.from_dict`, the window's profile streamed the same way, "
        "then `table_drift(reference, current, DriftSettings())` (Evidently's choice of test "
        f"and thresholds). The drift step runs {len(r.steward.get(r.rows, []))} times at each "
        "size; the median is reported.",
        "",
        f"**Evidently** {v.get('evidently', '?')} (pandas {v.get('pandas', '?')}, numpy "
        f"{v.get('numpy', '?')}, scipy {v.get('scipy', '?')}) from its own virtual "
        "environment `.venv-evidently`, in a child process (`bench/evidently_run.py`): both "
        "files read with `pandas.read_parquet`, `Dataset.from_pandas` with a `DataDefinition` "
        "declaring the 100 numerical and 20 categorical columns, "
        "`Report([DataDriftPreset()], include_tests=True).run(current_data=..., "
        "reference_data=...)`, then `snapshot.dict()`, from which each column's method, score, "
        "threshold and verdict are read (`include_tests` adds Evidently's own drift verdict "
        "per column). One run at each size. Evidently 0.7.23 needs pandas 2 (it imports "
        "pandas internals that pandas 3 removed), so its environment pins pandas 2.3.3.",
        "",
        "**Time** is wall time of the work, after the imports (Steward's kernels import in "
        f"{_import_s(r, 'steward')} s, as they pull in the whole `steward` package; Evidently "
        f"in {_import_s(r, 'evidently')} s); **CPU** is the child's user + system time over "
        "the same work; *others' CPU* is what the rest of the machine used while the child "
        "ran, in cores (1.00: one core busy with other work all along). **Peak RSS** is "
        "the child's `VmHWM`, its own peak resident memory, imports included (after the "
        "imports: Steward "
        f"{_mib(_baseline(r, 'steward'))}, Evidently {_mib(_baseline(r, 'evidently'))}).",
        "",
    ]
    table = []
    for rows in r.sizes:
        pre = r.precompute.get(rows)
        runs = r.steward.get(rows, [])
        st = r.steward_median(rows)
        ev = r.evidently.get(rows)
        agree = _agreement(r, rows)
        agree_s = f"{agree[0]}/{agree[1]}" if agree else "—"
        if pre is not None:
            table.append(
                [
                    "Steward: reference profile (precompute)",
                    f"{rows:,}",
                    _s(pre.seconds),
                    f"{pre.extra.get('cpu_seconds', 0):.1f}",
                    _mib(pre.peak_rss_mib),
                    _others(pre),
                    "—",
                    "—",
                    "—",
                ]
            )
        if st is not None:
            median, lo, hi = steward_summary(runs)
            table.append(
                [
                    "**Steward: drift, reference precomputed**",
                    f"{rows:,}",
                    f"**{_s(median)}** ({_s(lo)}–{_s(hi)})",
                    f"{st.extra.get('cpu_seconds', 0):.1f}",
                    _mib(r.steward_peak(rows)),
                    _others(st),
                    str(len(st.flagged)),
                    "yes" if _exact(st, r.expected) else "**no**",
                    agree_s,
                ]
            )
        if rows == r.rows and r.steward_blas1:
            median, lo, hi = steward_summary(r.steward_blas1)
            mid = sorted(r.steward_blas1, key=lambda x: x.seconds)[(len(r.steward_blas1) - 1) // 2]
            table.append(
                [
                    "Steward: the same, OpenBLAS on one thread (diagnostic)",
                    f"{rows:,}",
                    f"{_s(median)} ({_s(lo)}–{_s(hi)})",
                    f"{mid.extra.get('cpu_seconds', 0):.1f}",
                    _mib(max(x.peak_rss_mib for x in r.steward_blas1)),
                    _others(mid),
                    str(len(mid.flagged)),
                    "yes" if _exact(mid, r.expected) else "**no**",
                    "",
                ]
            )
        if ev is not None:
            table.append(
                [
                    "**Evidently: DataDriftPreset**",
                    f"{rows:,}",
                    f"**{_s(ev.seconds)}**",
                    f"{ev.extra.get('cpu_seconds', 0):.1f}",
                    _mib(ev.peak_rss_mib),
                    _others(ev),
                    str(len(ev.flagged)),
                    "yes" if _exact(ev, r.expected) else "**no**",
                    agree_s,
                ]
            )
        if ev is None:
            table.append(
                [
                    "Evidently: DataDriftPreset",
                    f"{rows:,}",
                    "not measured",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            )
    lines += _table(
        [
            "tool and step",
            "rows a side",
            "time s",
            "CPU s",
            "peak RSS",
            "others' CPU",
            "columns flagged",
            f"exactly the {len(r.expected)} drifted?",
            "verdicts agree",
        ],
        table,
    )
    if r.evidently_problem is not None:
        lines += ["", f"**Evidently was not (fully) measured**: {r.evidently_problem}"]

    st, ev = r.steward_median(r.rows), r.evidently.get(r.rows)
    lines += ["", f"Where the time goes at {n} rows a side (seconds; Steward's median run):", ""]
    parts = []
    if st is not None:
        p = st.phases
        parts.append(
            [
                "Steward",
                f"load the stored reference profile {p['load']:.2f}; read the window's "
                f"Parquet {p['read']:.2f}; profile it {p['profile']:.2f}; "
                f"`table_drift` on 120 columns {p['tests']:.2f}",
            ]
        )
    if ev is not None:
        p = ev.phases
        parts.append(
            [
                "Evidently",
                f"read both files {p['read']:.1f}; `Dataset.from_pandas` {p['dataset']:.1f}; "
                f"`Report.run` {p['report']:.1f}; `snapshot.dict()` {p['result']:.2f}",
            ]
        )
    lines += _table(["tool", "steps"], parts)

    if r.steward_blas1 and st is not None:
        blas1 = steward_summary(r.steward_blas1)[0]
        lines += [
            "",
            f"The diagnostic row is the same drift step with `OPENBLAS_NUM_THREADS=1` "
            f"({_s(blas1)} s against {_s(st.seconds)} s, median of each). It was added when "
            "`NumericProfile.update` summed squared deviations with a BLAS dot product, which "
            "OpenBLAS spread over every core (waiting on the busy one); the sum is now an "
            "`einsum` that uses no BLAS threads, and the two rows should agree within the "
            "machine's noise. Steward sets no thread limit, so the headline rows are the "
            "default.",
        ]

    ratio = _ratio(r)
    lines += [""]
    if ratio is not None and st is not None and ev is not None:
        lines.append(
            f"**Evidently / Steward: {ratio[0]:,.0f}x** at {n} rows a side with the reference "
            f"profile precomputed ({_s(ev.seconds)} s against {_s(st.seconds)} s); "
            f"{ratio[1]:,.0f}x if Steward also builds the reference profile in the same run "
            "(a model version keeps it, so monitoring pays this once per version, not per "
            "window)."
        )
    lines += ["", *_verdicts(r)]
    lines += ["", *_memory_text(r)]
    lines += ["", *_aims_text(r)]
    return lines


def _others(run: ToolRun) -> str:
    """The CPU the rest of the machine used while the child ran, in cores."""
    cores = run.extra.get("others_cores")
    return "—" if cores is None else f"{cores:.2f}"


def _import_s(r: DriftResult, tool: str) -> str:
    if tool == "steward":
        run = r.steward_median(r.rows)
    else:
        run = r.evidently.get(r.rows) or r.evidently.get(r.small_rows)
    return f"{run.import_seconds:.1f}" if run is not None else "?"


def _baseline(r: DriftResult, tool: str) -> float | None:
    if tool == "steward":
        st = r.steward_median(r.rows)
        return st.baseline_rss_mib if st else None
    ev = r.evidently.get(r.rows) or r.evidently.get(r.small_rows)
    return ev.baseline_rss_mib if ev else None


def _verdicts(r: DriftResult) -> list[str]:
    lines = ["**Verdicts.**"]
    first: list[str] | None = None
    for rows in r.sizes:
        st, ev = r.steward_median(rows), r.evidently.get(rows)
        if st is None:
            continue
        flagged = sorted(st.flagged)
        if first is None:
            first = flagged
            sentence = f"At {rows:,} rows Steward flagged {_names(flagged)}"
        elif flagged == first:
            sentence = f"At {rows:,} rows Steward flagged the same {len(flagged)} columns"
        else:
            sentence = f"At {rows:,} rows Steward flagged {_names(flagged)}"
        if ev is not None:
            same = sorted(st.flagged) == sorted(ev.flagged)
            sentence += (
                "; Evidently the same columns"
                if same
                else f"; Evidently {_names(sorted(ev.flagged))}"
            )
            count = ev.extra.get("drifted_columns_count", {})
            if count:
                sentence += f" (its `DriftedColumnsCount`: {count.get('count', 0):.0f})"
        lines[-1] += " " + sentence + "."
    lines[-1] += (
        f" The expected set is the {len(r.expected)} injected columns; neither tool calls "
        "the dataset drifted (the share is under 0.5)."
    )
    # Margins and score agreement, at the main size.
    for rows in r.sizes:
        st, ev = r.steward_median(rows), r.evidently.get(rows)
        if st is None or ev is None:
            continue
        gap = r.score_gap(rows)
        methods = sorted({v.method for v in st.verdicts.values()})
        margin = []
        for m in methods:
            for tool, run in (("Steward", st), ("Evidently", ev)):
                drifted = [v.score for v in run.verdicts.values() if v.method == m and v.drifted]
                stable = [v.score for v in run.verdicts.values() if v.method == m and not v.drifted]
                margin.append(
                    [
                        f"{rows:,}",
                        m,
                        tool,
                        f"{max(stable):.4f}" if stable else "—",
                        f"{min(drifted):.4f}" if drifted else "—",
                        f"{gap[m]:.2g}" if m in gap and tool == "Steward" else "",
                    ]
                )
        lines += [""]
        lines += _table(
            [
                "rows",
                "method",
                "tool",
                "highest score, not drifted",
                "lowest score, drifted",
                "largest score difference, Steward vs Evidently",
            ],
            margin,
        )
    lines += ["", *_scores(r)]
    dis = [d for rows in r.sizes for d in r.disagreements(rows)]
    if not dis:
        if any(_agreement(r, rows) for rows in r.sizes):
            lines += ["", "**No disagreement**: every column got the same verdict from both."]
        return lines
    lines += ["", f"**Disagreements** ({len(dis)}):", ""]
    lines += _table(
        ["rows", "column", "method", "Steward score (± bound)", "Evidently score", "reason"],
        [
            [
                f"{d.rows:,}",
                f"`{d.column}`",
                d.steward.method,
                f"{d.steward.score:.4f}"
                + (f" ± {d.steward.error:.3g}" if d.steward.error else "")
                + (" drifted" if d.steward.drifted else " stable"),
                f"{d.evidently.score:.4f}" + (" drifted" if d.evidently.drifted else " stable"),
                d.reason,
            ]
            for d in dis
        ],
    )
    return lines


def _scores(r: DriftResult) -> list[str]:
    """Same tests, and how far Steward's scores are from Evidently's against the error
    bounds Steward reports."""
    same = True
    for n, ev in r.evidently.items():
        st = r.steward_median(n)
        if st is not None:
            same = same and all(
                v.method == ev.verdicts[c].method
                for c, v in st.verdicts.items()
                if c in ev.verdicts
            )
    text = (
        "Both tools chose the same test for every column"
        if same
        else "**The tools chose different tests for some columns**"
    ) + (
        " (Evidently's rule, which Steward follows: normalised Wasserstein for a numeric "
        "column, Jensen–Shannon for a categorical one, with more than 1,000 reference rows). "
        "Steward's Jensen–Shannon distances come from exact category counts, so they equal "
        "Evidently's to rounding; its Wasserstein distances come from the KLL sketches (k=200)."
    )
    for n in r.sizes:
        run, other = r.steward_median(n), r.evidently.get(n)
        if run is None or other is None:
            continue
        pairs = [
            (abs(v.score - other.verdicts[c].score), v.error)
            for c, v in run.verdicts.items()
            if v.method == "wasserstein" and c in other.verdicts
        ]
        if not pairs:
            continue
        outside = sum(1 for gap, err in pairs if err is not None and gap > err)
        bounds = [err for _, err in pairs if err is not None]
        text += (
            f" At {n:,} rows the Wasserstein differences are at most "
            f"{max(g for g, _ in pairs):.3f}; "
            + (
                "every one is within the error bound Steward reports for its column "
                f"(worst-case bounds, {min(bounds):.3f} to {max(bounds):.3f})."
                if outside == 0 and bounds
                else f"**{outside} of {len(pairs)} exceed the bound Steward reports**."
            )
        )
    return [text]


def _memory_text(r: DriftResult) -> list[str]:
    mem = _memory(r)
    if mem is None:
        return []
    small, big = mem
    ev_small, ev_big = _peak(r.evidently.get(r.small_rows)), _peak(r.evidently.get(r.rows))
    kb = r.precompute[r.rows].extra.get("profile_bytes", 0) / 1e3
    text = (
        f"**Memory.** Steward's drift step peaked at {_mib(small)} with {r.small_rows:,} rows "
        f"and {_mib(big)} with {r.rows:,} ({big / small:.2f}x for {r.rows / r.small_rows:g}x "
        f"the rows). It holds a record batch of at most {BATCH_ROWS:,} rows (all 120 "
        "columns of a row group, as pyarrow decodes it) and the two profiles (the stored "
        f"reference profile is {kb:,.0f} kB of JSON)"
    )
    if _comparable(r):
        text += ", so its memory is set by the batch size, not by the rows."
    else:
        text += (
            f"; with fewer than {BATCH_ROWS:,} rows the batch is the whole file, so these "
            "sizes cannot show whether memory grows with the rows."
        )
    if ev_small is not None and ev_big is not None:
        text += (
            f" Evidently holds both tables in pandas and grew from {_mib(ev_small)} to "
            f"{_mib(ev_big)} ({ev_big / ev_small:.1f}x)."
        )
    text += (
        " The Parquet file is opened with `pre_buffer=False`: with pyarrow's default the "
        "reader keeps every row group it has read until the file is closed, and memory "
        "then grows with the file."
    )
    return [text]


def _aims_text(r: DriftResult) -> list[str]:
    out = []
    for aim, _backend, measured, verdict in drift_aims(r):
        out.append(f"Aim: {aim}: {measured}, {verdict}.")
    return [
        " ".join(out),
        "",
        f"CPU: {cpu_model()}, {os.cpu_count()} cores, possibly shared with other work (see the "
        "load average above).",
    ]
