"""Mergeable column profiles: the reference a version is compared with, and the live
profiles monitoring builds from partial profiles of many workers.

Numbers and times keep count, missing values, min, max, mean and variance (merged with
Chan et al.'s parallel formula) and a KLL quantile sketch; categories keep exact counts up
to a cap, frequent items (Misra–Gries) and an HLL distinct-count sketch. Everything merges
associatively; ``to_dict`` is JSON (sketches as base64 of their own serialisation).
"""

from steward.kernels.profile.columns import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    TableProfile,
)

__all__ = ["CategoricalProfile", "ColumnProfile", "NumericProfile", "TableProfile"]
