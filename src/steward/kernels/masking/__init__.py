"""Masking and anonymisation operators, and the k-anonymity report.

This package owns the per-column transforms a masking recipe applies and the measure of
what is left to re-identify. Every operator takes an Arrow array (chunked or not, or a
plain sequence) and returns an Arrow array of the same length; nulls stay null; work is
vectorised with Arrow compute and numpy (the keyed hash is the one per-value loop, run
once per distinct value).

* hide: :func:`redact`, :func:`partial_mask`
* pseudonymise: :func:`pseudonymise` (keyed HMAC-SHA256, stable across datasets)
* generalise: :func:`generalise_age`, :func:`generalise_date`,
  :func:`generalise_postcode`, :func:`generalise_numeric`
* suppress: :func:`suppress_rare`, and :func:`enforce_k` on a whole table
* measure: :func:`k_anonymity` returning a :class:`KAnonymityReport`

Recipes call operators by name through :data:`OPERATORS`. Two recipe steps are not
here: ``drop`` (the caller leaves the column out) and the reversible token, which needs
a cipher that kernels may not import (the datasets service makes it with AES-SIV).
Bad parameters and untransformable values raise :class:`MaskingError`, a ``ValueError``.
"""

from steward.kernels.masking._inputs import MaskingError
from steward.kernels.masking.generalise import (
    generalise_age,
    generalise_date,
    generalise_numeric,
    generalise_postcode,
)
from steward.kernels.masking.kanon import KAnonymityReport, enforce_k, group_sizes, k_anonymity
from steward.kernels.masking.ops import (
    OPERATORS,
    Operator,
    canonical_form,
    partial_mask,
    pseudonymise,
    redact,
    suppress_rare,
)

__all__ = [
    "OPERATORS",
    "KAnonymityReport",
    "MaskingError",
    "Operator",
    "canonical_form",
    "enforce_k",
    "generalise_age",
    "generalise_date",
    "generalise_numeric",
    "generalise_postcode",
    "group_sizes",
    "k_anonymity",
    "partial_mask",
    "pseudonymise",
    "redact",
    "suppress_rare",
]
