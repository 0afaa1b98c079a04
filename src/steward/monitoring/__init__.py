"""Monitoring: live window profiles from the prediction log and drift against the model's
reference profile (later: performance when labels arrive, SLOs, alerts and actions,
revalidation)."""

from steward.monitoring.service import (
    ColumnVerdict,
    MonitoringService,
    WindowInfo,
    WindowReport,
    parse_window,
)

__all__ = ["ColumnVerdict", "MonitoringService", "WindowInfo", "WindowReport", "parse_window"]
