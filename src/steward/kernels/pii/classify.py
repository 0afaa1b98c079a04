"""The column classifier: name hints and value evidence; the most specific valid class wins.

Every detector looks at the same prepared sample (see :mod:`steward.kernels.pii.sample`)
and reports the share of values it accepts. A detector decides a column when its share
reaches ``min_share`` (0.8), or 0.5 when the column name hints at its class ("Geburtsdatum",
"telefono", "bsn"). Among the detectors that reach their threshold, the strongest evidence
wins: a check digit beats a strict format, which beats a loose pattern or a vocabulary,
which beats identifiers found inside free text; equal strength goes to the higher share,
then to the class the name hints at, then to the stricter validator. So a column named
"bsn" holding valid BSNs is ``national_id.nl_bsn`` (11-check) although every value is also
nine digits that a bare pattern would take for anything. When no value evidence decides,
a name hint alone may classify columns whose values carry no pattern (job title, ethnicity
or religion codes); numeric measurements are never classified by their name alone.

The approach follows the "hint + evidence + checksum" column classifiers of data catalogues
(Google Cloud DLP's infoType likelihoods, Microsoft Presidio's context enhancement), scored
over the column sample instead of per cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from steward.kernels.pii.detectors import IDENTIFIER_DETECTORS, DetectFn
from steward.kernels.pii.hints import NameHints, name_hints
from steward.kernels.pii.sample import NAME_ONLY, Evidence, prepare
from steward.kernels.pii.semantic import QUASI_DETECTORS
from steward.kernels.pii.special import SPECIAL_DETECTORS
from steward.kernels.pii.types import PII_TYPES

__all__ = ["HINT_SHARE", "ColumnClassification", "classify_column", "classify_columns"]

#: Share of values a detector needs when the column name hints at its class.
HINT_SHARE = 0.5

_DETECTORS: dict[str, DetectFn] = {**IDENTIFIER_DETECTORS, **QUASI_DETECTORS, **SPECIAL_DETECTORS}
_ORDER = {t: k for k, t in enumerate(_DETECTORS)}  # earlier: stricter validator
# The strongest evidence each detector can give: once a detector has decided with
# strength s, detectors that cannot reach s need not run (they could never win).
_FUNCTION_STRENGTH = {
    "email": 2,
    "ip_address": 2,
    "mac_address": 2,
    "postcode": 2,
    "icd10_code": 2,
    "free_text_with_identifiers": 0,
}
_CAN_REACH: dict[str, int] = {
    t: int(getattr(d, "strength", _FUNCTION_STRENGTH.get(t, 1))) for t, d in _DETECTORS.items()
}
_RUN_ORDER = sorted(_DETECTORS, key=lambda t: (-_CAN_REACH[t], _ORDER[t]))
_BASE = {3: 0.8, 2: 0.7, 1: 0.6, 0: 0.5}


@dataclass(frozen=True)
class ColumnClassification:
    """The class of one column, how sure the classifier is, and why.

    ``match_share`` is the share of the sampled non-null values that the deciding
    detector accepted and ``sampled`` how many non-null values were examined.
    """

    column: str
    pii_type: str | None
    category: str  # direct | quasi | special | free_text | none
    confidence: float
    detector: str  # "value:<detector>[+name]", "name:<class>" or "none"
    match_share: float
    sampled: int
    explanation: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _values(n: int, scanned: bool) -> str:
    return f"{n:,} values (every cell's format counted)" if scanned else f"{n:,} sampled values"


def _decided(name: str, ev: Evidence, n: int, scanned: bool = False) -> ColumnClassification:
    t = PII_TYPES[ev.pii_type]
    desc = t.description[0].upper() + t.description[1:]
    checked = (
        f" (checked on {ev.checked:,} distinct values)"
        if ev.checked is not None and ev.checked < n
        else ""
    )
    if ev.strength == NAME_ONLY:
        confidence = 0.55 + 0.2 * ev.share
        detector = f"name:{ev.pii_type}"
        why = (
            f"{desc}: decided by the column name (hint {ev.hint!r}); {ev.share:.0%} of "
            f"{_values(n, scanned)} {ev.how}, and such values carry no pattern to check."
        )
    else:
        confidence = _BASE[ev.strength] + 0.2 * ev.share + (0.1 if ev.hint else 0.0)
        detector = f"value:{ev.label}" + ("+name" if ev.hint else "")
        why = f"{desc}: {ev.share:.0%} of {_values(n, scanned)} {ev.how}{checked}; " + (
            f"name hint {ev.hint!r}." if ev.hint else "no name hint."
        )
    return ColumnClassification(
        column=name,
        pii_type=ev.pii_type,
        category=t.category,
        confidence=round(min(confidence, 0.99), 3),
        detector=detector,
        match_share=round(ev.share, 4),
        sampled=n,
        explanation=why,
    )


def _undecided(
    name: str, evidence: list[Evidence], hints: NameHints, n: int, scanned: bool = False
) -> ColumnClassification:
    near = max(
        (e for e in evidence if e.strength != NAME_ONLY), key=lambda e: e.share, default=None
    )
    hinted = sorted(hints.types) + (["national_id"] if hints.national_id else [])
    if n == 0:
        why = "Not classified: the sample has no non-null values."
    else:
        why = f"Not personal data: no detector reached its threshold on {_values(n, scanned)}"
        if near is not None and near.share > 0:
            why += (
                f" (closest: {near.pii_type}, {near.share:.0%} of values, "
                f"needs {near.threshold:.0%})"
            )
        why += "."
    if hinted:
        why += f" The name hints at {', '.join(hinted)} but the values do not agree."
    share = near.share if near is not None else 0.0
    confidence = max(0.5, 0.95 - 0.5 * share - (0.15 if hinted else 0.0))
    return ColumnClassification(
        column=name,
        pii_type=None,
        category="none",
        confidence=round(confidence if n else 0.0, 3),
        detector="none",
        match_share=0.0,
        sampled=n,
        explanation=why,
    )


def _rank(ev: Evidence) -> tuple[int, float, bool, int]:
    return (ev.strength, round(ev.share, 3), ev.hint is not None, -_ORDER[ev.pii_type])


def classify_column(
    name: str,
    values: Sequence[object],
    *,
    weights: Sequence[int] | None = None,
    unseen: int = 0,
    min_share: float = 0.8,
) -> ColumnClassification:
    """Classify one column from its name and a sample of its non-null values.

    Parameters
    ----------
    name
        The column name; used for hints in eight languages.
    values
        A sample of the column (about 1,000 values: ``str``, ``int``, ``float``,
        ``bool``, ``date``/``datetime`` or ``None``; nulls are skipped).
    weights, unseen
        From a full scan: how many cells each value stands for, and how many scanned
        cells no value stands for (see :func:`~steward.kernels.pii.sample.prepare`).
    min_share
        Share of values a detector must accept to decide without a name hint.

    Examples
    --------
    >>> c = classify_column("col_7", ["111222333", "123456782", "010000008"])
    >>> c.pii_type, c.category, c.detector
    ('national_id.nl_bsn', 'direct', 'value:stdnum.nl.bsn')
    >>> classify_column("Geschlecht", ["weiblich", "männlich", "divers"]).pii_type
    'gender'
    >>> classify_column("amount", [12.5, 99.0, 3.25]).pii_type is None
    True
    """
    if not 0.0 < min_share <= 1.0:
        raise ValueError(f"min_share: expected a share in (0, 1]; found {min_share!r}")
    sample = prepare(values, weights, unseen=unseen)
    hints = name_hints(name)
    if sample.n == 0:
        return _undecided(name, [], hints, 0)
    evidence: list[Evidence] = []
    decided_at = NAME_ONLY  # strength of the strongest value evidence that decided so far
    for pii_type in _RUN_ORDER:
        if _CAN_REACH[pii_type] < decided_at:
            break
        hint = hints.hint_for(pii_type)
        threshold = min(HINT_SHARE, min_share) if hint else min_share
        ev = _DETECTORS[pii_type](sample, hint, threshold)
        if ev is not None:
            evidence.append(ev)
            if ev.qualifies and ev.strength > decided_at:
                decided_at = ev.strength
    decided = [e for e in evidence if e.qualifies]
    by_value = [e for e in decided if e.strength != NAME_ONLY]
    if by_value:
        return _decided(name, max(by_value, key=_rank), sample.n, sample.scanned)
    by_name = [e for e in decided if e.strength == NAME_ONLY]
    if by_name:
        best = max(by_name, key=lambda e: (len(e.hint or ""), -_ORDER[e.pii_type]))
        return _decided(name, best, sample.n, sample.scanned)
    return _undecided(name, evidence, hints, sample.n, sample.scanned)


def classify_columns(columns: Mapping[str, Sequence[object]]) -> list[ColumnClassification]:
    """Classify every column of a table sample, in the mapping's order."""
    return [classify_column(name, values) for name, values in columns.items()]
