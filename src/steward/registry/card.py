"""Model cards (after Mitchell et al., "Model Cards for Model Reporting", 2019).

A card is JSON first (stored with the version, filled in further by later stages: the
gates add fairness and approvals) and rendered as Markdown for people. Sections the
registry cannot know yet are present and say so, rather than missing.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_card", "render_markdown"]

PENDING = "pending: filled in by the validation gates"


def build_card(
    *,
    name: str,
    objective: str,
    intended_use: str | None,
    spec: dict[str, Any],
    metrics: dict[str, float],
    lineage: dict[str, Any],
    datasets: list[dict[str, Any]],
    external: bool = False,
    n_train: int | None = None,
    n_validation: int | None = None,
) -> dict[str, Any]:
    """The card of a new version (JSON-able)."""
    limitations = [
        "Metrics are measured on a random validation split of the training data, not on a "
        "locked holdout; the validation gates measure that.",
        "The model has seen only the populations in its training data; it is not validated "
        "for others.",
    ]
    if external:
        limitations.insert(
            0,
            "Externally trained: its lineage is declared by its owner, not recorded by "
            "Steward, and its metrics (if any) are as declared.",
        )
    special = sorted(
        {
            c["column"]
            for d in datasets
            for c in d.get("classification", [])
            if c.get("category") == "special"
        }
    )
    if special:
        limitations.append(
            "Trained on data with special-category columns ("
            + ", ".join(special)
            + "); check fairness across those groups before use."
        )
    return {
        "model": name,
        "objective": objective,
        "intended_use": intended_use or "not stated: give --intended-use when training",
        "training_data": datasets,
        "training": {
            "estimator": lineage.get("estimator"),
            "family": spec.get("family"),
            "target": spec.get("target"),
            "features": lineage.get("features"),
            "params": lineage.get("params"),
            "seed": spec.get("seed"),
            "rows": {"train": n_train, "validation": n_validation},
        },
        "metrics": {"validation_split": metrics},
        "lineage": {
            k: lineage.get(k)
            for k in ("trained_by", "site", "job", "code_version", "libraries", "onnx_check")
            if k in lineage
        },
        "limitations": limitations,
        "validation": PENDING,
        "fairness": PENDING,
        "robustness": PENDING,
        "approvals": PENDING,
        "external": external,
    }


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if v is None:
        return "—"
    return str(v)


def render_markdown(ref: str, stage: str, card: dict[str, Any]) -> str:
    """The card as Markdown."""
    t = card.get("training", {})
    lines = [
        f"# Model card: {ref}",
        "",
        f"- Stage: **{stage}**"
        + (" (external model)" if card.get("external") else "")
        + (" — it failed its gates under the applicable suite" if stage == "failed" else ""),
        f"- Objective: {card.get('objective')}",
        f"- Intended use: {card.get('intended_use')}",
        "",
        "## Training data",
        "",
    ]
    data = card.get("training_data") or []
    if not data:
        lines.append("Not recorded (external model)." if card.get("external") else "—")
    for d in data:
        lines.append(
            f"- `{d.get('ref')}`: {_fmt(d.get('rows'))} rows, {d.get('jurisdiction')} data at "
            f"{d.get('site')}, fingerprint `{str(d.get('fingerprint'))[:16]}…`"
            + (", anonymised" if d.get("anonymised") else "")
        )
        counts = d.get("classification_summary") or {}
        if counts:
            lines.append(
                "  - columns by class: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            )
    lines += [
        "",
        "## Training",
        "",
        f"- Estimator: `{t.get('estimator')}` (family {t.get('family')})",
        f"- Target: `{t.get('target')}`; seed {t.get('seed')}",
        f"- Features ({len(t.get('features') or [])}): "
        + ", ".join(f"`{f}`" for f in (t.get("features") or [])),
        f"- Rows: {_fmt((t.get('rows') or {}).get('train'))} train, "
        f"{_fmt((t.get('rows') or {}).get('validation'))} validation",
        "",
        "## Metrics (validation split)",
        "",
    ]
    metrics = (card.get("metrics") or {}).get("validation_split") or {}
    if metrics:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in sorted(metrics.items())]
    else:
        lines.append("None recorded.")
    lineage = card.get("lineage") or {}
    lines += ["", "## Lineage", ""]
    for k, v in lineage.items():
        if isinstance(v, dict):
            v = ", ".join(f"{a} {_fmt(b)}" for a, b in sorted(v.items()))
        lines.append(f"- {k.replace('_', ' ')}: {_fmt(v)}")
    lines += ["", "## Limitations", ""]
    lines += [f"- {x}" for x in card.get("limitations", [])]
    validation = card.get("validation")
    lines += ["", "## Validation", ""]
    if isinstance(validation, dict):
        verdict = "passed" if validation.get("passed") else "FAILED"
        lines.append(
            f"{verdict} on locked holdout `{validation.get('holdout')}` (fingerprint "
            f"`{str(validation.get('holdout_fingerprint'))[:16]}…`), suite "
            f"`{validation.get('suite')}`, validation {validation.get('id')}"
            + (
                f" (run by {validation.get('by')}, a producer: does not count toward approval)"
                if validation.get("counts") is False
                else ""
            )
        )
        lines += ["", "| kind | check | value | limit | result |", "|---|---|---|---|---|"]
        for c in validation.get("checks", []):
            limit = c.get("limit") or {}
            bound = ", ".join(f"{'≥' if k == 'min' else '≤'} {_fmt(v)}" for k, v in limit.items())
            result = {True: "pass", False: "**FAIL**", None: "—"}[c.get("passed")]
            lines.append(
                f"| {c.get('kind')} | {c.get('name')} | {_fmt(c.get('value'))} | "
                f"{bound or '(reported)'} | {result} |"
            )
    else:
        lines.append(PENDING)
    others = card.get("validations_not_applicable")
    if isinstance(others, list) and others:
        lines += ["", "Validations under another suite or holdout (recorded, never counted):", ""]
        for o in others:
            lines.append(
                f"- {o.get('id')}: {'passed' if o.get('passed') else 'FAILED'} under suite "
                f"`{o.get('suite')}` on `{o.get('holdout')}` by {o.get('by')}: "
                + "; ".join(o.get("reasons") or [])
            )
    fairness = card.get("fairness")
    lines += ["", "## Fairness", ""]
    if isinstance(fairness, dict):
        keys = (
            "demographic_parity_difference",
            "demographic_parity_ratio",
            "equalized_odds_difference",
            "accuracy_difference",
        )
        for attr, data in (fairness.get("attributes") or {}).items():
            summary = data.get("summary") or {}
            lines.append(
                f"- `{attr}` ({summary.get('groups_judged')} groups): "
                + ", ".join(f"{k.replace('_', ' ')} {_fmt(summary.get(k))}" for k in keys)
            )
            for g in data.get("groups", []):
                lines.append(
                    f"  - {g.get('group')}: {g.get('count')} rows, selection rate "
                    f"{_fmt(g.get('selection_rate'))}, TPR {_fmt(g.get('tpr'))}, "
                    f"FPR {_fmt(g.get('fpr'))}"
                )
        for small in fairness.get("too_small") or []:
            lines.append(
                f"- too small to judge: {small.get('attribute')} = {small.get('group')} "
                f"({small.get('count')} rows)"
            )
    else:
        lines.append(_fmt(fairness))
    robustness = card.get("robustness")
    lines += ["", "## Robustness", ""]
    if isinstance(robustness, dict):
        for k, v in sorted((robustness.get("values") or {}).items()):
            lines.append(f"- {k.replace('_', ' ')}: {_fmt(v)}")
        probes = robustness.get("probes") or []
        if probes:
            bad = [p for p in probes if not p.get("ok")]
            lines.append(
                f"- missing and out-of-range probes: {len(probes) - len(bad)} of {len(probes)} "
                "answered with valid outputs"
                + (
                    ": failed " + ", ".join(f"{p['feature']} {p['kind']}" for p in bad)
                    if bad
                    else ""
                )
            )
        for f in (robustness.get("audit") or {}).get("findings", []):
            lines.append(f"- training data ({f.get('severity')}): {f.get('message')}")
    else:
        lines.append(_fmt(robustness))
    approvals = card.get("approvals")
    lines += ["", "## Approvals", ""]
    if isinstance(approvals, dict):
        lines.append(f"- required: {approvals.get('required')}; stage: {approvals.get('stage')}")
        for d in approvals.get("decisions", []):
            lines.append(f"- {d.get('user')}: {d.get('decision')} — {d.get('note') or '(no note)'}")
    else:
        lines.append(_fmt(approvals))
    return "\n".join(lines) + "\n"
