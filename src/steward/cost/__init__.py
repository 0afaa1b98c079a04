"""Cost: reports over the metered records, budgets, forecasts, anomalies, egress and the
cost of leaving a provider (docs/cost.md). Metering itself is :mod:`steward.metering`."""

from steward.cost.service import (
    GROUPS,
    RECORD_COLUMNS,
    AnomalyInfo,
    CostForecast,
    CostRecordInfo,
    CostReport,
    CostRow,
    CostService,
    EgressRow,
    ExitEstimate,
    IdleRow,
    ServingEstimate,
)

__all__ = [
    "GROUPS",
    "RECORD_COLUMNS",
    "AnomalyInfo",
    "CostForecast",
    "CostRecordInfo",
    "CostReport",
    "CostRow",
    "CostService",
    "EgressRow",
    "ExitEstimate",
    "IdleRow",
    "ServingEstimate",
]
