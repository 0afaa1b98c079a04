"""Monitoring: live window profiles from the prediction log and drift against the model's
reference profile (later: performance when labels arrive, SLOs, alerts and actions,
revalidation)."""

from steward.monitoring.alerts import SERVICE, AlertInfo, AlertService
from steward.monitoring.service import (
    ColumnVerdict,
    MonitoringService,
    WindowInfo,
    WindowReport,
    parse_window,
)

__all__ = [
    "SERVICE",
    "AlertInfo",
    "AlertService",
    "ColumnVerdict",
    "MonitoringService",
    "WindowInfo",
    "WindowReport",
    "parse_window",
]
