"""A column sample prepared once for every detector, and the evidence detectors return.

Preparing a sample costs one pass over the values: each value is turned into text, equal
values are counted once (categorical columns shrink to a handful of distinct values), and
short values get a *shape*: digits written ``9``, ASCII letters ``A``, other characters
kept, e.g. ``"AB 12 34 56 C"`` → ``"AA 99 99 99 A"``. ``str.translate`` computes a shape
in C; detectors then test a regular expression once per distinct shape and value length
instead of once per value, and only the values whose shape fits reach a checksum.

Checksums are per value by nature (python-stdnum and phonenumbers validate one string at a
time), so validation is the one per-value Python loop left. :func:`validated_share` bounds
it: 32 values first, abandoned if fewer than half the detector's threshold pass (a column
whose true share is at the threshold, 80% or 50%, fails that probe with probability about
0.001 at 50%, 2e-7 at 80%), then at most 256 distinct values.
"""

from __future__ import annotations

import datetime as dt
import math
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

__all__ = [
    "CAP",
    "NAME_ONLY",
    "PROBE",
    "Evidence",
    "Sample",
    "prepare",
    "raw_shape",
    "validated_share",
]

PROBE = 32
CAP = 256
#: Strength of evidence that rests on the column name, the values merely not disagreeing.
NAME_ONLY = -1
SHORT = 48  # values longer than this are text, never a single identifier

_SHAPE = str.maketrans(
    string.digits + string.ascii_letters, "9" * 10 + "A" * len(string.ascii_letters)
)
_SEPARATORS = str.maketrans("", "", " -./")


def raw_shape(text: str) -> str:
    """Digits → ``9``, ASCII letters → ``A``, everything else kept."""
    return text.translate(_SHAPE)


@dataclass
class Sample:
    """The non-null values of one column sample, prepared for the detectors."""

    n: int = 0
    texts: list[str] = field(default_factory=list)  # distinct values as text
    weights: list[int] = field(default_factory=list)  # occurrences of each
    kinds: dict[str, int] = field(default_factory=dict)  # str, int, float, bool, date, ...
    numbers: np.ndarray = field(default_factory=lambda: np.empty(0))  # numeric-typed values
    dates: list[dt.date] = field(default_factory=list)  # date-typed values (midnight stamps)
    # distinct short values by length with separators removed: length → indexes
    by_length: dict[int, list[int]] = field(default_factory=dict)
    compact_shapes: dict[int, str] = field(default_factory=dict)  # index → shape, short only
    raw_shapes: dict[int, str] = field(default_factory=dict)
    tokens: dict[int, tuple[str, ...]] = field(default_factory=dict)  # folded words, memo
    scanned: bool = False  # weights come from a scan of every cell, not from the sample

    def kind_share(self, *kinds: str) -> float:
        return sum(self.kinds.get(k, 0) for k in kinds) / self.n if self.n else 0.0

    @property
    def distinct(self) -> int:
        return len(self.texts)

    def weight(self, indexes: Sequence[int]) -> int:
        w = self.weights
        return sum(w[i] for i in indexes)

    def shaped(
        self,
        lengths: tuple[int, int],
        match: Callable[[str], object],
        *,
        raw: Callable[[str], object] | None = None,
    ) -> list[int]:
        """Indexes of distinct values whose compact length is within ``lengths`` and whose
        compact shape (and raw shape, if ``raw`` is given) match; tested once per shape."""
        out: list[int] = []
        seen: dict[tuple[str, str], bool] = {}
        for length in range(lengths[0], lengths[1] + 1):
            for i in self.by_length.get(length, ()):
                key = (self.compact_shapes[i], self.raw_shapes[i] if raw else "")
                ok = seen.get(key)
                if ok is None:
                    ok = bool(match(key[0])) and (raw is None or bool(raw(key[1])))
                    seen[key] = ok
                if ok:
                    out.append(i)
        return out


def _text(
    v: object, w: int, kinds: dict[str, int], numbers: list[float], dates: list[dt.date]
) -> str:
    if isinstance(v, bool):
        kinds["bool"] = kinds.get("bool", 0) + w
        return "true" if v else "false"
    if isinstance(v, int | np.integer):
        kinds["int"] = kinds.get("int", 0) + w
        numbers.append(float(v))
        return str(v)
    if isinstance(v, float | Decimal):
        kinds["float"] = kinds.get("float", 0) + w
        f = float(v)
        numbers.append(f)
        return str(int(f)) if f.is_integer() else repr(f)
    if isinstance(v, dt.datetime):
        kinds["datetime"] = kinds.get("datetime", 0) + w
        if v.time() == dt.time(0):
            dates.append(v.date())
        return v.isoformat()
    if isinstance(v, dt.date):
        kinds["date"] = kinds.get("date", 0) + w
        dates.append(v)
        return v.isoformat()
    kinds["str"] = kinds.get("str", 0) + w
    return str(v).strip()


def _is_null(v: object) -> bool:
    if isinstance(v, str):
        return not v.strip()
    return v is None or (isinstance(v, float) and math.isnan(v))


def prepare(
    values: Sequence[object], weights: Sequence[int] | None = None, *, unseen: int = 0
) -> Sample:
    """Count, convert and shape the non-null values of one column sample.

    ``weights`` (one per value) say how many cells of the column each value stands for;
    they come from a scan of every cell (see :mod:`steward.datasets.scan`), which counts
    each format exactly and keeps a few values of each. ``unseen`` counts the scanned
    non-null cells no value stands for: they count in the shares but match no detector.
    Numeric values and dates enter the numeric and date evidence once each, unweighted.
    """
    if weights is not None and len(weights) != len(values):
        raise ValueError(f"weights: expected {len(values)} weights; found {len(weights)}")
    kinds: dict[str, int] = {}
    numbers: list[float] = []
    dates: list[dt.date] = []
    index: dict[str, int] = {}
    texts: list[str] = []
    counts: list[int] = []
    n = 0
    for k, v in enumerate(values):  # one pass: values arrive as arbitrary Python objects
        if _is_null(v):
            continue
        w = 1 if weights is None else weights[k]
        if w <= 0:
            continue
        n += w
        t = _text(v, w, kinds, numbers, dates)
        i = index.get(t)
        if i is None:
            index[t] = len(texts)
            texts.append(t)
            counts.append(w)
        else:
            counts[i] += w
    if unseen > 0:  # unseen cells are of the column's type: count them with the main kind
        n += unseen
        main = max(kinds, key=kinds.__getitem__, default="str")
        kinds[main] = kinds.get(main, 0) + unseen
    s = Sample(
        n=n, texts=texts, weights=counts, kinds=kinds, dates=dates, scanned=weights is not None
    )
    s.numbers = np.asarray(numbers, dtype=np.float64)
    for i, t in enumerate(texts):
        if len(t) > SHORT:
            continue
        raw = t.translate(_SHAPE)
        compact = raw.translate(_SEPARATORS)
        s.raw_shapes[i] = raw
        s.compact_shapes[i] = compact
        s.by_length.setdefault(len(compact), []).append(i)
    return s


@dataclass(frozen=True)
class Evidence:
    """What one detector found in one column sample.

    ``share`` is the weighted share of the sample's non-null values that matched;
    ``checked`` how many distinct values went through the validator (``None`` when the
    detector is a pattern only); ``threshold`` the share this detector needs to decide.
    """

    pii_type: str
    label: str
    strength: int  # 3 check digit, 2 strict format, 1 loose pattern or words, 0 fragments
    share: float
    threshold: float
    hint: str | None
    how: str  # e.g. "pass the stdnum.nl.bsn check digit"
    checked: int | None = None

    @property
    def qualifies(self) -> bool:
        return self.share >= self.threshold and self.share > 0


def validated_share(
    sample: Sample,
    indexes: Sequence[int],
    validate: Callable[[str], bool],
    *,
    floor: float = 0.25,
) -> tuple[float, int]:
    """Weighted pass rate of ``validate`` over the values at ``indexes``, and how many were
    checked: a probe of :data:`PROBE` values first, abandoned when fewer than ``floor``
    of them pass (detectors use half their threshold), then up to :data:`CAP` distinct
    values, in sample order."""
    passed = seen = 0
    checked = 0
    texts, weights = sample.texts, sample.weights
    for i in indexes:
        if checked == CAP or (checked == PROBE and passed < floor * seen):
            break
        w = weights[i]
        if validate(texts[i]):
            passed += w
        seen += w
        checked += 1
    return (passed / seen if seen else 0.0), checked
