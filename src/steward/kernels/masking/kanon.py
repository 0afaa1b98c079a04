"""k-anonymity over quasi-identifiers (Sweeney, "k-anonymity: a model for protecting
privacy", 2002): k is the size of the smallest group of rows sharing the same
quasi-identifier values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["KAnonymityReport", "enforce_k", "k_anonymity"]


@dataclass
class KAnonymityReport:
    k: int
    rows: int
    groups: int
    quasi_identifiers: list[str]
    smallest: list[tuple[dict[str, Any], int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "rows": self.rows,
            "groups": self.groups,
            "quasi_identifiers": self.quasi_identifiers,
            "smallest": [{"values": v, "count": c} for v, c in self.smallest],
        }


def k_anonymity(
    table: pa.Table, quasi_identifiers: Sequence[str], *, show: int = 5
) -> KAnonymityReport:
    """Group rows by the quasi-identifiers (nulls form their own group)."""
    qi = list(quasi_identifiers)
    rows = table.num_rows
    if not qi or rows == 0:
        return KAnonymityReport(k=rows, rows=rows, groups=1 if rows else 0, quasi_identifiers=qi)
    missing = [c for c in qi if c not in table.column_names]
    if missing:
        raise ValueError(f"k_anonymity: no such columns {missing}")
    # Text keys make nulls and mixed types group predictably.
    keyed = pa.table(
        {c: pc.fill_null(pc.cast(table.column(c), pa.string()), "\x00null") for c in qi}
    )
    grouped = keyed.group_by(qi).aggregate([([], "count_all")])
    counts = grouped.column("count_all")
    order = pc.sort_indices(counts)
    smallest = grouped.take(order.slice(0, show))
    out = []
    for rec in smallest.to_pylist():
        c = int(rec.pop("count_all"))
        out.append(({k: (None if v == "\x00null" else v) for k, v in rec.items()}, c))
    return KAnonymityReport(
        k=int(pc.min(counts).as_py()),
        rows=rows,
        groups=grouped.num_rows,
        quasi_identifiers=qi,
        smallest=out,
    )


def _group_sizes(table: pa.Table, qi: list[str]) -> pa.Array:
    """For every row, the size of its quasi-identifier group."""
    keyed = pa.table(
        {c: pc.fill_null(pc.cast(table.column(c), pa.string()), "\x00null") for c in qi}
    )
    joined = keyed.append_column("__row", pa.array(range(table.num_rows), pa.int64()))
    sizes = keyed.group_by(qi).aggregate([([], "count_all")])
    merged = joined.join(sizes, keys=qi, join_type="left outer").sort_by("__row")
    return merged.column("count_all").combine_chunks()


def enforce_k(
    table: pa.Table, quasi_identifiers: Sequence[str], k: int
) -> tuple[pa.Table, int, int]:
    """Local suppression: rows in groups smaller than ``k`` lose their quasi-identifier
    values (set missing); if those rows would still form a group smaller than ``k``, they
    are removed instead. Returns (table, rows suppressed, rows removed)."""
    qi = list(quasi_identifiers)
    if not qi or table.num_rows == 0:
        return table, 0, 0
    small = pc.less(_group_sizes(table, qi), k)
    n_small = int(pc.sum(small).as_py() or 0)
    if n_small == 0:
        return table, 0, 0
    if n_small < k:
        return table.filter(pc.invert(small)), 0, n_small
    out = table
    for c in qi:
        col = out.column(c).combine_chunks()
        out = out.set_column(
            out.schema.get_field_index(c), c, pc.if_else(small, pa.scalar(None, col.type), col)
        )
    return out, n_small, 0
