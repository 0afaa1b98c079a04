"""The prediction log: every scored row, written in batches off the request path.

The request path only appends a :class:`Scored` (references to the arrays it already has)
to a buffer; a background thread turns the buffer into rows of the ``predictions`` table
every ``serving.log_flush_seconds`` (default 1 s), or sooner when ``serving.log_batch``
rows are waiting. A crash therefore loses at most one flush interval of log, never an
answer. If the database cannot be written, the rows stay buffered (up to
``serving.log_buffer`` rows; beyond that the oldest are dropped and counted in
``steward_prediction_log_dropped_rows_total``) and the next flush tries again.

Inputs are stored masked by the category the model's training data classification gave
each column (``serving.log_mask``): direct identifiers and special-category columns are
pseudonymised with the home's pseudonym key (the same pseudonym as in masked datasets, so
distributions and joins survive), free text is redacted, quasi-identifiers are kept.

A row is identified by (endpoint, request id, row, role); writing one that is already
logged is a no-op, so a request delivered twice (the stream consumer's at-least-once
delivery) is logged once.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from steward.config import LogMask, Serving
from steward.kernels.masking import pseudonymise, redact
from steward.store import EndpointCount, Prediction, Store, governed_writes

__all__ = ["LogPlan", "PredictionLog", "Scored", "log_plan"]

_log = logging.getLogger("steward.serving.log")
ROLES = ("primary", "shadow")


@dataclass(frozen=True)
class LogPlan:
    """How one model version's rows are logged: its ref, its inputs as (input name, logged
    column, masking operator), and its output names."""

    model: str
    inputs: tuple[tuple[str, str, str], ...]
    outputs: tuple[str, ...]

    @property
    def masked(self) -> dict[str, str]:
        return {col: op for _, col, op in self.inputs if op != "keep"}


def log_plan(
    model: str,
    inputs: Sequence[Mapping[str, Any]],
    outputs: Sequence[Mapping[str, Any]],
    categories: Mapping[str, str],
    mask: LogMask,
) -> LogPlan:
    """The plan for a model whose inputs' columns have the given classification categories
    (column → ``direct`` | ``quasi`` | ``special`` | ``free_text`` | ``none``)."""
    ops = mask.model_dump()
    planned = []
    for spec in inputs:
        column = str(spec.get("column", spec["name"]))
        planned.append((str(spec["name"]), column, ops.get(categories.get(column, "none"), "keep")))
    return LogPlan(model, tuple(planned), tuple(str(o["name"]) for o in outputs))


@dataclass(slots=True)
class Scored:
    """One answered request (or a shadow's answer to it), as the request path hands it
    over: nothing is converted until the log is flushed."""

    endpoint: str
    request_id: str
    role: str
    revision: int
    plan: LogPlan
    source: str
    at: float  # time.time()
    latency_ms: float
    feeds: Mapping[str, npt.NDArray[Any]]
    outputs: Sequence[Any]
    rows: int
    first_row: int = 0


class PredictionLog:
    """Buffered writer of the ``predictions`` table (see the module docs)."""

    def __init__(
        self,
        store: Store,
        settings: Serving,
        pseudonym_key: bytes,
        registry: CollectorRegistry | None = None,
        meter: Callable[[Session, Sequence[Scored]], None] | None = None,
    ) -> None:
        self.store = store
        self._meter = meter  # called in each write's transaction: the entries' cost
        self.flush_seconds = settings.log_flush_seconds
        self.batch = settings.log_batch
        self.capacity = settings.log_buffer
        self._key = pseudonym_key
        self._buf: list[Scored] = []
        self._rows = 0
        self._counts: dict[tuple[str, int, str], int] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._written = Counter(
            "steward_prediction_log_rows",
            "Rows written to the prediction log.",
            registry=registry,
        )
        self._dropped = Counter(
            "steward_prediction_log_dropped_rows",
            "Rows dropped from the prediction log because the buffer was full.",
            registry=registry,
        )
        self._failures = Counter(
            "steward_prediction_log_flush_failures",
            "Flushes of the prediction log that failed (the rows stay buffered).",
            registry=registry,
        )

    # -- the request path --------------------------------------------------------------------
    def add(self, entry: Scored) -> None:
        with self._lock:
            self._buf.append(entry)
            self._rows += entry.rows
            dropped = self._trim()
            full = self._rows >= self.batch
            start = self._new_thread()
        if dropped:
            self._dropped.inc(dropped)
        if start is not None:
            start.start()
        if full:
            self._wake.set()

    def _new_thread(self) -> threading.Thread | None:
        """A writer thread to start, if none runs (under the lock)."""
        if self._thread is not None and self._thread.is_alive():
            return None
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="steward-prediction-log", daemon=True
        )
        atexit.register(self.close)
        return self._thread

    def _trim(self) -> int:
        """Drop the oldest entries beyond the capacity (under the lock)."""
        dropped = 0
        while self._rows > self.capacity and len(self._buf) > 1:
            old = self._buf.pop(0)
            self._rows -= old.rows
            dropped += old.rows
        return dropped

    @property
    def pending(self) -> int:
        """Rows waiting to be written."""
        return self._rows

    # -- the background thread ---------------------------------------------------------------
    def _run(self) -> None:
        idle = 0.0
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            if self.flush():
                idle = 0.0
            else:
                idle += self.flush_seconds
                if idle >= 60 and not self._rows and not self._counts:
                    with self._lock:  # nothing for a minute: the next add starts a new one
                        if not self._rows and not self._counts:
                            self._thread = None
                            return

    def flush(self) -> int:
        """Write what is buffered now; returns the rows written (0 if the write failed:
        the rows are put back and the next flush tries again)."""
        with self._flushing:
            with self._lock:
                batch, self._buf, self._rows = self._buf, [], 0
                counts, self._counts = self._counts, {}
            if not batch and not counts:
                return 0
            try:
                written = self.write(batch, counts)
            except Exception as exc:  # the database is away: keep the rows, say so once
                self._failures.inc()
                _log.warning(
                    "prediction log: writing %d row(s) and %d request count(s) failed, kept "
                    "for the next flush: %s",
                    sum(e.rows for e in batch),
                    len(counts),
                    type(exc).__name__,
                )
                with self._lock:
                    self._buf[:0] = batch
                    self._rows += sum(e.rows for e in batch)
                    for key, n in counts.items():
                        self._counts[key] = self._counts.get(key, 0) + n
                    dropped = self._trim()
                if dropped:
                    self._dropped.inc(dropped)
                return 0
            return written

    def close(self) -> None:
        """Stop the thread and write what is left (also run at interpreter exit)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self.flush()
        atexit.unregister(self.close)

    # -- writing -------------------------------------------------------------------------------
    def count(self, endpoint: str, outcome: str, n: int = 1) -> None:
        """Count an answered request (``ok``, ``rejected``, ``error``) for its minute; the
        counts are written with the next flush (added to what other servers counted)."""
        key = (endpoint, int(time.time() // 60), outcome)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + n
            start = self._new_thread()
        if start is not None:
            start.start()

    def write(
        self, entries: Sequence[Scored], counts: dict[tuple[str, int, str], int] | None = None
    ) -> int:
        """Write entries (and request counts) now, in one transaction (rows already logged
        are left as they are). Returns the number of rows offered."""
        rows = list(self.rows(entries))
        if not rows and not counts:
            return 0
        insert = pg_insert if self.store.dialect == "postgresql" else sqlite_insert
        stmt = insert(Prediction).on_conflict_do_nothing(
            index_elements=["endpoint", "request_id", "row", "role"]
        )
        with governed_writes("endpoint.predict"), self.store.transaction(write=True) as s:
            for start in range(0, len(rows), 5000):
                s.execute(stmt, rows[start : start + 5000])
            if self._meter is not None and entries:
                self._meter(s, entries)
            if counts:
                add = insert(EndpointCount)
                s.execute(
                    add.on_conflict_do_update(
                        index_elements=["endpoint", "minute", "outcome"],
                        set_={"count": EndpointCount.count + add.excluded.count},
                    ),
                    [
                        {
                            "endpoint": e,
                            "minute": datetime.fromtimestamp(m * 60, UTC),
                            "outcome": o,
                            "count": n,
                        }
                        for (e, m, o), n in counts.items()
                    ],
                )
        self._written.inc(len(rows))
        return len(rows)

    def rows(self, entries: Iterable[Scored]) -> Iterable[dict[str, Any]]:
        """The table rows of entries, inputs masked. The work is done per model and column
        over all the entries at once (one concatenation, one conversion, one masking
        call), not per row: the flush holds the GIL while it runs."""
        by_plan: dict[LogPlan, list[Scored]] = {}
        for e in entries:
            by_plan.setdefault(e.plan, []).append(e)
        dumps = _JSON.encode
        for plan, group in by_plan.items():
            columns = {
                column: self._mask(_plain(_concat([e.feeds[name] for e in group])), op)
                for name, column, op in plan.inputs
                if op != "drop"
            }
            outputs = {}
            for j, name in enumerate(plan.outputs):
                parts = [np.asarray(e.outputs[j]) for e in group if j < len(e.outputs)]
                if len(parts) == len(group):
                    outputs[name] = _plain_rows(np.concatenate(parts))
            names = list(columns)
            in_values = list(zip(*columns.values(), strict=True)) if columns else None
            out_names = list(outputs)
            out_values = list(zip(*outputs.values(), strict=True)) if outputs else None
            offset = 0
            for e in group:
                at = datetime.fromtimestamp(e.at, UTC)
                for r in range(e.rows):
                    i = offset + r
                    yield {
                        "endpoint": e.endpoint,
                        "request_id": e.request_id,
                        "row": e.first_row + r,
                        "role": e.role,
                        "revision": e.revision,
                        "model": plan.model,
                        "source": e.source,
                        "at": at,
                        "latency_ms": e.latency_ms,
                        "inputs": dumps(dict(zip(names, in_values[i], strict=True)))
                        if in_values
                        else "{}",
                        "outputs": dumps(dict(zip(out_names, out_values[i], strict=True)))
                        if out_values
                        else "{}",
                    }
                offset += e.rows

    def _mask(self, values: list[Any], op: str) -> list[Any]:
        if op == "keep" or not values:
            return values
        arr = pa.array([None if v is None else str(v) for v in values], pa.string())
        if op == "pseudonymise":
            return list(pseudonymise(arr, key=self._key).to_pylist())
        return list(redact(arr).to_pylist())


_JSON = json.JSONEncoder(separators=(",", ":"))


def _concat(arrays: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    return (arrays[0] if len(arrays) == 1 else np.concatenate(arrays)).ravel()


def _plain(values: npt.NDArray[Any]) -> list[Any]:
    """JSON-ready values: NaN as null, numpy scalars as Python ones."""
    out: list[Any] = values.tolist()
    if values.dtype.kind == "f" and np.isnan(values).any():
        return [None if v != v else v for v in out]
    return out


def _plain_rows(values: npt.NDArray[Any]) -> list[Any]:
    """One JSON-ready value per row (a scalar, or a list for a row of several)."""
    if values.ndim <= 1:
        return _plain(values.ravel())
    flat = _plain(values.reshape(len(values), -1).ravel())
    k = int(np.prod(values.shape[1:]))
    return [flat[i * k : (i + 1) * k] for i in range(len(values))]
