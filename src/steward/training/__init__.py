"""Training jobs: specs, placement by policy, quotas, a durable queue, executors (inline,
process, Ray) and the worker that turns a finished job into a registered ONNX model."""

from steward.training.executors import EXECUTORS, NoSuchSite, TaskOutcome, TrainTask
from steward.training.service import (
    BudgetState,
    JobInfo,
    JobLogLine,
    SiteCost,
    TrainEstimate,
    TrainingService,
    load_spec_file,
    parse_spec,
)
from steward.training.spec import FAMILIES, Resources, TrainingSpec
from steward.training.worker import Worker, WorkerBusy

__all__ = [
    "EXECUTORS",
    "FAMILIES",
    "BudgetState",
    "JobInfo",
    "JobLogLine",
    "NoSuchSite",
    "Resources",
    "SiteCost",
    "TaskOutcome",
    "TrainEstimate",
    "TrainTask",
    "TrainingService",
    "TrainingSpec",
    "Worker",
    "WorkerBusy",
    "load_spec_file",
    "parse_spec",
]
