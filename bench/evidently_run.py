"""Evidently's ``DataDriftPreset`` over two Parquet files, for the drift benchmark.

Runs inside ``.venv-evidently`` (``make .venv-evidently/.installed``), never imports
Steward, and is started by ``bench/drift_bench.py`` as a child process of its own so that
its peak memory is its own::

    .venv-evidently/bin/python bench/evidently_run.py REF.parquet CUR.parquet SPEC OUT

``SPEC`` is a JSON file ``{"numerical": [...], "categorical": [...]}``: the column kinds,
declared in Evidently's ``DataDefinition`` rather than inferred. The report is Evidently
0.7's, as its documentation writes it::

    Report([DataDriftPreset()], include_tests=True).run(current_data=..., reference_data=...)

``include_tests=True`` makes each column's ``ValueDrift`` carry Evidently's own verdict
(a test that fails when it finds drift); without it the snapshot holds the scores only.
The verdicts, methods, scores and thresholds are read back from ``snapshot.dict()``.
``OUT`` gets JSON: the time of each step, the peak resident memory (``VmHWM``), the
versions, and per column ``{method, score, threshold, drifted}`` with Evidently's method
names (``wasserstein``, ``jensenshannon``, ...), which are also Steward's.
"""

from __future__ import annotations

import json
import platform
import resource
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (``VmHWM``: a new program image starts
    it afresh, so the parent's memory is not counted)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def rss_mib() -> float:
    """This process's resident memory now (``VmRSS``)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def cpu_seconds() -> float:
    """This process's CPU time so far (user + system, all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def method_names() -> dict[str, str]:
    """Evidently's display name of each drift method (as ``ValueDrift`` reports it, e.g.
    "Wasserstein distance (normed)") → its short name ("wasserstein")."""
    from evidently.legacy.calculations import stattests

    tests = [v for v in vars(stattests).values() if isinstance(v, stattests.StatTest)]
    return {t.display_name: t.name for t in tests}


def verdicts(snapshot: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Per column ``{method, score, threshold, drifted}`` and the ``DriftedColumnsCount``
    value, from ``snapshot.dict()``."""
    names = method_names()
    by_id: dict[str, dict[str, Any]] = {}
    count: dict[str, Any] = {}
    for m in snapshot["metrics"]:
        config = m["config"]
        kind = config["type"]
        if kind.endswith(":ValueDrift"):
            by_id[m["id"]] = {
                "column": config["column"],
                "method": names.get(config["method"], config["method"]),
                "score": float(m["value"]),
                "threshold": float(config["threshold"]),
                "drifted": None,
            }
        elif kind.endswith(":DriftedColumnsCount"):
            count = dict(m["value"])
    for t in snapshot["tests"]:
        fingerprint = t["metric_config"]["metric_id"]
        if fingerprint in by_id:
            # A drift test fails when Evidently finds drift.
            by_id[fingerprint]["drifted"] = t["status"] == "FAIL"
    missing = [v["column"] for v in by_id.values() if v["drifted"] is None]
    if missing:
        raise RuntimeError(f"no drift test in the snapshot for {missing[:5]}")
    return {v.pop("column"): v for v in by_id.values()}, count


def main(ref_path: str, cur_path: str, spec_path: str, out_path: str) -> None:
    t0 = time.perf_counter()
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    import_seconds = time.perf_counter() - t0
    baseline = rss_mib()
    cpu0 = cpu_seconds()
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    definition = DataDefinition(
        numerical_columns=spec["numerical"], categorical_columns=spec["categorical"]
    )
    phases: dict[str, float] = {}

    t = time.perf_counter()
    reference = pd.read_parquet(ref_path)
    current = pd.read_parquet(cur_path)
    phases["read"] = time.perf_counter() - t

    t = time.perf_counter()
    ref_ds = Dataset.from_pandas(reference, data_definition=definition)
    cur_ds = Dataset.from_pandas(current, data_definition=definition)
    phases["dataset"] = time.perf_counter() - t

    t = time.perf_counter()
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        current_data=cur_ds, reference_data=ref_ds
    )
    phases["report"] = time.perf_counter() - t

    t = time.perf_counter()
    columns, count = verdicts(snapshot.dict())
    phases["result"] = time.perf_counter() - t
    cpu = cpu_seconds() - cpu0

    out = {
        "rows": {"reference": len(reference), "current": len(current)},
        "phases": phases,
        "import_seconds": import_seconds,
        "baseline_rss_mib": baseline,
        "peak_rss_mib": peak_rss_mib(),
        "cpu_seconds": cpu,
        "versions": {
            "evidently": version("evidently"),
            "pandas": version("pandas"),
            "numpy": version("numpy"),
            "scipy": version("scipy"),
            "python": platform.python_version(),
        },
        "drifted_columns_count": count,
        "columns": columns,
    }
    Path(out_path).write_text(json.dumps(out), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: evidently_run.py REF.parquet CUR.parquet SPEC.json OUT.json")
    main(*sys.argv[1:])
