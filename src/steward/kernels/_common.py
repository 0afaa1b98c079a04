"""What several kernels share: the error for bad input, and NaN as JSON's ``None``."""

from __future__ import annotations

import math

__all__ = ["KernelInputError", "none_if_nan"]


class KernelInputError(ValueError):
    """Bad input to a kernel.

    A ``ValueError`` with structured fields: ``parameter`` (the argument at fault) and,
    when values are at fault, ``rows`` (how many) and ``first_row``.
    """

    def __init__(
        self,
        message: str,
        *,
        parameter: str,
        rows: int | None = None,
        first_row: int | None = None,
    ) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.rows = rows
        self.first_row = first_row


def none_if_nan(x: float | None) -> float | None:
    """JSON has no NaN: an undefined value is ``None``."""
    return None if x is None or math.isnan(x) else x
