"""Model robustness and a training-data audit: the numbers the robustness gates check.

Owns three kernels (pure computation, no I/O; the model is always a callable the caller
passes in, so no model runtime is imported here):

- :func:`perturbation_flip_rate` → :class:`FlipReport`: the share of decisions that flip
  under small Gaussian noise on the numeric features, overall and per feature;
- :func:`missing_and_out_of_range` → :class:`ProbeReport`: whether the model answers,
  with finite outputs and valid probabilities, when a feature is missing, far outside its
  training range (:class:`FeatureRange`) or an unseen category, and how far its
  decisions move;
- :func:`audit_training_data` → :class:`DataAudit`: conflicting duplicate rows, a label
  noise signal, single-feature leakage and constant columns, each as a :class:`Finding`
  with a severity and one sentence.

Bad inputs raise :class:`RobustnessError`, a ``ValueError``.
"""

from steward.kernels.robustness._inputs import RobustnessError
from steward.kernels.robustness.audit import DataAudit, Finding, Severity, audit_training_data
from steward.kernels.robustness.perturb import (
    FeatureFlip,
    FlipReport,
    Predict,
    perturbation_flip_rate,
)
from steward.kernels.robustness.probes import (
    PROBE_KINDS,
    FeatureRange,
    PredictRows,
    ProbeReport,
    ProbeResult,
    missing_and_out_of_range,
    training_ranges,
)

__all__ = [
    "PROBE_KINDS",
    "DataAudit",
    "FeatureFlip",
    "FeatureRange",
    "Finding",
    "FlipReport",
    "Predict",
    "PredictRows",
    "ProbeReport",
    "ProbeResult",
    "RobustnessError",
    "Severity",
    "audit_training_data",
    "missing_and_out_of_range",
    "perturbation_flip_rate",
    "training_ranges",
]
