"""k-anonymity over quasi-identifiers, and local suppression to reach a target k.

A table is k-anonymous over its quasi-identifiers (age, postcode, gender, ...) when
every combination of their values that occurs, occurs in at least k rows: anyone who
knows a person's quasi-identifiers can narrow them down to no fewer than k rows.

References
----------
L. Sweeney. "k-anonymity: a model for protecting privacy". International Journal of
Uncertainty, Fuzziness and Knowledge-Based Systems 10(5), 557-570, 2002.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from steward.kernels.masking._inputs import MaskingError, check_int

__all__ = ["KAnonymityReport", "enforce_k", "k_anonymity"]

_COUNT = "count_all"


@dataclass
class KAnonymityReport:
    """The outcome of :func:`k_anonymity`.

    Attributes
    ----------
    k : size of the smallest group (``rows`` when there are no quasi-identifiers, 0 for
        an empty table).
    rows : rows in the table.
    groups : distinct combinations of quasi-identifier values (missing is a value).
    smallest : up to ``show`` smallest groups as ``(values by column, rows)``, smallest
        first, ties in ascending order of the values (missing last).
    quasi_identifiers : the columns grouped on, in the order given.
    """

    k: int
    rows: int
    groups: int
    smallest: list[tuple[dict[str, object], int]] = field(default_factory=list)
    quasi_identifiers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form: dates as ISO text, decimals and other values as text."""
        return {
            "k": self.k,
            "rows": self.rows,
            "groups": self.groups,
            "quasi_identifiers": list(self.quasi_identifiers),
            "smallest": [
                {"values": {c: _json_value(v) for c, v in values.items()}, "count": count}
                for values, count in self.smallest
            ],
        }


def _json_value(v: object) -> object:
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return v if np.isfinite(v) else str(v)  # JSON has no NaN
    if isinstance(v, dt.date | dt.datetime | dt.time):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, decimal.Decimal):
        return str(v)
    return str(v)


def _plain(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dictionary columns decoded: Arrow sorts and encodes their values, not codes."""
    return col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col


def _columns(table: pa.Table, quasi_identifiers: Sequence[str], op: str) -> list[str]:
    if isinstance(quasi_identifiers, str):
        raise MaskingError(
            f"{op}: quasi_identifiers must be a list of column names; found the string "
            f"{quasi_identifiers!r}. Write [{quasi_identifiers!r}].",
            operator=op,
            parameter="quasi_identifiers",
        )
    qi = list(dict.fromkeys(quasi_identifiers))  # duplicates would not change the groups
    missing = [c for c in qi if c not in table.column_names]
    if missing:
        raise MaskingError(
            f"{op}: quasi-identifier columns {missing} are not in the table; it has "
            f"{table.column_names}",
            operator=op,
            parameter="quasi_identifiers",
        )
    return qi


def k_anonymity(
    table: pa.Table, quasi_identifiers: Sequence[str], *, show: int = 5
) -> KAnonymityReport:
    """k, the number of groups and the smallest groups of ``table`` over the columns.

    Rows are grouped with Arrow's hash group-by on the columns as they are (no casts):
    a missing value is a value of its own and groups with other missing values, as an
    attacker who knows "not recorded" would group them. With no quasi-identifiers all
    rows form one group and ``k = rows``.

    Parameters
    ----------
    table : the (masked) table.
    quasi_identifiers : column names; order only affects the report.
    show : how many of the smallest groups to list (``>= 0``).

    Examples
    --------
    >>> t = pa.table({"age": ["30-39", "30-39", "40-49"], "zip": ["100**"] * 3})
    >>> r = k_anonymity(t, ["age", "zip"])
    >>> r.k, r.groups, r.smallest[0]
    (1, 2, ({'age': '40-49', 'zip': '100**'}, 1))
    """
    op = "k_anonymity"
    qi = _columns(table, quasi_identifiers, op)
    n_show = check_int(op, "show", show)
    rows = table.num_rows
    if not qi:
        smallest: list[tuple[dict[str, object], int]] = [({}, rows)] if rows else []
        return KAnonymityReport(rows, rows, 1 if rows else 0, smallest[:n_show], [])
    if rows == 0:
        return KAnonymityReport(0, 0, 0, [], qi)
    # Positional names: a quasi-identifier called "count_all" must not clash with the
    # aggregate's output column.
    names = [f"q{i}" for i in range(len(qi))]
    keys = pa.table([_plain(table.column(c)) for c in qi], names=names)
    try:
        grouped = keys.group_by(names, use_threads=False).aggregate([([], _COUNT)])
    except pa.ArrowNotImplementedError as exc:
        raise MaskingError(
            f"{op}: cannot group on these column types ({exc}); generalise nested columns "
            "to text first",
            operator=op,
            parameter="quasi_identifiers",
        ) from None
    counts = grouped.column(_COUNT)
    order = pc.sort_indices(
        grouped, sort_keys=[(_COUNT, "ascending"), *[(n, "ascending") for n in names]]
    )
    head = grouped.take(order.slice(0, n_show)).to_pylist()
    listed = [
        ({c: rec[n] for c, n in zip(qi, names, strict=True)}, int(rec[_COUNT])) for rec in head
    ]
    return KAnonymityReport(
        k=int(pc.min(counts).as_py()),
        rows=rows,
        groups=grouped.num_rows,
        smallest=listed,
        quasi_identifiers=qi,
    )


def group_sizes(table: pa.Table, quasi_identifiers: Sequence[str]) -> npt.NDArray[np.int64]:
    """For every row, how many rows share its quasi-identifier values (nulls alike).

    Each column is dictionary-encoded (missing gets a code of its own) and the codes
    are folded column by column into one dense group id with ``numpy.unique``, so ids
    stay below the row count and never overflow however many columns there are.
    """
    qi = _columns(table, quasi_identifiers, "group_sizes")
    n = table.num_rows
    if not qi:
        return np.full(n, n, dtype=np.int64)
    ids = np.zeros(n, dtype=np.int64)
    for c in qi:
        enc = pc.dictionary_encode(_plain(table.column(c)).combine_chunks())
        width = len(enc.dictionary) + 1
        codes = np.asarray(pc.fill_null(enc.indices, width - 1).to_numpy(), dtype=np.int64)
        _, ids = np.unique(ids * width + codes, return_inverse=True)
        ids = np.asarray(ids, dtype=np.int64).ravel()
    counts = np.bincount(ids)
    return np.asarray(counts[ids], dtype=np.int64)


def enforce_k(
    table: pa.Table, quasi_identifiers: Sequence[str], k: int
) -> tuple[pa.Table, int, int]:
    """Local suppression until the table is k-anonymous over the quasi-identifiers.

    Rows in groups smaller than ``k`` lose all their quasi-identifier values (set to
    missing), which puts them in one group together. If there are fewer than ``k`` such
    rows, that group would itself be too small, so they are removed instead. Other
    columns are untouched.

    Returns
    -------
    (table, rows whose quasi-identifiers were suppressed, rows removed)

    Examples
    --------
    >>> t = pa.table({"zip": ["100**", "100**", "941**", "606**"], "y": [1, 2, 3, 4]})
    >>> out, suppressed, removed = enforce_k(t, ["zip"], 2)
    >>> out.column("zip").to_pylist(), suppressed, removed
    (['100**', '100**', None, None], 2, 0)
    """
    op = "enforce_k"
    qi = _columns(table, quasi_identifiers, op)
    target = check_int(op, "k", k, low=1)
    if not qi or table.num_rows == 0:
        return table, 0, 0
    small = group_sizes(table, qi) < target
    n_small = int(small.sum())
    if n_small == 0:
        return table, 0, 0
    if n_small < target:
        return table.filter(pa.array(~small)), 0, n_small
    mask = pa.array(small)
    out = table
    for c in qi:
        i = out.schema.get_field_index(c)
        col = out.column(i)
        out = out.set_column(i, c, pc.if_else(mask, pa.scalar(None, col.type), col))
    return out, n_small, 0
