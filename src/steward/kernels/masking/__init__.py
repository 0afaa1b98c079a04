"""Masking operators and the k-anonymity report, on Arrow arrays (vectorised where the
operation allows). Reversible tokens need a cipher and live in the datasets service."""

from steward.kernels.masking.kanon import KAnonymityReport, enforce_k, k_anonymity
from steward.kernels.masking.ops import (
    OPERATORS,
    generalise_age,
    generalise_date,
    generalise_numeric,
    generalise_postcode,
    partial_mask,
    pseudonymise,
    redact,
    suppress_rare,
)

__all__ = [
    "OPERATORS",
    "KAnonymityReport",
    "enforce_k",
    "generalise_age",
    "generalise_date",
    "generalise_numeric",
    "generalise_postcode",
    "k_anonymity",
    "partial_mask",
    "pseudonymise",
    "redact",
    "suppress_rare",
]
