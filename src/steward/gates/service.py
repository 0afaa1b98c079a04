"""Validation gates: evaluate a model version on a locked holdout against a gate suite.

``validate`` reads the holdout with the purpose ``gate-evaluation`` (the only purpose the
``locked-holdout-read`` policy lets through), refuses a holdout that shares rows with the
model's training data, runs the ONNX artifact (what would be served) over it, and checks
performance, fairness across slices, robustness and the champion in production. The report
(JSON, its sha256 in the ledger) and the stage change to ``validated`` are recorded in one
governed action, ``model.validate``.

Which suite and holdout *apply* is configuration's call (:mod:`steward.gates.applicable`):
a validation under another one, or run by the model's producer, is recorded but never
counts. A failed applicable validation sets the stage ``failed``. Approval and promotion
rest on the newest applicable validation not run by a producer, decided inside the write
transaction (one decision per version, validation and approver; a unique constraint
holds it).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from steward.audit import canonical_json
from steward.config import GateSuite, Threshold
from steward.datasets import DatasetService
from steward.door import Action
from steward.errors import Conflict, GateFailed, NotFound, Reason, ValidationFailed
from steward.gates.applicable import Applicable, applicable_for, newest_version, suite_hash
from steward.gates.report import Check, ValidationInfo, ValidationReport
from steward.kernels.metrics import LOWER_IS_BETTER, performance
from steward.metering import Usage
from steward.policy import Decision, Principal, Resource
from steward.registry import ModelDetail, ModelService
from steward.registry.runner import OnnxRunner, Prediction
from steward.runtime import Runtime
from steward.store import Approval, Model, ModelVersion, StageChange, Validation

__all__ = ["ApprovalInfo", "GateService", "HoldoutOverlap", "StageInfo", "row_keys"]

PURPOSE = "gate-evaluation"
#: Rows of the holdout the robustness checks perturb and probe (a uniform prefix).
ROBUSTNESS_ROWS = 20_000
#: stages a failed applicable validation turns into ``failed`` (production and retired
#: versions keep theirs: serving is the deployment's business; the report says it failed)
_FAILABLE = ("candidate", "validated", "approved")


class HoldoutOverlap(Conflict):
    code = "holdout_overlap"


def row_keys(table: pa.Table, columns: list[str]) -> pa.Array:
    """One string per row over ``columns`` (values as text, nulls marked), for exact row
    matching between a holdout and training data; computed in Arrow, not per row in Python."""
    parts = []
    for name in columns:
        col = table.column(name)
        if pa.types.is_dictionary(col.type):
            col = pc.cast(col, col.type.value_type)
        text = pc.cast(col, pa.string()) if not pa.types.is_string(col.type) else col
        parts.append(pc.fill_null(text, "\x00"))
    if not parts:
        return pa.array([], pa.string())
    joined = pc.binary_join_element_wise(*parts, "\x1f")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def _limit(t: Threshold) -> dict[str, float]:
    return {"min": t.min} if t.min is not None else {"max": t.max}  # type: ignore[dict-item]


def _check(
    kind: str, name: str, value: float | None, t: Threshold | None, detail: str = ""
) -> Check:
    if t is None:
        return Check(kind=kind, name=name, value=value, detail=detail)
    ok = value is not None and t.passes(float(value))
    if value is None:
        detail = detail or "not measurable on this holdout"
    return Check(kind=kind, name=name, value=value, limit=_limit(t), passed=ok, detail=detail)


class ApprovalInfo(BaseModel):
    model: str
    user: str
    decision: str
    note: str
    validation: str
    created_at: datetime


class StageInfo(BaseModel):
    model: str
    stage: str
    approvals: list[ApprovalInfo]
    approvals_required: int
    history: list[dict[str, Any]]
    validation: ValidationInfo | None


class GateService:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.registry = ModelService(rt)
        self.datasets = DatasetService(rt)

    # -- suites ------------------------------------------------------------------------------
    def suite(self, model: ModelDetail, name: str | None) -> tuple[str, GateSuite]:
        gates = self.rt.config.gates
        if name is not None:
            if name not in gates.suites:
                raise NotFound(
                    f"gate suite {name!r} not found; declared: "
                    f"{', '.join(sorted(gates.suites)) or '(none)'}",
                    suite=name,
                )
            suite = gates.suites[name]
            if suite.objective != model.objective:
                raise ValidationFailed(
                    f"suite {name!r} is for {suite.objective} models; "
                    f"{model.ref} is {model.objective}"
                )
            return name, suite
        found = gates.suite_for(model.objective, model.team, model.name)
        if found is None:
            raise ValidationFailed(
                f"no gate suite applies to {model.objective} models of team {model.team} "
                f"({model.name}); declare one under gates.suites in steward.yaml",
                objective=model.objective,
                team=model.team,
            )
        return found

    # -- validate ----------------------------------------------------------------------------
    def applicable(self, model: ModelDetail) -> Applicable:
        """The suite and holdout configuration applies to ``model``."""
        return applicable_for(self.rt.config.gates, model.objective, model.team, model.name)

    def validate(
        self,
        principal: Principal,
        model_ref: str,
        holdout_ref: str | None = None,
        *,
        suite: str | None = None,
    ) -> ValidationInfo:
        """Evaluate ``model_ref`` on a locked holdout (default: the one that applies)
        against a gate suite (default: the one that applies)."""
        model = self.registry.show(principal, model_ref)
        suite_name, gate = self.suite(model, suite)
        app = self.applicable(model)
        if holdout_ref is None:
            if app.holdout is None:
                raise ValidationFailed(
                    f"no holdout given and none is configured for {model.ref}: pass "
                    "--holdout NAME@V, or pin one in steward.yaml (gates.holdout_by_model, "
                    "gates.holdout_by_team or the suite's holdout)",
                    model=model.ref,
                )
            holdout_ref = app.holdout
        holdout, _, holdout_id = self.datasets.governed_view(holdout_ref)
        with self.rt.store.transaction() as s:
            newest = newest_version(s, app.holdout) if app.holdout is not None else None
        not_applicable = app.reasons(suite_name, holdout.ref, newest)
        producers = list(self.registry.policy_resource(model).attrs.get("producers", []))
        by_producer = principal.name in producers
        resource = self.registry.policy_resource(model)
        action = Action(
            "model.validate",
            resource,
            payload={"model": model.ref, "holdout": holdout.ref, "suite": suite_name},
        )
        self.rt.door.check(principal, action)
        if not holdout.locked:
            raise ValidationFailed(
                f"{holdout.ref} is not a locked holdout: gates evaluate only on data nobody "
                "trains on. Register the holdout with --locked.",
                holdout=holdout.ref,
            )
        wall0, cpu0 = time.perf_counter(), time.process_time()
        # read as the gate service identity, the only reader of locked holdouts (H7)
        table = self.datasets.read_holdout(holdout.ref, requested_by=principal, model=model.ref)
        target = model.spec.get("target")
        training = self._training_tables(principal, model)  # read once: overlap, audit
        overlap = self._overlap(training, table)
        if overlap:
            refusal = Reason(
                "holdout-overlap",
                f"{holdout.ref} shares {overlap} row(s) with the training data of {model.ref}; "
                "a holdout must be disjoint from it",
                "forbid",
            )
            self.rt.door.refuse(principal, action, refusal)
            raise HoldoutOverlap(refusal.advice, holdout=holdout.ref, rows=overlap)
        if target is None or target not in table.column_names:
            raise ValidationFailed(
                f"the holdout has no column {target!r}, the model's target", holdout=holdout.ref
            )
        onnx = self.registry.onnx(principal, model.ref)
        runner = OnnxRunner(onnx, model.inputs, model.classes)
        pred = runner.predict(table)
        y_true = _truth(table.column(target), model.classes)
        metrics = performance(
            model.objective, y_true, pred.labels, pred.probabilities, model.classes
        )
        checks: list[Check] = []
        limited = {t.metric for t in gate.performance}
        for t in gate.performance:
            checks.append(_check("performance", t.metric, metrics.get(t.metric), t))
        for k, v in sorted(metrics.items()):
            if k not in limited:
                checks.append(_check("performance", k, v, None))
        fairness: dict[str, Any] = {}
        if gate.fairness is not None:
            fairness, fair_checks = self._fairness(gate, table, y_true, pred, model)
            checks += fair_checks
        robustness: dict[str, Any] = {}
        if gate.robustness is not None:
            robustness, rob_checks = self._robustness(gate, table, runner, pred, model, training)
            checks += rob_checks
        champion = self._champion(principal, model, gate, table, y_true, metrics)
        if champion is not None:
            checks.append(champion.pop("check"))
        passed = all(c.passed is not False for c in checks)
        now = datetime.now(UTC)
        report = ValidationReport(
            model=model.ref,
            objective=model.objective,
            suite=suite_name,
            suite_hash=suite_hash(suite_name, gate),
            holdout=holdout.ref,
            holdout_fingerprint=holdout.fingerprint,
            holdout_rows=table.num_rows,
            training_data=[
                {"ref": d.get("ref"), "fingerprint": d.get("fingerprint")}
                for d in model.lineage.get("datasets", [])
            ],
            overlap_rows=0,
            checks=checks,
            passed=passed,
            metrics=metrics,
            fairness=fairness,
            robustness=robustness,
            champion=champion,
            evaluated_by=principal.name,
            evaluated_at=now,
            applicable=not not_applicable,
            not_applicable=not_applicable,
            applicable_suite=app.suite,
            applicable_holdout=app.holdout_ref(newest),
            by_producer=by_producer,
        )
        body = canonical_json(report.model_dump(mode="json"))
        report_hash = hashlib.sha256(body.encode()).hexdigest()
        vid = "v-" + secrets.token_hex(6)
        action.payload.update(
            {
                "validation": vid,
                "holdout_fingerprint": holdout.fingerprint,
                "report_hash": report_hash,
                "passed": passed,
                "applicable": not not_applicable,
                "by_producer": by_producer,
            }
        )

        spent = Usage(
            wall_seconds=time.perf_counter() - wall0, cpu_seconds=time.process_time() - cpu0
        )

        def do(s: Session) -> ValidationInfo:
            _, mv = self.registry.version_row(s, model.ref, lock=True)
            # the evaluation's compute (the process's CPU while it ran), at the model's site
            self.rt.meter.usage(
                s,
                spent,
                team=model.team,
                site=model.site,
                kind="validation",
                action="model.validate",
                ref=vid,
                model=model.ref,
            )
            s.add(
                Validation(
                    id=vid,
                    model_version_id=mv.id,
                    holdout_version_id=holdout_id,
                    holdout_ref=holdout.ref,
                    holdout_fingerprint=holdout.fingerprint,
                    suite_name=suite_name,
                    suite_hash=report.suite_hash,
                    passed=passed,
                    report_json=body,
                    report_hash=report_hash,
                    created_by=principal.name,
                    created_at=now,
                )
            )
            on = f"{vid} under suite {suite_name} on {holdout.ref}"
            counts = not not_applicable and not by_producer
            if not not_applicable and not passed and mv.stage in _FAILABLE:
                failed = ", ".join(c.name for c in checks if c.passed is False)
                self._stage(s, mv, "failed", principal.name, f"failed {on}: {failed}")
            elif counts and passed and mv.stage in ("candidate", "failed"):
                self._stage(s, mv, "validated", principal.name, f"passed {on}")
            card = json.loads(mv.card_json)
            entry = {
                "id": vid,
                "passed": passed,
                "holdout": holdout.ref,
                "holdout_fingerprint": holdout.fingerprint,
                "suite": suite_name,
                "by": principal.name,
                "applicable": not not_applicable,
                "counts": counts,
            }
            if not_applicable:
                # on the record, beside (never instead of) the applicable evidence
                entry["reasons"] = not_applicable
                others = card.get("validations_not_applicable")
                card["validations_not_applicable"] = [
                    *(others if isinstance(others, list) else []),
                    entry,
                ]
            else:
                card["validation"] = {
                    **entry,
                    "checks": [c.model_dump(mode="json") for c in checks],
                }
                if fairness:
                    card["fairness"] = fairness
                if robustness:
                    card["robustness"] = robustness
            mv.card_json = canonical_json(card)
            s.flush()
            return self._info(s, self._row(s, vid))

        return self.rt.door.run(principal, action, do)

    # -- parts -------------------------------------------------------------------------------
    def _training_tables(self, principal: Principal, model: ModelDetail) -> list[pa.Table]:
        refs = [d["ref"] for d in model.lineage.get("datasets", []) if d.get("ref")]
        return [self.datasets.read(principal, ref, purpose=PURPOSE) for ref in refs]

    @staticmethod
    def _overlap(training: list[pa.Table], holdout: pa.Table) -> int:
        """Rows of the holdout found, identical, in the model's training data."""
        total = 0
        for train in training:
            # whole rows: every column the two tables share (not only the model's features,
            # whose few values would make distinct rows look alike)
            common = [c for c in holdout.column_names if c in train.column_names]
            if not common:
                continue
            keys = row_keys(holdout, common)
            total += int(pc.sum(pc.is_in(keys, value_set=row_keys(train, common))).as_py() or 0)
        return total

    def _fairness(
        self, gate: GateSuite, table: pa.Table, y_true: Any, pred: Prediction, model: ModelDetail
    ) -> tuple[dict[str, Any], list[Check]]:
        from steward.kernels.fairness import fairness_report

        assert gate.fairness is not None
        fair = gate.fairness
        missing = [a for a in fair.sensitive if a not in table.column_names]
        if missing:
            raise ValidationFailed(
                f"the holdout has no column {', '.join(repr(a) for a in missing)} named as "
                "sensitive by the gate suite; keep such attributes in the holdout (they need "
                "not be features)",
                expected=fair.sensitive,
                found=table.column_names,
            )
        classes = model.classes or [0, 1]
        positive = classes[1]
        truth = (np.asarray(y_true) == positive).astype(np.int64)
        decided = (np.asarray(pred.labels) == positive).astype(np.int64)
        groups = {a: _labels_of(table.column(a)) for a in fair.sensitive}
        score = pred.positive_score() if pred.probabilities is not None else None
        report = fairness_report(
            truth,
            decided,
            groups,
            y_score=score,
            min_group_size=fair.min_group_size,
            intersections=fair.intersections and len(groups) > 1,
        )
        out = report.to_dict()
        attributes: dict[str, Any] = {}
        for name, attr in report.attributes.items():
            attributes[name] = {
                "groups": [_group_row(g) for g in attr.groups],
                "summary": attr.summary.to_dict(),
                "judged": attr.judged,
            }
        too_small = [
            {"attribute": name, "group": _group_label(sg.group), "count": sg.count}
            for name, groups_ in report.too_small().items()
            for sg in groups_
        ]
        checks: list[Check] = []
        unjudged = report.not_judged()
        for name in unjudged:
            # fails closed: one group (or none) gives a difference of 0 and a ratio of 1 by
            # construction, which is no evidence of fairness
            n = report.attributes[name].summary.groups_judged
            checks.append(
                Check(
                    kind="fairness",
                    name=f"{name}: judged",
                    value=float(n),
                    limit={"min": 2.0},
                    passed=None if fair.allow_unjudged else False,
                    detail=(
                        f"not judged: {n} group(s) with at least {fair.min_group_size} rows; "
                        "two are needed to compare"
                        + (
                            " (allowed by the suite: allow_unjudged)"
                            if fair.allow_unjudged
                            else "; a larger holdout, a smaller min_group_size or "
                            "allow_unjudged: true in the suite"
                        )
                    ),
                )
            )
        for t in fair.limits:
            for name, attr in report.attributes.items():
                if not attr.judged:
                    checks.append(
                        Check(
                            kind="fairness",
                            name=f"{name}: {t.metric}",
                            value=None,
                            limit=_limit(t),
                            detail="not judged (see the judged check)",
                        )
                    )
                    continue
                value = getattr(attr.summary, t.metric)
                checks.append(
                    _check(
                        "fairness",
                        f"{name}: {t.metric}",
                        None if value != value else float(value),
                        t,
                        f"{attr.summary.groups_judged} groups judged",
                    )
                )
        for inter in report.intersections:
            for t in fair.limits:
                value = getattr(inter.summary, t.metric)
                checks.append(
                    _check(
                        "fairness",
                        f"{inter.name}: {t.metric}",
                        None if value != value else float(value),
                        None,
                        "intersection, reported",
                    )
                )
        summary = {
            "min_group_size": fair.min_group_size,
            "attributes": attributes,
            "intersections": {
                i.name: {
                    "groups": [_group_row(g) for g in i.groups],
                    "summary": i.summary.to_dict(),
                }
                for i in report.intersections
            },
            "too_small": too_small,
            "not_judged": unjudged,
            "allow_unjudged": fair.allow_unjudged,
            "overall": out.get("overall"),
        }
        return summary, checks

    def _robustness(
        self,
        gate: GateSuite,
        table: pa.Table,
        runner: OnnxRunner,
        pred: Prediction,
        model: ModelDetail,
        training: list[pa.Table],
    ) -> tuple[dict[str, Any], list[Check]]:
        from steward.kernels.robustness import (
            audit_training_data,
            missing_and_out_of_range,
            perturbation_flip_rate,
            training_ranges,
        )

        assert gate.robustness is not None
        sample = table.slice(0, min(table.num_rows, ROBUSTNESS_ROWS))
        feeds = runner.feeds(sample)
        numeric = [i["name"] for i in model.inputs if i["datatype"] != "BYTES"]
        values: dict[str, float | None] = {}
        detail: dict[str, Any] = {"rows": sample.num_rows}
        if numeric:
            x = np.hstack([feeds[n].astype(np.float64) for n in numeric])
            scale = np.nan_to_num(np.nanstd(x, axis=0), nan=0.0)

            def predict(xn: npt.NDArray[Any]) -> npt.NDArray[Any]:
                f = dict(feeds)
                for j, n in enumerate(numeric):
                    f[n] = xn[:, j : j + 1].astype(feeds[n].dtype)
                return np.asarray(runner.session.run(None, f)[0]).reshape(-1)

            flips = perturbation_flip_rate(
                predict, x, scale, epsilon=gate.robustness.epsilon, feature_names=numeric
            )
            values["flip_rate"] = flips.flip_rate
            detail["flips"] = {
                "flip_rate": flips.flip_rate,
                "rows_ever_flipped": flips.rows_ever_flipped,
                "epsilon": flips.epsilon,
                "most_sensitive": [
                    {"feature": f.feature, "flip_rate": f.flip_rate}
                    for f in flips.most_sensitive(3)
                ],
            }
        train_cols: dict[str, Any] = {}
        if training:
            t0 = _all_rows(training)
            for i in model.inputs:
                col = i.get("column", i["name"])
                if i["datatype"] != "BYTES" and col in t0.column_names:
                    train_cols[i["name"]] = _floats(t0.column(col))
        probe_batch = {k: v[: min(len(v), 200)] for k, v in feeds.items()}

        def predict_rows(batch: Any) -> Any:
            return runner.session.run(None, dict(batch))

        probes = missing_and_out_of_range(predict_rows, probe_batch, training_ranges(train_cols))
        values["invalid_output_share"] = (
            len(probes.failures) / len(probes.probes) if probes.probes else 0.0
        )
        detail["probes"] = [
            {
                "feature": p.feature,
                "kind": p.kind,
                "answered": p.answered,
                "finite": p.finite,
                "valid_probabilities": p.valid_probabilities,
                "decision_shift": p.decision_shift,
                "ok": p.ok,
                "error": (p.error or "")[:200],
            }
            for p in probes.probes
        ]
        target = model.spec.get("target")
        if training and target in training[0].column_names and model.objective == "binary":
            t0 = _all_rows(training)
            cols = {
                i.get("column", i["name"]): _audit_values(t0.column(i.get("column", i["name"])))
                for i in model.inputs
                if i.get("column", i["name"]) in t0.column_names
            }
            categorical = [
                i.get("column", i["name"]) for i in model.inputs if i["datatype"] == "BYTES"
            ]
            audit = audit_training_data(
                cols, _labels_of(t0.column(target)), categorical=categorical
            )
            values["conflicting_duplicates_share"] = audit.conflicting_share
            values["leakage_auc"] = max(audit.feature_auc.values(), default=0.5)
            detail["audit"] = {
                "rows": audit.rows,
                "conflicting_rows": audit.conflicting_rows,
                "conflicting_share": audit.conflicting_share,
                "feature_auc": audit.feature_auc,
                "findings": [
                    {"check": f.check, "severity": f.severity, "message": f.message}
                    for f in audit.findings
                ],
            }
        limits = {t.metric: t for t in gate.robustness.limits}
        checks = [
            _check("robustness", name, value, limits.get(name)) for name, value in values.items()
        ]
        for name, t in limits.items():
            if name not in values:
                checks.append(_check("robustness", name, None, t))
        return {**detail, "values": values}, checks

    def _champion(
        self,
        principal: Principal,
        model: ModelDetail,
        gate: GateSuite,
        table: pa.Table,
        y_true: npt.NDArray[Any],
        metrics: dict[str, float],
    ) -> dict[str, Any] | None:
        with self.rt.store.transaction() as s:
            row = s.execute(
                select(ModelVersion.version)
                .join(Model, Model.id == ModelVersion.model_id)
                .where(Model.name == model.name, ModelVersion.stage == "production")
            ).first()
        if row is None or row[0] == model.version:
            return None
        champ_ref = f"{model.name}@{row[0]}"
        champ = self.registry.show(principal, champ_ref)
        metric = (gate.champion.metric if gate.champion else None) or gate.primary
        margin = gate.champion.margin if gate.champion else 0.0
        runner = OnnxRunner(self.registry.onnx(principal, champ_ref), champ.inputs, champ.classes)
        cp = runner.predict(table)
        champ_metrics = performance(
            champ.objective, y_true, cp.labels, cp.probabilities, champ.classes
        )
        a, b = metrics.get(metric), champ_metrics.get(metric)
        if a is None or b is None:
            ok, detail = False, f"{metric} is not measurable for both on this holdout"
        elif metric in LOWER_IS_BETTER:
            ok, detail = a <= b + margin, f"lower is better; allowed up to champion + {margin:g}"
        else:
            ok, detail = a >= b - margin, f"higher is better; allowed down to champion − {margin:g}"
        check = Check(
            kind="champion",
            name=f"{metric} vs {champ_ref}",
            value=a,
            limit={
                "max" if metric in LOWER_IS_BETTER else "min": (
                    b + margin if metric in LOWER_IS_BETTER else b - margin
                )
            }
            if b is not None
            else None,
            passed=ok,
            detail=detail,
        )
        return {
            "model": champ_ref,
            "metric": metric,
            "challenger": a,
            "champion": b,
            "margin": margin,
            "check": check,
        }

    # -- reads -------------------------------------------------------------------------------
    def _row(self, s: Session, vid: str) -> Validation:
        v = s.get(Validation, vid)
        if v is None:
            raise NotFound(f"validation {vid!r} not found", validation=vid)
        return v

    @staticmethod
    def _stage(s: Session, mv: ModelVersion, to: str, by: str, reason: str) -> None:
        s.add(
            StageChange(
                model_version_id=mv.id,
                from_stage=mv.stage,
                to_stage=to,
                changed_by=by,
                reason=reason,
                created_at=datetime.now(UTC),
            )
        )
        mv.stage = to

    def _applicable_of(self, s: Session, m: Model, mv: ModelVersion) -> Applicable:
        return applicable_for(self.rt.config.gates, mv.objective, m.team, m.name)

    def _standing(
        self, s: Session, v: Validation, mv: ModelVersion, app: Applicable
    ) -> tuple[ValidationReport, str | None, str | None]:
        """The report, why it is stale (``None``: current) and why it does not count
        toward approval (``None``: it counts)."""
        report = ValidationReport.model_validate_json(v.report_json)
        name, _, version = v.holdout_ref.partition("@")
        stale: str | None = None
        suite = self.rt.config.gates.suites.get(v.suite_name)
        if suite is None:
            stale = f"suite {v.suite_name!r} is no longer declared"
        elif suite_hash(v.suite_name, suite) != v.suite_hash:
            stale = f"suite {v.suite_name!r} changed since the validation"
        else:
            own = newest_version(s, name)
            if own is not None and version.isdigit() and own > int(version):
                stale = f"a newer holdout version {name}@{own} exists"
        if stale is None and report.applicable:
            newest = newest_version(s, app.holdout) if app.holdout is not None else None
            stale = app.stale(v.suite_name, v.suite_hash, v.holdout_ref, newest)
        by_producer = report.by_producer or v.created_by in _producers(mv)
        if not report.applicable:
            why: str | None = "not applicable: " + "; ".join(report.not_applicable)
        elif by_producer:
            why = f"run by {v.created_by}, a producer of the model"
        elif stale is not None:
            why = f"stale: {stale}"
        else:
            why = None
        return report, stale, why

    def _info(self, s: Session, v: Validation) -> ValidationInfo:
        mv = s.get(ModelVersion, v.model_version_id)
        assert mv is not None
        m = s.get(Model, mv.model_id)
        assert m is not None
        report, stale, why = self._standing(s, v, mv, self._applicable_of(s, m, mv))
        return ValidationInfo(
            id=v.id,
            model=f"{m.name}@{mv.version}",
            holdout=v.holdout_ref,
            holdout_fingerprint=v.holdout_fingerprint,
            suite=v.suite_name,
            passed=v.passed,
            current=stale is None,
            stale_reason=stale,
            applicable=report.applicable,
            applicable_reason="; ".join(report.not_applicable) or None,
            by_producer=report.by_producer or v.created_by in _producers(mv),
            counts=why is None,
            not_counted_reason=why,
            report_hash=v.report_hash,
            created_by=v.created_by,
            created_at=v.created_at,
            report=report,
        )

    def validations(self, principal: Principal, model_ref: str) -> list[ValidationInfo]:
        self.rt.door.check(principal, Action("system.read", Resource("System", "models")))
        with self.rt.store.transaction() as s:
            ref = self.registry.show(principal, model_ref).ref
            _, mv = self.registry.version_row(s, ref)
            rows = s.execute(
                select(Validation)
                .where(Validation.model_version_id == mv.id)
                .order_by(Validation.created_at, Validation.id)
            ).scalars()
            return [self._info(s, v) for v in rows]

    # -- approvals and promotion -------------------------------------------------------------
    def _required(self, team: str | None) -> int:
        g = self.rt.config.gates
        return g.approvals_by_team.get(team or "", g.approvals_required)

    def _newest_first(self, s: Session, mv: ModelVersion) -> list[Validation]:
        return list(
            s.execute(
                select(Validation)
                .where(Validation.model_version_id == mv.id)
                .order_by(Validation.created_at.desc(), Validation.id.desc())
            ).scalars()
        )

    def _governing(self, s: Session, mv: ModelVersion) -> Validation | None:
        """The validation approval and promotion rest on: the newest that was applicable
        when it ran and was not run by a producer (not simply the latest)."""
        producers = _producers(mv)
        for v in self._newest_first(s, mv):
            report = ValidationReport.model_validate_json(v.report_json)
            if report.applicable and not report.by_producer and v.created_by not in producers:
                return v
        return None

    def _failing(self, s: Session, mv: ModelVersion) -> Validation | None:
        """The newest applicable validation, when it failed (what keeps a model failed)."""
        for v in self._newest_first(s, mv):
            if ValidationReport.model_validate_json(v.report_json).applicable:
                return None if v.passed else v
        return None

    def _current_pass(self, s: Session, ref: str, m: Model, mv: ModelVersion) -> Validation:
        if mv.stage == "failed":
            bad = self._failing(s, mv)
            report = ValidationReport.model_validate_json(bad.report_json) if bad else None
            names = [c.name for c in report.failed] if report else []
            raise GateFailed(
                f"{ref} failed its gates in {bad.id if bad else 'its last applicable validation'}"
                f" ({', '.join(names) or 'see the report'}); it cannot be approved or promoted "
                "until a validation under the applicable suite passes",
                model=ref,
                validation=bad.id if bad else None,
                failed=names,
            )
        v = self._governing(s, mv)
        if v is None:
            app = self._applicable_of(s, m, mv)
            ignored = [(x.id, self._standing(s, x, mv, app)[2]) for x in self._newest_first(s, mv)]
            detail = "; ".join(f"{vid}: {why}" for vid, why in ignored if why)
            raise GateFailed(
                f"{ref} has no validation that counts (applicable suite "
                f"{app.suite or '(none)'}, holdout {app.holdout or 'any locked one'}, run by "
                f"someone other than its producer){': ' + detail if detail else ''}; run "
                f"'steward model validate {ref}' as someone who did not produce it",
                model=ref,
                ignored=[vid for vid, _ in ignored],
            )
        if not v.passed:
            report = ValidationReport.model_validate_json(v.report_json)
            failed = ", ".join(c.name for c in report.failed) or "see the report"
            raise GateFailed(
                f"{ref} failed its gates in {v.id} ({failed}); it cannot be approved or promoted",
                model=ref,
                validation=v.id,
                failed=[c.name for c in report.failed],
            )
        _, stale, _ = self._standing(s, v, mv, self._applicable_of(s, m, mv))
        if stale is not None:
            raise GateFailed(
                f"the validation {v.id} of {ref} is stale: {stale}; validate it again",
                model=ref,
                validation=v.id,
            )
        return v

    def _approvals(self, s: Session, mv: ModelVersion, vid: str) -> list[Approval]:
        return list(
            s.execute(
                select(Approval)
                .where(Approval.model_version_id == mv.id, Approval.validation_id == vid)
                .order_by(Approval.created_at, Approval.id)
            ).scalars()
        )

    def decide(
        self, principal: Principal, model_ref: str, *, approve: bool, note: str = ""
    ) -> StageInfo:
        """Approve or reject a validated model version (four eyes; audited).

        Everything that decides whether the decision may land is read inside the write
        transaction, under the model's row lock: concurrent decisions by one approver
        leave exactly one (the unique constraint on (version, validation, approver)
        backs this; a violation is a 409 ``conflict``)."""
        model = self.registry.show(principal, model_ref)
        ref = model.ref
        action = Action(
            "model.approve" if approve else "model.reject",
            self.registry.policy_resource(model),
            payload={"model": ref, "note": note},
        )
        self.rt.door.check(principal, action)
        required = self._required(model.team)

        def do(s: Session) -> StageInfo:
            m, mv = self.registry.version_row(s, ref, lock=True)
            v = self._current_pass(s, ref, m, mv)
            if any(a.user == principal.name for a in self._approvals(s, mv, v.id)):
                raise Conflict(
                    f"{principal.name} already decided on {ref} for validation {v.id}; one "
                    "decision per approver and validation",
                    model=ref,
                    validation=v.id,
                    user=principal.name,
                )
            if mv.stage not in ("validated", "approved"):
                raise GateFailed(
                    f"{ref} is {mv.stage}: only a validated model can be approved or rejected",
                    model=ref,
                    stage=mv.stage,
                )
            action.payload["validation"] = v.id
            s.add(
                Approval(
                    model_version_id=mv.id,
                    validation_id=v.id,
                    user=principal.name,
                    decision="approve" if approve else "reject",
                    note=note,
                    created_at=datetime.now(UTC),
                )
            )
            try:
                s.flush()
            except IntegrityError as exc:
                raise Conflict(
                    f"{principal.name} already decided on {ref} for validation {v.id}",
                    model=ref,
                    validation=v.id,
                    user=principal.name,
                ) from exc
            if not approve:
                self._stage(s, mv, "candidate", principal.name, f"rejected: {note}")
            else:
                yes = {a.user for a in self._approvals(s, mv, v.id) if a.decision == "approve"}
                if len(yes) >= required and mv.stage == "validated":
                    self._stage(
                        s,
                        mv,
                        "approved",
                        principal.name,
                        f"{len(yes)} of {required} approval(s): {', '.join(sorted(yes))}",
                    )
            self._card_approvals(s, mv, required)
            s.flush()
            return self._stage_info(s, ref)

        return self.rt.door.run(principal, action, do)

    def promote(
        self, principal: Principal, model_ref: str, *, stage: str = "production", note: str = ""
    ) -> StageInfo:
        """Move a version to ``production`` (the previous one is retired in the same
        transaction) or to ``retired``."""
        if stage not in ("production", "retired"):
            raise ValidationFailed(
                f"stage: expected production or retired; found {stage!r}", stage=stage
            )
        model = self.registry.show(principal, model_ref)
        ref = model.ref
        action = Action(
            "model.promote",
            self.registry.policy_resource(model),
            payload={"model": ref, "stage": stage, "note": note},
        )

        def do(s: Session) -> StageInfo:
            m, mv = self.registry.version_row(s, ref, lock=True)
            if stage == "retired":
                if mv.stage == "retired":
                    raise Conflict(f"{ref} is already retired", model=ref)
                self._stage(s, mv, "retired", principal.name, note or "retired")
                s.flush()
                return self._stage_info(s, ref)
            if mv.stage == "production":
                raise Conflict(f"{ref} is already in production", model=ref)
            if mv.stage == "failed":
                self._current_pass(s, ref, m, mv)  # raises: it failed its gates
            if mv.stage != "approved":
                raise GateFailed(
                    f"{ref} is {mv.stage}: only an approved model can go to production "
                    f"({self._required(m.team)} approval(s) of a current, passing validation)",
                    model=ref,
                    stage=mv.stage,
                )
            v = self._current_pass(s, ref, m, mv)
            action.payload["validation"] = v.id
            current = (
                s.execute(
                    select(ModelVersion).where(
                        ModelVersion.model_id == m.id,
                        ModelVersion.stage == "production",
                        ModelVersion.id != mv.id,
                    )
                )
                .scalars()
                .all()
            )
            for old in current:
                old_ref = f"{m.name}@{old.version}"
                self._stage(s, old, "retired", principal.name, f"replaced by {ref}")
                action.payload.setdefault("retired", []).append(old_ref)
                # the retirement is on the record too, in this same transaction
                retire = Action(
                    "model.retire", Resource("Model", old_ref), payload={"replaced_by": ref}
                )
                why = Reason("steward-system", f"follows model.promote of {ref}", "permit")
                decision = Decision(True, principal.name, retire.name, str(retire.resource), [why])
                self.rt.ledger.append(s, self.rt.door.draft(principal, retire, decision))
            self._stage(s, mv, "production", principal.name, note or "promoted")
            self._card_approvals(s, mv, self._required(m.team))
            s.flush()
            return self._stage_info(s, ref)

        return self.rt.door.run(principal, action, do)

    def _card_approvals(self, s: Session, mv: ModelVersion, required: int) -> None:
        v = self._governing(s, mv)
        decisions = self._approvals(s, mv, v.id) if v is not None else []
        card = json.loads(mv.card_json)
        card["approvals"] = {
            "required": required,
            "stage": mv.stage,
            "validation": v.id if v is not None else None,
            "decisions": [
                {"user": a.user, "decision": a.decision, "note": a.note} for a in decisions
            ],
        }
        mv.card_json = canonical_json(card)

    def stage_info(self, principal: Principal, model_ref: str) -> StageInfo:
        ref = self.registry.show(principal, model_ref).ref
        with self.rt.store.transaction() as s:
            return self._stage_info(s, ref)

    def _stage_info(self, s: Session, ref: str) -> StageInfo:
        m, mv = self.registry.version_row(s, ref)
        # the validation the stage rests on: the failing one of a failed model, else the
        # one approvals count on, else (nothing counts yet) the newest
        v = (self._failing(s, mv) if mv.stage == "failed" else None) or self._governing(s, mv)
        if v is None:
            newest = self._newest_first(s, mv)
            v = newest[0] if newest else None
        approvals = self._approvals(s, mv, v.id) if v is not None else []
        history = s.execute(
            select(StageChange)
            .where(StageChange.model_version_id == mv.id)
            .order_by(StageChange.id)
        ).scalars()
        return StageInfo(
            model=ref,
            stage=mv.stage,
            approvals=[
                ApprovalInfo(
                    model=ref,
                    user=a.user,
                    decision=a.decision,
                    note=a.note,
                    validation=a.validation_id,
                    created_at=a.created_at,
                )
                for a in approvals
            ],
            approvals_required=self._required(m.team),
            history=[
                {
                    "from": h.from_stage,
                    "to": h.to_stage,
                    "by": h.changed_by,
                    "reason": h.reason,
                    "at": h.created_at.isoformat(),
                }
                for h in history
            ],
            validation=self._info(s, v) if v is not None else None,
        )


def _producers(mv: ModelVersion) -> list[str]:
    """Who produced a version (its validation never counts toward its approval); the
    same list the ``four-eyes`` policy sees as ``resource.producers``."""
    return [mv.created_by]


def _truth(col: pa.ChunkedArray, classes: list[Any] | None) -> npt.NDArray[Any]:
    """The target in the representation of the model's classes (bool → 0/1, numbers as
    numbers, text as text); regression targets as float64."""
    if classes is None:
        return np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False))
    if pa.types.is_boolean(col.type):
        col = pc.cast(col, pa.int64())
    values = np.asarray(col.to_numpy(zero_copy_only=False))
    if classes and isinstance(classes[0], str):
        return values.astype(str).astype(object)
    return values


def _champion_limit(metric: str, champion: float | None, margin: float) -> dict[str, float] | None:
    if champion is None:
        return None
    if metric in LOWER_IS_BETTER:
        return {"max": champion + margin}
    return {"min": champion - margin}


def _labels_of(col: pa.ChunkedArray) -> npt.NDArray[Any]:
    """Group labels as text, cast in Arrow (nulls stay None; the kernel names them
    "(missing)"; booleans read "true"/"false")."""
    if pa.types.is_dictionary(col.type):
        col = pc.cast(col, col.type.value_type)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = pc.cast(col, pa.string())
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)


def _all_rows(tables: list[pa.Table]) -> pa.Table:
    """The training data as one table (several datasets share their columns)."""
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")


def _floats(col: pa.ChunkedArray) -> npt.NDArray[np.float64]:
    return np.asarray(
        pc.fill_null(pc.cast(col, pa.float64()), float("nan")).to_numpy(), dtype=np.float64
    )


def _audit_values(col: pa.ChunkedArray) -> npt.NDArray[Any]:
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        return _floats(col)
    return _labels_of(col)


def _group_label(group: dict[str, str]) -> str:
    return " × ".join(f"{v}" for v in group.values())


def _group_row(g: Any) -> dict[str, Any]:
    d = g.to_dict()
    return {
        "group": _group_label(d["group"]),
        "count": d["count"],
        "selection_rate": d.get("selection_rate"),
        "tpr": d.get("true_positive_rate"),
        "fpr": d.get("false_positive_rate"),
        "accuracy": d.get("accuracy"),
        "roc_auc": d.get("roc_auc"),
    }
