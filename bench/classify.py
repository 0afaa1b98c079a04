"""Datasets benchmarks: column classification against Microsoft Presidio, and registering
a 1,000,000-row x 20-column CSV within a memory bound.

Classification: the labelled table of :mod:`pii_table` (15 personal columns of 15 types,
5 non-personal ones) is classified twice, under its multilingual column names ("hinted")
and under names that give nothing away (``c01`` ... ``c20``, "unhinted"), by Steward exactly
as registration does it
(:class:`steward.datasets.scan.TableScan` over batches of ``BATCH_ROWS`` rows: every
cell's format counted, the first 1,000 values of each column plus one value per format
validated), and by Presidio's batch analyzer (:mod:`presidio_run`) over the first rows of
the same table: Presidio examines every cell with every recognizer, so a full table would
take hours; its cells-per-second rate is measured on those rows. Both are scored at column
level against the truth labels.

Registering: ``python bench/classify.py register HOME CSV`` runs one registration in a
child process and prints its wall time and peak resident memory (``VmHWM``), so the
figure is that process's own peak, imports included.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv

from pii_table import labelled_table
from presidio_run import PresidioResult, column_scores, presidio_problem, presidio_scan, to_steward
from steward.datasets.io import BATCH_ROWS
from steward.datasets.scan import TableScan
from steward.kernels.pii.hints import name_hints

__all__ = [
    "ClassifyResult",
    "RegisterResult",
    "bench_classification",
    "bench_register",
    "opaque_names",
]

SAMPLE_ROWS = 1000  # the default privacy.sample_rows


@dataclass
class RegisterResult:
    rows: int
    columns: int
    csv_bytes: int
    seconds: float
    peak_rss_mb: float
    baseline_rss_mb: float  # after imports and opening the runtime, before registering
    ref: str


@dataclass
class ClassifyResult:
    rows: int
    columns: int
    truth: dict[str, str | None]
    steward_times: list[float]
    steward_types: dict[str, str | None]
    steward_scores: dict[str, tuple[float, float]]
    steward_explanations: dict[str, str] = field(default_factory=dict)
    presidio: PresidioResult | None = None
    presidio_problem: str | None = None
    presidio_types: dict[str, str | None] = field(default_factory=dict)
    presidio_scores: dict[str, tuple[float, float]] = field(default_factory=dict)
    generate_seconds: float = 0.0
    # The same table with column names that give nothing away (hinted name -> opaque one)
    # and what each classifier said then, keyed by the hinted name.
    opaque_names: dict[str, str] = field(default_factory=dict)
    unhinted_steward_times: list[float] = field(default_factory=list)
    unhinted_steward_types: dict[str, str | None] = field(default_factory=dict)
    unhinted_steward_scores: dict[str, tuple[float, float]] = field(default_factory=dict)
    unhinted_presidio: PresidioResult | None = None
    unhinted_presidio_types: dict[str, str | None] = field(default_factory=dict)
    unhinted_presidio_scores: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def cells(self) -> int:
        return self.rows * self.columns

    @property
    def steward_seconds(self) -> float:
        return statistics.median(self.steward_times)

    @property
    def steward_rate(self) -> float:
        return self.cells / self.steward_seconds

    @property
    def ratio(self) -> float | None:
        if self.presidio is None or not self.presidio.cells_per_second:
            return None
        return self.steward_rate / self.presidio.cells_per_second


def steward_classify(table: pa.Table) -> tuple[float, list[Any]]:
    """Registration's classification over the whole table: (seconds, classifications)."""
    batches = table.to_batches(max_chunksize=BATCH_ROWS)
    t0 = time.perf_counter()
    scan = TableScan(table.schema, SAMPLE_ROWS)
    for batch in batches:
        scan.update(batch)
    classes = scan.classify()
    return time.perf_counter() - t0, classes


def opaque_names(names: list[str]) -> dict[str, str]:
    """Column names that give nothing away (``c01``, ``c02`` ...), checked against the
    classifier's hint tables so that the unhinted run is honest."""
    out = {n: f"c{i + 1:02d}" for i, n in enumerate(names)}
    hinted = [o for o in out.values() if name_hints(o).types or name_hints(o).national_id]
    if hinted:
        raise RuntimeError(f"opaque column names hint at a class: {hinted}")
    return out


def bench_classification(
    rows: int, presidio_rows: int, repeats: int, log: Any = print
) -> ClassifyResult:
    t0 = time.perf_counter()
    table, truth = labelled_table(rows=rows)
    generated = time.perf_counter() - t0
    log(f"[datasets] labelled table {rows:,} x {table.num_columns} built in {generated:.1f} s")
    times: list[float] = []
    classes: list[Any] = []
    for _ in range(repeats):
        seconds, classes = steward_classify(table)
        times.append(seconds)
    steward_types = {c.column: c.pii_type for c in classes}
    result = ClassifyResult(
        rows=table.num_rows,
        columns=table.num_columns,
        truth=truth,
        steward_times=times,
        steward_types=steward_types,
        steward_scores=column_scores(truth, steward_types),
        steward_explanations={c.column: c.explanation for c in classes},
        generate_seconds=generated,
    )
    log(f"[datasets] Steward: {result.steward_rate:,.0f} cells/s")
    names = opaque_names(table.column_names)
    back = {o: n for n, o in names.items()}
    opaque = table.rename_columns([names[n] for n in table.column_names])
    result.opaque_names = names
    for _ in range(repeats):
        seconds, classes = steward_classify(opaque)
        result.unhinted_steward_times.append(seconds)
    result.unhinted_steward_types = {back[c.column]: c.pii_type for c in classes}
    result.unhinted_steward_scores = column_scores(truth, result.unhinted_steward_types)
    right = sum(result.unhinted_steward_types[c] == t for c, t in truth.items())
    log(f"[datasets] Steward, unhinted names: {right}/{len(truth)} columns right")
    problem = presidio_problem()
    if problem is not None:
        result.presidio_problem = problem
        log(f"[datasets] Presidio NOT MEASURED: {problem}")
        return result
    log(f"[datasets] Presidio over the first {presidio_rows:,} rows")
    presidio = presidio_scan(table, rows=presidio_rows)
    result.presidio = presidio
    result.presidio_types = {c: to_steward(e) for c, e in presidio.column_entity.items()}
    result.presidio_scores = column_scores(truth, result.presidio_types)
    log(f"[datasets] Presidio: {presidio.cells_per_second:,.0f} cells/s")
    log(f"[datasets] Presidio over the first {presidio_rows:,} rows, unhinted names")
    unhinted = presidio_scan(opaque, rows=presidio_rows)
    result.unhinted_presidio = unhinted
    result.unhinted_presidio_types = {
        back[c]: to_steward(e) for c, e in unhinted.column_entity.items()
    }
    result.unhinted_presidio_scores = column_scores(truth, result.unhinted_presidio_types)
    return result


def bench_register(rows: int, log: Any = print) -> RegisterResult:
    """Write the labelled table as CSV, register it in a child process, read its peak."""
    table, _ = labelled_table(rows=rows)
    with tempfile.TemporaryDirectory(prefix="steward-bench-register-") as tmp:
        csv = Path(tmp) / "labelled.csv"
        pcsv.write_csv(table, csv)
        del table
        size = csv.stat().st_size
        log(f"[datasets] register a {size / 1e6:,.0f} MB CSV ({rows:,} rows) in a child process")
        out = subprocess.run(
            [sys.executable, __file__, "register", str(Path(tmp) / "home"), str(csv)],
            check=True,
            capture_output=True,
            text=True,
        )
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    return RegisterResult(csv_bytes=size, **facts)


def _peak_rss_mib() -> float:
    """This process's peak resident memory: VmHWM, which a new program image starts
    afresh (``ru_maxrss`` would carry over the parent's peak at fork, the labelled table
    included)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def _register_child(home_dir: str, csv: str) -> None:
    from steward.config import init_home
    from steward.datasets import DatasetService
    from steward.policy import Principal
    from steward.runtime import Runtime

    rt = Runtime.open(init_home(Path(home_dir)))
    baseline = _peak_rss_mib()
    t0 = time.perf_counter()
    info = DatasetService(rt).register(Principal("alice"), Path(csv), name="bench", team="risk")
    seconds = time.perf_counter() - t0
    peak = _peak_rss_mib()
    facts = {
        "rows": info.rows,
        "columns": info.columns,
        "seconds": seconds,
        "peak_rss_mb": peak,
        "baseline_rss_mb": baseline,
        "ref": info.ref,
    }
    print(json.dumps(facts))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "register":
        _register_child(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: python bench/classify.py register HOME CSV")
