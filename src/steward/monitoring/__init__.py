"""Monitoring: live window profiles from the prediction log, drift against the model's
reference profile, change points over the window series, realised performance when labels
arrive, SLO and input-error signals, alert rules and their actions, and scheduled
revalidation (docs/monitoring.md)."""

from steward.monitoring.alerts import (
    SERVICE,
    AlertDetail,
    AlertInfo,
    AlertService,
    OccurrenceInfo,
)
from steward.monitoring.performance import MetricComparison, PerformanceReport
from steward.monitoring.revalidation import RevalidationResult, RevalidationService
from steward.monitoring.service import (
    ChangePointInfo,
    ColumnVerdict,
    FeatureDistribution,
    LatencyPoint,
    MonitoringService,
    WindowInfo,
    WindowReport,
    parse_window,
)

__all__ = [
    "SERVICE",
    "AlertDetail",
    "AlertInfo",
    "AlertService",
    "ChangePointInfo",
    "ColumnVerdict",
    "FeatureDistribution",
    "LatencyPoint",
    "MetricComparison",
    "MonitoringService",
    "OccurrenceInfo",
    "PerformanceReport",
    "RevalidationResult",
    "RevalidationService",
    "WindowInfo",
    "WindowReport",
    "parse_window",
]
