"""The validation report: every check, its value, its limit, pass or fail, and the holdout
it rests on. Stored as JSON (its sha256 goes into the ledger) and rendered as Markdown."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["Check", "ValidationInfo", "ValidationReport", "render_report"]


class Check(BaseModel):
    kind: str  # performance | fairness | robustness | champion | data
    name: str  # e.g. "roc_auc", "afam: demographic_parity_ratio"
    value: float | None
    limit: dict[str, float] | None = None  # {"min": 0.8} or {"max": 0.1}; None: reported only
    passed: bool | None = None  # None: informational
    detail: str = ""


class ValidationReport(BaseModel):
    model: str
    objective: str
    suite: str
    suite_hash: str
    holdout: str
    holdout_fingerprint: str
    holdout_rows: int
    training_data: list[dict[str, Any]]
    overlap_rows: int
    checks: list[Check]
    passed: bool
    metrics: dict[str, float]
    fairness: dict[str, Any] = Field(default_factory=dict)
    robustness: dict[str, Any] = Field(default_factory=dict)
    champion: dict[str, Any] | None = None
    evaluated_by: str
    evaluated_at: datetime
    # whether configuration applies this suite and holdout to the model (see
    # steward.gates.applicable); reports from before applicability was recorded read True
    applicable: bool = True
    not_applicable: list[str] = Field(default_factory=list)
    applicable_suite: str | None = None
    applicable_holdout: str | None = None  # NAME@V; None: no holdout is pinned
    by_producer: bool = False  # run by one of the model's producers: never counts

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.passed is False]


class ValidationInfo(BaseModel):
    id: str
    model: str
    holdout: str
    holdout_fingerprint: str
    suite: str
    passed: bool
    current: bool
    stale_reason: str | None = None
    applicable: bool = True
    applicable_reason: str | None = None
    by_producer: bool = False
    counts: bool = Field(
        False,
        description="counts toward approval and promotion: applicable, current and not run "
        "by one of the model's producers",
    )
    not_counted_reason: str | None = None
    report_hash: str
    created_by: str
    created_at: datetime
    report: ValidationReport


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:.4g}"


def _limit(limit: dict[str, float] | None) -> str:
    if not limit:
        return "(reported)"
    return ", ".join(f"{'≥' if k == 'min' else '≤'} {_fmt(v)}" for k, v in limit.items())


def render_report(r: ValidationReport) -> str:
    verdict = "PASSED" if r.passed else "FAILED"
    lines = [
        f"# Validation of {r.model}: {verdict}",
        "",
        f"- Suite: `{r.suite}` (hash `{r.suite_hash[:12]}…`)",
        f"- Holdout: `{r.holdout}`, {r.holdout_rows:,} rows, fingerprint "
        f"`{r.holdout_fingerprint[:16]}…` (locked; overlap with the training data: "
        f"{r.overlap_rows} rows)",
        f"- Evaluated by {r.evaluated_by} at {r.evaluated_at:%Y-%m-%d %H:%M UTC}, with the "
        "ONNX artifact that would be served",
    ]
    if not r.applicable:
        lines.append(
            "- **Not applicable** (recorded, never counts toward approval): "
            + "; ".join(r.not_applicable)
        )
    if r.by_producer:
        lines.append(
            f"- Run by {r.evaluated_by}, a producer of the model: recorded, never counts "
            "toward approval"
        )
    lines += [
        "",
        "| kind | check | value | limit | result |",
        "|---|---|---|---|---|",
    ]
    for c in r.checks:
        result = {True: "pass", False: "**FAIL**", None: "—"}[c.passed]
        lines.append(f"| {c.kind} | {c.name} | {_fmt(c.value)} | {_limit(c.limit)} | {result} |")
    fair = r.fairness
    for attr, data in (fair.get("attributes") or {}).items():
        lines += ["", f"## Fairness by `{attr}`", ""]
        lines += [
            "| group | rows | selection rate | TPR | FPR | accuracy |",
            "|---|---|---|---|---|---|",
        ]
        for g in data.get("groups", []):
            lines.append(
                f"| {g.get('group')} | {g.get('count')} | {_fmt(g.get('selection_rate'))} | "
                f"{_fmt(g.get('tpr'))} | {_fmt(g.get('fpr'))} | {_fmt(g.get('accuracy'))} |"
            )
    unjudged = fair.get("not_judged") or []
    if unjudged:
        allowed = fair.get("allow_unjudged")
        lines += [
            "",
            "Not judged (fewer than two groups with the suite's minimum rows): "
            + ", ".join(f"`{a}`" for a in unjudged)
            + (" — allowed by the suite" if allowed else " — this fails the gate"),
        ]
    small = fair.get("too_small") or []
    if small:
        lines += ["", "Too small to judge (fewer rows than the suite's minimum):", ""]
        lines += [
            f"- {s.get('attribute')} = {s.get('group')}: {s.get('count')} rows" for s in small
        ]
    if r.champion:
        ch = r.champion
        lines += [
            "",
            f"## Champion: {ch.get('model')}",
            "",
            f"{ch.get('metric')}: challenger {_fmt(ch.get('challenger'))}, champion "
            f"{_fmt(ch.get('champion'))}, margin {_fmt(ch.get('margin'))}",
        ]
    return "\n".join(lines) + "\n"
