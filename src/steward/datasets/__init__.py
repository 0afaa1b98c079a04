"""Datasets: register and version tabular data, profile it, classify personal data
column by column, mask and anonymise it, validate new batches, keep it in its
jurisdiction, lock holdouts, and keep the lineage."""

from steward.datasets.requests import OutsideCopy, RequestInfo, Reverdict
from steward.datasets.schema import ColumnSchema, SchemaChange
from steward.datasets.service import (
    ColumnClass,
    CopyInfo,
    DatasetDetail,
    DatasetService,
    LineageNode,
    VersionInfo,
    parse_ref,
)

__all__ = [
    "ColumnClass",
    "ColumnSchema",
    "CopyInfo",
    "DatasetDetail",
    "DatasetService",
    "LineageNode",
    "OutsideCopy",
    "RequestInfo",
    "Reverdict",
    "SchemaChange",
    "VersionInfo",
    "parse_ref",
]
