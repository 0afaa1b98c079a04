"""Drift report against Evidently: 100 numeric and 20 categorical columns, a reference and
a current window of the same size, by Steward and by Evidently's ``DataDriftPreset``.

The data is generated once, seeded, into a temporary directory as Parquet (row groups of
:data:`BATCH_ROWS` rows): 100 float columns of five shapes and 20 string columns of 3 to
30 categories, reference and current. In the current window :data:`DRIFTED_NUMERIC`
numeric columns are shifted or rescaled well past Evidently's 0.1 normalised Wasserstein
distance and :data:`DRIFTED_CATEGORICAL` categorical ones re-weighted well past its 0.1
Jensen–Shannon distance; every other column is drawn from the reference's distribution.
The injected columns are the expected verdict.

Each tool then runs in a child process of its own, so that its peak resident memory
(``VmHWM``, which a new program image starts afresh) is its own:

- **Steward, precompute**: the reference's ``TableProfile``, streamed over record
  batches, saved as JSON (``to_dict``), as a model version keeps it;
- **Steward, drift**: the stored reference profile loaded, the current window's profile
  streamed over record batches, and ``table_drift`` with the default ``DriftSettings``
  (Evidently's choice of test and thresholds) — the figure the issue's "under 10 s with
  the reference profile precomputed" is about; timed in parts (load, read, profile,
  tests) and run :data:`STEWARD_RUNS` times;
- **Evidently**: ``bench/evidently_run.py`` in ``.venv-evidently``, reading the same two
  files with pandas and running ``Report([DataDriftPreset()])`` with the kinds declared;
- a diagnostic: at ``rows``, each Steward drift run is followed by the same run with
  OpenBLAS held to one thread (see :func:`_steward_runs`).

Both tools run at ``rows`` and at ``small_rows`` (Steward's peak memory should not grow
with the rows). Verdicts are compared column by column at each size; every disagreement
is listed with both scores and its reason.

Run alone with ``.venv/bin/python bench/drift_bench.py [--rows N --small-rows M]``, which
prints section 14 of ``docs/benchmarks.md``; ``bench/run.py --only drift`` runs the same.
"""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from loadgen import _machine_cpu
from machine import load_average
from mdtable import version_of

__all__ = [
    "BATCH_ROWS",
    "CATEGORICAL",
    "DRIFTED_CATEGORICAL",
    "DRIFTED_NUMERIC",
    "EVIDENTLY_PYTHON",
    "NUMERIC",
    "ROWS",
    "SEED",
    "SMALL_ROWS",
    "STEWARD_RUNS",
    "Disagreement",
    "DriftResult",
    "ToolRun",
    "Verdict",
    "bench_drift",
    "steward_summary",
]

BENCH = Path(__file__).resolve().parent
EVIDENTLY_PYTHON = BENCH.parent / ".venv-evidently" / "bin" / "python"
ROWS = 1_000_000
SMALL_ROWS = 100_000
NUMERIC = 100
CATEGORICAL = 20
DRIFTED_NUMERIC = 10
DRIFTED_CATEGORICAL = 4
#: rows per Parquet row group and per record batch Steward reads, what it holds at once:
#: the batch size of Steward's own readers (``steward.datasets.io.BATCH_ROWS``)
BATCH_ROWS = 65_536
STEWARD_RUNS = 3
SEED = 20261129
SHAPES = ("normal", "lognormal", "uniform", "exponential", "bimodal")
#: target Jensen–Shannon distance of a re-weighted categorical column (threshold 0.1)
JS_TARGET = (0.2, 0.35)


# -- the data ------------------------------------------------------------------------------
@dataclass(frozen=True)
class NumericSpec:
    name: str
    shape: str
    loc: float
    scale: float
    drift: str | None = None  # "shift" or "scale"
    amount: float = 0.0  # shift in reference standard deviations, or the scale factor

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` values of the reference distribution."""
        if self.shape == "normal":
            x = rng.standard_normal(n)
        elif self.shape == "lognormal":
            x = rng.lognormal(0.0, 0.6, n)
        elif self.shape == "uniform":
            x = rng.uniform(-1.0, 1.0, n)
        elif self.shape == "exponential":
            x = rng.exponential(1.0, n)
        else:  # bimodal: two normals, 30 % and 70 %
            x = np.where(rng.random(n) < 0.3, -2.0, 1.5) + 0.6 * rng.standard_normal(n)
        return self.loc + self.scale * x

    @property
    def std(self) -> float:
        """The reference's population standard deviation."""
        unit = {
            "normal": 1.0,
            "lognormal": math.sqrt((math.exp(0.36) - 1) * math.exp(0.36)),
            "uniform": 1 / math.sqrt(3),
            "exponential": 1.0,
            "bimodal": math.sqrt(0.36 + 0.3 * 0.7 * 3.5**2),
        }[self.shape]
        return self.scale * unit

    @property
    def mean(self) -> float:
        unit = {
            "normal": 0.0,
            "lognormal": math.exp(0.18),
            "uniform": 0.0,
            "exponential": 1.0,
            "bimodal": 0.3 * -2.0 + 0.7 * 1.5,
        }[self.shape]
        return self.loc + self.scale * unit

    def drifted(self, x: np.ndarray) -> np.ndarray:
        """The current window's values: the reference's, shifted or rescaled."""
        if self.drift == "shift":
            return x + self.amount * self.std
        if self.drift == "scale":
            return self.mean + (x - self.mean) * self.amount
        return x

    def describe(self) -> str:
        if self.drift == "shift":
            return f"{self.shape}, shifted by {self.amount:.2f} σ"
        if self.drift == "scale":
            return f"{self.shape}, spread × {self.amount:.2f}"
        return self.shape


@dataclass(frozen=True)
class CategoricalSpec:
    name: str
    categories: list[str]
    reference: np.ndarray  # shares
    current: np.ndarray

    @property
    def drift(self) -> bool:
        return not np.array_equal(self.reference, self.current)

    def describe(self) -> str:
        js = js_distance(self.reference, self.current)
        if self.drift:
            return f"{len(self.categories)} categories re-weighted, JS {js:.3f}"
        return f"{len(self.categories)} categories"


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon distance (natural log) between two share vectors."""
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log(a[nz] / m[nz])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


def _reweight(p: np.ndarray, rng: np.random.Generator, target: float) -> np.ndarray:
    """Shares ``p · exp(β z)``, renormalised, with β found by bisection so that the
    Jensen–Shannon distance to ``p`` is ``target``."""
    z = rng.standard_normal(len(p))

    def q(beta: float) -> np.ndarray:
        w = p * np.exp(beta * z)
        return np.asarray(w / w.sum())

    lo, hi = 0.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if js_distance(p, q(mid)) < target:
            lo = mid
        else:
            hi = mid
    return q(hi)


@dataclass(frozen=True)
class DataSpec:
    numeric: list[NumericSpec]
    categorical: list[CategoricalSpec]

    @property
    def expected(self) -> list[str]:
        """The columns whose distribution was changed in the current window."""
        return [c.name for c in self.numeric if c.drift] + [
            c.name for c in self.categorical if c.drift
        ]

    def design(self) -> dict[str, str]:
        out = {c.name: c.describe() for c in self.numeric}
        out.update({c.name: c.describe() for c in self.categorical})
        return out


def data_spec(seed: int = SEED) -> DataSpec:
    """The columns, their distributions and the injected drift, from ``seed``."""
    rng = np.random.default_rng(seed)
    drift_num = set(rng.choice(NUMERIC, DRIFTED_NUMERIC, replace=False).tolist())
    numeric: list[NumericSpec] = []
    for i in range(NUMERIC):
        kind = None
        amount = 0.0
        if i in drift_num:
            if len(numeric) % 2 == 0 or SHAPES[i % len(SHAPES)] == "lognormal":
                kind, amount = "shift", float(rng.uniform(0.3, 0.6))
            else:
                kind, amount = "scale", float(rng.uniform(1.5, 2.0))
        numeric.append(
            NumericSpec(
                name=f"num_{i:03d}",
                shape=SHAPES[i % len(SHAPES)],
                loc=float(rng.uniform(-100, 100)),
                scale=float(10 ** rng.uniform(-2, 3)),
                drift=kind,
                amount=amount,
            )
        )
    drift_cat = set(rng.choice(CATEGORICAL, DRIFTED_CATEGORICAL, replace=False).tolist())
    categorical: list[CategoricalSpec] = []
    for j in range(CATEGORICAL):
        k = int(rng.integers(3, 31))
        p = rng.dirichlet(np.full(k, 2.0))
        q = _reweight(p, rng, float(rng.uniform(*JS_TARGET))) if j in drift_cat else p
        categorical.append(
            CategoricalSpec(
                name=f"cat_{j:02d}",
                categories=[f"c{j:02d}_{v:02d}" for v in range(k)],
                reference=p,
                current=q,
            )
        )
    return DataSpec(numeric, categorical)


def _chunk(spec: DataSpec, side: str, index: int, n: int) -> pa.Table:
    """Rows ``index * BATCH_ROWS`` on of one side, from a generator of their own (so a
    smaller file is the first rows of a larger one)."""
    rng = np.random.default_rng([SEED, 0 if side == "reference" else 1, index])
    cols: dict[str, pa.Array] = {}
    for c in spec.numeric:
        x = c.draw(rng, n)
        cols[c.name] = pa.array(c.drifted(x) if side == "current" else x)
    for cat in spec.categorical:
        shares = cat.current if side == "current" else cat.reference
        codes = rng.choice(len(shares), size=n, p=shares).astype(np.int32)
        dictionary = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(cat.categories))
        cols[cat.name] = dictionary.dictionary_decode()
    return pa.table(cols)


def write_side(spec: DataSpec, side: str, rows: int, path: Path) -> None:
    """One side as Parquet, generated and written a row group at a time."""
    writer: pq.ParquetWriter | None = None
    try:
        for index, start in enumerate(range(0, rows, BATCH_ROWS)):
            chunk = _chunk(spec, side, index, min(BATCH_ROWS, rows - start))
            if writer is None:
                writer = pq.ParquetWriter(path, chunk.schema)
            writer.write_table(chunk, row_group_size=BATCH_ROWS)
    finally:
        if writer is not None:
            writer.close()


# -- results -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    """One tool's verdict on one column."""

    method: str
    score: float
    threshold: float
    drifted: bool
    error: float | None = None  # Steward: bound on |statistic - exact| (sketches)
    basis: str | None = None  # Steward: profile (exact counts) or sketch


@dataclass
class ToolRun:
    """One child process: a tool at one size."""

    tool: str
    rows: int
    phases: dict[str, float]  # step → seconds (the timed work)
    peak_rss_mib: float
    baseline_rss_mib: float  # after the imports, before any data
    import_seconds: float
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(self.phases.values())

    @property
    def flagged(self) -> list[str]:
        return [c for c, v in self.verdicts.items() if v.drifted]


@dataclass(frozen=True)
class Disagreement:
    column: str
    rows: int
    steward: Verdict
    evidently: Verdict
    reason: str


@dataclass
class DriftResult:
    rows: int
    small_rows: int
    numeric: list[str]
    categorical: list[str]
    expected: list[str]
    design: dict[str, str]
    file_mb: dict[int, dict[str, float]] = field(default_factory=dict)  # rows → side → MB
    generate_seconds: float = 0.0
    precompute: dict[int, ToolRun] = field(default_factory=dict)
    steward: dict[int, list[ToolRun]] = field(default_factory=dict)
    #: diagnostic: the drift step at ``rows`` with OpenBLAS held to one thread
    steward_blas1: list[ToolRun] = field(default_factory=list)
    evidently: dict[int, ToolRun] = field(default_factory=dict)
    evidently_problem: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    load_before: str = ""
    load_after: str = ""
    seconds: float = 0.0
    problem: str | None = None

    @property
    def sizes(self) -> list[int]:
        return sorted({self.rows, self.small_rows}, reverse=True)

    def steward_median(self, rows: int) -> ToolRun | None:
        """The Steward drift run with the median total time at ``rows``."""
        runs = sorted(self.steward.get(rows, []), key=lambda r: r.seconds)
        return runs[(len(runs) - 1) // 2] if runs else None

    def steward_peak(self, rows: int) -> float | None:
        runs = self.steward.get(rows, [])
        return max(r.peak_rss_mib for r in runs) if runs else None

    def disagreements(self, rows: int) -> list[Disagreement]:
        st, ev = self.steward_median(rows), self.evidently.get(rows)
        if st is None or ev is None:
            return []
        out = []
        for col in [*self.numeric, *self.categorical]:
            s, e = st.verdicts.get(col), ev.verdicts.get(col)
            if s is None or e is None:
                continue
            if s.drifted != e.drifted:
                out.append(Disagreement(col, rows, s, e, _reason(s, e)))
        return out

    def score_gap(self, rows: int) -> dict[str, float]:
        """Largest |Steward score − Evidently score| per method, over columns where both
        used that method."""
        st, ev = self.steward_median(rows), self.evidently.get(rows)
        if st is None or ev is None:
            return {}
        gaps: dict[str, float] = {}
        for col, s in st.verdicts.items():
            e = ev.verdicts.get(col)
            if e is not None and e.method == s.method:
                gaps[s.method] = max(gaps.get(s.method, 0.0), abs(s.score - e.score))
        return gaps


def _reason(s: Verdict, e: Verdict) -> str:
    if s.method != e.method:
        return f"different method: Steward {s.method}, Evidently {e.method}"
    if s.threshold != e.threshold:
        return f"different threshold: Steward {s.threshold:g}, Evidently {e.threshold:g}"
    if s.error is not None and abs(e.score - s.threshold) <= s.error:
        return (
            f"Evidently's exact score is within Steward's sketch error bound "
            f"(±{s.error:.3g}) of the threshold {s.threshold:g}"
        )
    if s.error is None:
        return "scores differ and the sketch gives no error bound for this method"
    return (
        f"unexplained: the scores differ by {abs(s.score - e.score):.3g}, the sketch's "
        f"bound is {s.error:.3g}"
    )


# -- child processes -----------------------------------------------------------------------
def _status_mib(key: str) -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {key} in /proc/self/status (Linux only)")


def _cpu_seconds() -> float:
    """This process's CPU time so far (user + system, all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _batches(path: str, phases: dict[str, float], key: str) -> Iterator[pa.RecordBatch]:
    """The file's record batches, adding the time spent reading them to ``phases[key]``.

    ``pre_buffer=False``: with pyarrow's default (True) the reader keeps every row group
    it has read until the file is closed, so memory would grow with the file."""
    it = pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size=BATCH_ROWS)
    while True:
        t = time.perf_counter()
        batch = next(it, None)
        phases[key] = phases.get(key, 0.0) + time.perf_counter() - t
        if batch is None:
            return
        yield batch


def _profile_child(src: str, out_profile: str, out: str) -> None:
    """Child: the reference's profile, streamed, saved as JSON."""
    t0 = time.perf_counter()
    from steward.kernels.profile import TableProfile

    import_seconds = time.perf_counter() - t0
    baseline = _status_mib("VmRSS")
    cpu0 = _cpu_seconds()
    phases: dict[str, float] = {"read": 0.0, "profile": 0.0}
    profile = TableProfile()
    for batch in _batches(src, phases, "read"):
        t = time.perf_counter()
        profile.update(batch)
        phases["profile"] += time.perf_counter() - t
    t = time.perf_counter()
    Path(out_profile).write_text(json.dumps(profile.to_dict()), encoding="utf-8")
    phases["save"] = time.perf_counter() - t
    facts = {
        "rows": profile.rows,
        "phases": phases,
        "import_seconds": import_seconds,
        "baseline_rss_mib": baseline,
        "peak_rss_mib": _status_mib("VmHWM"),
        "cpu_seconds": _cpu_seconds() - cpu0,
        "profile_bytes": Path(out_profile).stat().st_size,
    }
    Path(out).write_text(json.dumps(facts), encoding="utf-8")


def _drift_child(ref_profile: str, cur: str, out: str) -> None:
    """Child: load the stored reference profile, stream the window's, test every column."""
    t0 = time.perf_counter()
    from steward.kernels.drift import DriftSettings, table_drift
    from steward.kernels.profile import TableProfile

    import_seconds = time.perf_counter() - t0
    baseline = _status_mib("VmRSS")
    cpu0 = _cpu_seconds()
    phases: dict[str, float] = {}
    t = time.perf_counter()
    reference = TableProfile.from_dict(json.loads(Path(ref_profile).read_text("utf-8")))
    phases["load"] = time.perf_counter() - t
    phases["read"] = phases["profile"] = 0.0
    current = TableProfile()
    for batch in _batches(cur, phases, "read"):
        t = time.perf_counter()
        current.update(batch)
        phases["profile"] += time.perf_counter() - t
    t = time.perf_counter()
    report = table_drift(reference, current, DriftSettings())
    phases["tests"] = time.perf_counter() - t
    cpu = _cpu_seconds() - cpu0
    columns = {}
    for name, c in report.columns.items():
        if c.test is None:
            raise RuntimeError(f"column {name!r} was not tested: {c.reason}")
        columns[name] = {
            "method": c.test.method,
            "score": c.test.score,
            "threshold": c.test.threshold,
            "drifted": c.status == "drifted",
            "error": c.test.error,
            "basis": c.test.basis,
        }
    facts = {
        "rows": current.rows,
        "reference_rows": reference.rows,
        "phases": phases,
        "import_seconds": import_seconds,
        "baseline_rss_mib": baseline,
        "peak_rss_mib": _status_mib("VmHWM"),
        "cpu_seconds": cpu,
        "dataset_drift": report.dataset_drift,
        "columns": columns,
    }
    Path(out).write_text(json.dumps(facts), encoding="utf-8")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run_child(cmd: list[str], out: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a child to completion and return the facts it wrote to ``out``, with
    ``others_cores``: the CPU the rest of the machine used meanwhile, in cores."""
    all0, own0, t0 = _machine_cpu(), _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    all1, own1, wall = _machine_cpu(), _children_cpu(), time.perf_counter() - t0
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"{Path(cmd[1]).name} {cmd[2]} exited {proc.returncode}:\n{tail}")
    facts: dict[str, Any] = json.loads(out.read_text("utf-8"))
    if all0 is not None and all1 is not None:
        facts["others_cores"] = max(0.0, all1 - all0 - (own1 - own0)) / wall
    return facts


def _tool_run(tool: str, facts: dict[str, Any]) -> ToolRun:
    verdicts = {
        name: Verdict(
            method=v["method"],
            score=float(v["score"]),
            threshold=float(v["threshold"]),
            drifted=bool(v["drifted"]),
            error=v.get("error"),
            basis=v.get("basis"),
        )
        for name, v in facts.get("columns", {}).items()
    }
    extra = {
        k: v
        for k, v in facts.items()
        if k not in ("phases", "peak_rss_mib", "baseline_rss_mib", "import_seconds", "columns")
    }
    rows = facts["rows"]
    return ToolRun(
        tool=tool,
        rows=int(rows["current"] if isinstance(rows, dict) else rows),
        phases={k: float(v) for k, v in facts["phases"].items()},
        peak_rss_mib=float(facts["peak_rss_mib"]),
        baseline_rss_mib=float(facts["baseline_rss_mib"]),
        import_seconds=float(facts["import_seconds"]),
        verdicts=verdicts,
        extra=extra,
    )


def evidently_problem() -> str | None:
    """Why Evidently cannot run here, or None."""
    if not EVIDENTLY_PYTHON.exists():
        return f"{EVIDENTLY_PYTHON} not found: run `make .venv-evidently/.installed`"
    proc = subprocess.run(
        [str(EVIDENTLY_PYTHON), "-c", "import evidently; print(evidently.__version__)"],
        capture_output=True,
        text=True,
        env={**os.environ, "DO_NOT_TRACK": "1"},
    )
    if proc.returncode != 0:
        return "cannot import evidently in .venv-evidently: " + proc.stderr.strip()[-300:]
    return None


# -- the benchmark -------------------------------------------------------------------------
def _steward_runs(
    result: DriftResult,
    paths: dict[tuple[int, str], Path],
    tmp: Path,
    runs: int,
    log: Callable[[str], None],
) -> None:
    """At each size: the reference profile once, then ``runs`` drift steps against it."""
    me = [sys.executable, str(Path(__file__).resolve())]
    # Diagnostic, not Steward's configuration: NumericProfile's sum of squares was a BLAS
    # dot product, which OpenBLAS spread over every core (now an einsum without threads).
    # At the main size each drift run is followed by the same step with OpenBLAS on one
    # thread, interleaved so that the machine's load hits both: they should now agree.
    one_blas = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    for n in sorted(result.sizes):
        ref, cur = str(paths[n, "reference"]), str(paths[n, "current"])
        profile = tmp / f"reference-{n}.profile.json"
        out = tmp / "out.json"
        log(f"[drift] Steward: reference profile of {n:,} rows (precompute)")
        facts = _run_child([*me, "profile", ref, str(profile), str(out)], out)
        result.precompute[n] = _tool_run("Steward", facts)
        drift = [*me, "drift", str(profile), cur, str(out)]
        for i in range(runs):
            log(f"[drift] Steward: drift of {n:,} rows, run {i + 1} of {runs}")
            run = _tool_run("Steward", _run_child(drift, out))
            result.steward.setdefault(n, []).append(run)
            log(f"[drift]   {run.seconds:.2f} s, peak {run.peak_rss_mib:,.0f} MiB")
            if n == result.rows:
                run = _tool_run("Steward", _run_child(drift, out, env=one_blas))
                result.steward_blas1.append(run)
                log(f"[drift]   OpenBLAS on one thread: {run.seconds:.2f} s")


def bench_drift(
    rows: int = ROWS,
    small_rows: int = SMALL_ROWS,
    *,
    evidently: bool = True,
    steward_runs: int = STEWARD_RUNS,
    log: Callable[[str], None] = print,
) -> DriftResult:
    """Generate the data, run Steward and Evidently at ``rows`` and ``small_rows``."""
    spec = data_spec()
    result = DriftResult(
        rows=rows,
        small_rows=small_rows,
        numeric=[c.name for c in spec.numeric],
        categorical=[c.name for c in spec.categorical],
        expected=spec.expected,
        design=spec.design(),
        load_before=load_average(),
        versions={"steward": version_of("steward"), "pyarrow": version_of("pyarrow")},
    )
    t_all = time.perf_counter()
    problem = evidently_problem() if evidently else "skipped (evidently=False)"
    result.evidently_problem = problem
    if problem is not None:
        log(f"[drift] Evidently NOT MEASURED: {problem}")
    with tempfile.TemporaryDirectory(prefix="steward-bench-drift-") as tmp_name:
        tmp = Path(tmp_name)
        kinds = {"numerical": result.numeric, "categorical": result.categorical}
        spec_path = tmp / "spec.json"
        spec_path.write_text(json.dumps(kinds), encoding="utf-8")
        t = time.perf_counter()
        paths: dict[tuple[int, str], Path] = {}
        for n in result.sizes:
            for side in ("reference", "current"):
                path = tmp / f"{side}-{n}.parquet"
                log(f"[drift] generate {side}, {n:,} rows x {NUMERIC + CATEGORICAL} columns")
                write_side(spec, side, n, path)
                paths[n, side] = path
                result.file_mb.setdefault(n, {})[side] = path.stat().st_size / 1e6
        result.generate_seconds = time.perf_counter() - t

        try:
            _steward_runs(result, paths, tmp, steward_runs, log)
        except RuntimeError as exc:
            result.problem = f"Steward's child process failed: {exc}"
            log(f"[drift] FAILED: {exc}")

        if problem is None and result.problem is None:
            env = {**os.environ, "DO_NOT_TRACK": "1"}
            for n in sorted(result.sizes):
                out = tmp / "evidently.json"
                log(f"[drift] Evidently DataDriftPreset on {n:,} rows a side")
                t = time.perf_counter()
                try:
                    facts = _run_child(
                        [
                            str(EVIDENTLY_PYTHON),
                            str(BENCH / "evidently_run.py"),
                            str(paths[n, "reference"]),
                            str(paths[n, "current"]),
                            str(spec_path),
                            str(out),
                        ],
                        out,
                        env=env,
                    )
                except RuntimeError as exc:
                    result.evidently_problem = f"at {n:,} rows: {exc}"
                    log(f"[drift] Evidently FAILED: {exc}")
                    break
                run = _tool_run("Evidently", facts)
                result.evidently[n] = run
                result.versions.update(facts.get("versions", {}))
                log(
                    f"[drift]   {run.seconds:.1f} s ({time.perf_counter() - t:.1f} s with "
                    f"its start), peak {run.peak_rss_mib:,.0f} MiB"
                )
    result.load_after = load_average()
    result.seconds = time.perf_counter() - t_all
    return result


def steward_summary(runs: list[ToolRun]) -> tuple[float, float, float]:
    """(median, lowest, highest) total seconds of Steward's drift runs."""
    times = [r.seconds for r in runs]
    return statistics.median(times), min(times), max(times)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "profile":
        _profile_child(*sys.argv[2:])
    elif len(sys.argv) == 5 and sys.argv[1] == "drift":
        _drift_child(*sys.argv[2:])
    else:
        import argparse

        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--rows", type=int, default=ROWS)
        parser.add_argument("--small-rows", type=int, default=SMALL_ROWS)
        parser.add_argument("--no-evidently", action="store_true")
        parser.add_argument("--json", type=Path, help="also write the raw result here")
        args = parser.parse_args()
        res = bench_drift(args.rows, args.small_rows, evidently=not args.no_evidently)
        if args.json:
            args.json.write_text(json.dumps(asdict(res), indent=1), encoding="utf-8")
        from report_drift import drift_sections

        print("\n".join(drift_sections(res, 14)))
