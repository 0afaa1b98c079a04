"""Mergeable column profiles: the reference profile a dataset or model version keeps,
and the live profiles monitoring builds from partial profiles of many workers.

Owns the profile kernels (pure computation, no I/O):

- :class:`NumericProfile` — count, nulls, min, max, mean, variance (Chan et al.'s
  pairwise merge) and a KLL quantile sketch for quantiles, CDF and histograms;
- :class:`CategoricalProfile` — count, nulls, exact counts up to a cap, then frequent
  items (Misra–Gries) and an HLL distinct-count estimate;
- :class:`ColumnProfile` — one of those (or a :class:`CountProfile`) tagged with the
  column's kind, chosen from its Arrow type by :func:`kind_of`;
- :class:`TableProfile` — every column of a table, updated from Arrow record batches.

Every profile has ``update`` and ``merge`` (both return ``self``); merges are
associative, so partial profiles combine in any order. ``to_dict``/``from_dict`` give
JSON state, with sketches as base64 of Apache DataSketches' own serialisation.
"""

from steward.kernels.profile.categorical import CategoricalProfile
from steward.kernels.profile.numeric import NumericProfile
from steward.kernels.profile.table import (
    ColumnProfile,
    CountProfile,
    Kind,
    TableProfile,
    kind_of,
)

__all__ = [
    "CategoricalProfile",
    "ColumnProfile",
    "CountProfile",
    "Kind",
    "NumericProfile",
    "TableProfile",
    "kind_of",
]
