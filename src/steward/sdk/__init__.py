"""The SDK: ``Steward`` works embedded (``Steward(home=..., user=...)``) or against a
server (``Steward(url=..., token=...)``) with the same methods and the same errors."""

from steward.sdk.client import Steward

__all__ = ["Steward"]
