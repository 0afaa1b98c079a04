"""Pure computation with no I/O: drift statistics, profiles, detectors, scoring.

Kernels import only numeric libraries (an import-linter contract checks it). Later
issues fill this package; it is here so the layering is in place from the start.
"""

__all__: list[str] = []
