"""The gates part of docs/benchmarks.md: time to validate, fairness against fairlearn."""

from __future__ import annotations

from statistics import median

from gates_bench import (
    AGREE_TOLERANCE,
    MIN_GROUP_SIZE,
    RACE_GROUPS,
    RACE_SHARES,
    SUITE,
    FairnessCompare,
    GatesResult,
    Step,
    ValidateResult,
)
from mdtable import table as _table

__all__ = ["gates_aims", "gates_sections"]

NO_AIM = "measured (no aim given)"


def _s(seconds: float) -> str:
    if seconds < 0.1:
        return f"{seconds:.4f}"
    return f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def _range(values: list[float]) -> str:
    return f"{_s(min(values))}–{_s(max(values))}" if len(values) > 1 else ""


def _runs(n: int) -> str:
    return f"{n} run{'s' if n != 1 else ''}"


def gates_aims(g: GatesResult | None) -> list[list[str]]:
    if g is None:
        return []
    rows: list[list[str]] = []
    if g.validate is not None:
        v = g.validate
        rows.append(
            [
                f"time to validate a {v.holdout_rows:,}-row holdout (performance, fairness on "
                "two attributes and their intersection, robustness)",
                "SQLite",
                f"**{v.median:.1f} s** (median of {_runs(len(v.times))}; "
                f"{v.rows_per_second:,.0f} holdout rows/s; `hgb` model)",
                NO_AIM,
            ]
        )
    if g.fairness is not None:
        f = g.fairness
        rows.append(
            [
                f"fairness vs fairlearn MetricFrame on {f.rows:,} rows (same metrics, same groups)",
                "—",
                f"Steward {_s(f.steward_median)} s vs fairlearn {_s(f.fairlearn_median)} s "
                f"(median of {_runs(f.runs)} each): **{f.ratio:,.0f}x faster** "
                f"({f.documented_ratio:,.0f}x counting fairlearn's summary functions); "
                f"{f.values_compared} numbers agree to {AGREE_TOLERANCE:g}",
                NO_AIM,
            ]
        )
    elif "fairness" in g.problems:
        rows.append(
            [
                "fairness vs fairlearn MetricFrame",
                "—",
                f"not measured: {g.problems['fairness']}",
                "**not measured**",
            ]
        )
    return rows


def _suite_text() -> str:
    perf = ", ".join(
        f"{t['metric']} {'≥' if 'min' in t else '≤'} {t.get('min', t.get('max'))}"
        for t in SUITE["performance"]
    )
    fair = SUITE["fairness"]
    limits = ", ".join(
        f"{t['metric']} {'≥' if 'min' in t else '≤'} {t.get('min', t.get('max'))}"
        for t in fair["limits"]
    )
    rob = SUITE["robustness"]
    flips = ", ".join(
        f"{t['metric']} {'≥' if 'min' in t else '≤'} {t.get('min', t.get('max'))}"
        for t in rob["limits"]
    )
    return (
        f"performance {perf}; fairness on `{'`, `'.join(fair['sensitive'])}` with "
        f"intersections, `min_group_size: {fair['min_group_size']}`, {limits}; robustness "
        f"`epsilon: {rob['epsilon']}`, {flips}"
    )


def _describe(step: Step, v: ValidateResult) -> str:
    """What a breakdown row covers, in words."""
    flips = v.robustness_detail.get("flips", {})
    trials = 5  # perturbation_flip_rate's default, which validate uses
    nested = step.depth > 0
    text = {
        "before": "model and suite looked up, holdout's governed view, policy check of "
        "`model.validate` (`door.check`)",
        "read": (
            "`DatasetService.read` (policy check, decrypt, Parquet → Arrow)"
            if nested
            else f"read the {v.holdout_rows:,}-row holdout: `DatasetService.read` with "
            "purpose `gate-evaluation` (policy check, decrypt, Parquet → Arrow)"
        ),
        "_overlap": "overlap check: the holdout's rows looked up, whole, in the training data",
        "_training_tables": f"read the model's training data ({v.train_rows:,} rows)"
        + (" again, for the robustness audit" if not nested else ""),
        "onnx_setup": "model ONNX decrypted (`ModelService.onnx`), ONNX Runtime session built",
        "predict": f"ONNX Runtime over the {v.holdout_rows:,} rows (`OnnxRunner.predict`, "
        "inputs converted from Arrow in batches of 65,536)",
        "performance": "performance metrics (`kernels.metrics.performance`: scikit-learn's "
        "accuracy, ROC AUC, log loss, Brier, F1, ..., calibration error)",
        "_fairness": "fairness",
        "_labels_of": (
            "sensitive columns to NumPy arrays of Python strings (`_labels_of`: "
            "`to_pylist()`, one Python object per row)"
            if step.parent == "_fairness"
            else "training columns and target to Python strings (`_labels_of`)"
        ),
        "fairness_report": "fairness kernel (`fairness_report`: both attributes and their "
        "intersection, with scores, i.e. per-group ROC AUC too)",
        "_robustness": "robustness",
        "perturbation_flip_rate": f"perturbation flips on the first {v.robustness_rows:,} "
        f"rows (`epsilon` {flips.get('epsilon', '?')}; {trials} trials x (all numeric "
        f"features, then each of the {v.numeric_features} alone): "
        f"{1 + trials * (1 + v.numeric_features)} ONNX runs)",
        "missing_and_out_of_range": f"missing / out-of-range / unseen-category probes "
        f"({v.robustness_detail.get('probes', '?')} probes on 200 rows)",
        "audit_training_data": f"training-data audit on the {v.train_rows:,} training rows "
        "(conflicting duplicates, label noise, single-feature leakage AUC, constant columns)",
        "_champion": "champion: is another version in production? (none here, so no second "
        "model runs)",
        "between": "other work between the steps (target to NumPy, checks listed)",
        "after": "report built and hashed, then `model.validate` through the door: "
        "validation row (and, for a passing candidate, the stage change to validated: the "
        "first run only), model card, ledger entry, commit",
    }.get(step.key)
    if step.key == "rest":
        text = {
            "_overlap": "row keys (every shared column as text, joined) and `is_in`, in Arrow",
            "_fairness": "the rest: truth and decisions to 0/1, report and checks assembled",
            "_robustness": "the rest: inputs for the sample, standard deviations, training "
            "ranges, report assembled",
        }.get(step.parent or "", "the rest")
    text = text or f"`{step.key}`"
    if step.calls > 1:
        text += f" ({step.calls} calls)"
    return ("… " * step.depth) + text


def _validate_section(v: ValidateResult, number: int) -> list[str]:
    race = ", ".join(f"{g} {s:.1%}" for g, s in zip(RACE_GROUPS, RACE_SHARES, strict=True))
    groups = ", ".join(f"{n} {k}" for n, k in v.fairness_groups.items())
    lines = [
        "",
        f"## {number}. Time to validate a model on a {v.holdout_rows:,}-row locked holdout",
        "",
        f"A generated credit table of {v.train_rows + v.holdout_rows:,} rows x {v.columns} "
        f"columns ({v.generate_seconds:.1f} s): six numeric features, two categorical ones "
        f"(6 and 4 values), `sex` (2 groups), `race` (5 groups: {race}) and a binary "
        "`default` (about 30% positive) that depends on the features; income differs by race "
        "and the outcome slightly by sex. On a fresh SQLite home whose `steward.yaml` declares "
        f"one gate suite for team `risk` ({_suite_text()}), alice registers the first "
        f"{v.train_rows:,} rows as training data ({v.register_train_seconds:.1f} s) and the "
        f"other {v.holdout_rows:,} as a **locked** holdout ({v.register_holdout_seconds:.1f} "
        f"s), and trains `{v.model_ref}` on the former as a real job (`TrainingService.submit`, "
        f"then `Worker(rt, 'inline').run_once`; family `hgb`, `{v.estimator}`; `sex` and "
        f"`race` excluded from the {v.features} features; {v.train_seconds:.1f} s).",
        "",
        f"Timed: `GateService(rt).validate(bob, '{v.model_ref}', '{v.holdout_ref}')`, the "
        "whole call, as the CLI, SDK and API make it (no champion is in production, so no "
        "second model runs). "
        + (
            f"{len(v.runs)} runs, one after another, on the same model and holdout; each "
            "stores its report. The report, the same every time: "
            if len(v.runs) > 1
            else "One run; it stores its report, which "
        )
        + (
            f"passed all {v.checks} checks"
            if v.passed
            else f"failed {len(v.failed)} of {v.checks} checks ({', '.join(v.failed)}; the "
            "limits are examples, and passing or failing does not change the work done)"
        )
        + f"; groups judged: {groups}"
        + (f"; {v.too_small} too small to judge" if v.too_small else "; none too small")
        + ".",
        "",
    ]
    rows = [
        [f"run {i}", _s(r.seconds), f"{v.holdout_rows / r.seconds:,.0f}", f"{r.cpu_seconds:.1f}"]
        for i, r in enumerate(v.runs, start=1)
    ]
    if len(v.runs) > 1:
        rows.append(
            [
                "**median**",
                f"**{_s(v.median)}**",
                f"**{v.rows_per_second:,.0f}**",
                f"{median(r.cpu_seconds for r in v.runs):.1f}",
            ]
        )
    lines += _table(["validate", "seconds", "holdout rows/s", "cpu-s (process)"], rows)
    lines += [
        "",
        "cpu-s is this process's user + system time during the call, all threads: above the "
        "wall time where ONNX Runtime (and NumPy) ran on both cores.",
        "",
        "**Where the time goes**, in the same runs: `time.perf_counter` around the steps "
        "`validate` takes (GateService's `_overlap`, `_training_tables`, `_fairness`, "
        "`_robustness`, `_champion`) and the building blocks inside them "
        "(`DatasetService.read`, `OnnxRunner.predict`, `_labels_of`, the metrics, fairness "
        "and robustness kernels). The benchmark wraps them during the timed runs and puts "
        "them back after (about twenty wrapped calls per run, two clock reads each); nothing "
        "in `src/` changes. Each row is the median over the runs (so the rows need not add "
        "up to the median total exactly). Rows starting with … are inside the row above "
        "them; *the rest* is a step's time outside the calls timed inside it.",
        "",
    ]
    total = v.median
    rows = []
    for step in v.steps():
        if step.parent == "_training_tables":
            continue  # a dataset read and a lookup: the row above says it
        share = f"{step.seconds / total:.0%}" if total else ""
        bold = step.depth == 0 and step.seconds >= 0.1 * total
        secs = f"**{_s(step.seconds)}**" if bold else _s(step.seconds)
        rows.append([_describe(step, v), secs, share])
    rows.append(["**validate, end to end (median)**", f"**{_s(total)}**", "100%"])
    lines += _table(["step", "seconds", "share"], rows)
    lines += [
        "",
        "The robustness checks perturb and probe a fixed prefix of the holdout "
        f"({v.robustness_rows:,} rows), so their cost does not grow with the holdout; the "
        "training-data audit runs over all the training rows, whatever the holdout. "
        "`validate` reads the training data once, for both the overlap check and the "
        "robustness audit. ONNX Runtime (the prediction and the flips) runs on both "
        "cores, so those rows vary most from run to run when the machine is shared.",
    ]
    return lines


def _fairness_section(f: FairnessCompare, number: int, in_validate: float | None) -> list[str]:
    groups = ", ".join(f"{n}: {k}" for n, k in f.groups.items())
    fn_runs = len(f.function_runs)
    lines = [
        "",
        f"## {number}. Fairness on {f.rows:,} rows: Steward's kernel against fairlearn",
        "",
        "The same inputs for both, in memory: the holdout of the previous section and the "
        "decisions of the model as served (its ONNX, through `OnnxRunner`, positive class = "
        "`default` 1): truth and decisions as 0/1 `int64` NumPy arrays, `sex` and `race` as "
        "NumPy arrays of Python strings. Groups: " + groups + f", every one at least "
        f"{MIN_GROUP_SIZE} rows, so both sides judge the same groups.",
        "",
        "- **Steward**: `steward.kernels.fairness.fairness_report(y_true, y_pred, "
        f'{{"sex": sex, "race": race}}, min_group_size={MIN_GROUP_SIZE}, '
        "intersections=True)`. One call computes, for the whole population, each group of "
        "each attribute and each cell of `sex × race`: the count, the confusion counts, "
        "selection rate, TPR, FPR, FNR, accuracy and base rate; and for each of the three, "
        "the difference and ratio of every rate, demographic parity difference and ratio, "
        "equalised odds difference and ratio, accuracy difference. No scores (no per-group "
        "AUC), as fairlearn gets none.",
        f"- **fairlearn** {f.fairlearn_version} (pandas {f.pandas_version}): three "
        "`MetricFrame(metrics={selection_rate, true_positive_rate, false_positive_rate, "
        "accuracy_score, count}, y_true, y_pred, sensitive_features=...)`, one for `sex`, one "
        "for `race` and one for the pair (a pandas DataFrame of both columns, built once "
        "before timing); then the summaries Steward gives for each of the three: "
        "demographic parity difference and ratio (`.difference()` / `.ratio()` of "
        "`selection_rate`) and equalised odds difference (the larger `.difference()` of TPR "
        "and FPR), which is what fairlearn's summary functions compute. **fairlearn** in the "
        "table below is this.",
        "- fairlearn's documented summary functions, `demographic_parity_difference`, "
        "`demographic_parity_ratio` and `equalized_odds_difference(y_true, y_pred, "
        "sensitive_features=...)` for each of the three (nine calls), build MetricFrames of "
        "their own, so they cost about as much again; they are timed in "
        f"{'the first run' if fn_runs == 1 else f'the first {fn_runs} runs'} only, to keep "
        "the benchmark short, and shown separately.",
        f"- **Same numbers**: before anything is reported, every group's count, selection "
        "rate, TPR, FPR and accuracy and every summary (from the frames and from the "
        f"functions) is compared: {f.values_compared} numbers, "
        + (
            "all identical to the last bit"
            if f.max_abs_diff == 0
            else f"largest difference {f.max_abs_diff:.1e}"
        )
        + f" (the benchmark stops if any differs by more than {AGREE_TOLERANCE:g}).",
        f"- {_runs(f.runs).capitalize()} of each, alternating (Steward, then fairlearn), after "
        "one untimed call of each on the first 10,000 rows; each run after `gc.collect()`.",
        "",
    ]
    rows = [
        [
            "**Steward** `fairness_report`",
            f"**{_s(f.steward_median)}**",
            _range(f.steward),
            str(f.runs),
            "1x",
        ],
        [
            "fairlearn: the three MetricFrames",
            _s(median(f.fairlearn_frames)),
            _range(f.fairlearn_frames),
            str(f.runs),
            f"{median(f.fairlearn_frames) / f.steward_median:,.0f}x",
        ],
        [
            "**fairlearn**: the MetricFrames and the summaries from them",
            f"**{_s(f.fairlearn_median)}**",
            _range(f.fairlearn_totals),
            str(f.runs),
            f"**{f.ratio:,.0f}x** slower",
        ],
        [
            "fairlearn's nine summary-function calls",
            _s(f.functions_median),
            _range(f.function_runs),
            str(fn_runs),
            "",
        ],
        [
            "fairlearn as its documentation calls it: MetricFrames + summary functions",
            _s(f.documented_median),
            "",
            "",
            f"{f.documented_ratio:,.0f}x slower",
        ],
    ]
    lines += _table(["computation", "median s", "range s", "runs", "vs Steward"], rows)
    lines += [
        "",
        f"Steward computes the same numbers (and more: FNR, base rates, ratios) "
        f"**{f.ratio:,.0f}x** faster than fairlearn's MetricFrames "
        f"({f.documented_ratio:,.0f}x counting fairlearn's summary functions). Steward counts "
        "the confusion matrix of every group with one `numpy.bincount` over dense group codes "
        "(from Arrow's `dictionary_encode`). fairlearn groups a pandas DataFrame and calls "
        "each metric function on each group; in 0.15 each such call first turns its columns "
        "into arrays with `np.stack(column.to_numpy())`, which walks the group's rows one by "
        "one in Python, so fairlearn's time grows with rows x metrics x frames.",
    ]
    if in_validate is not None:
        lines += [
            "",
            f"In `validate` (section {number - 1}) the same kernel took {_s(in_validate)} s: "
            "there it is also given the scores, and ranks them within every group for the "
            "per-group ROC AUC.",
        ]
    return lines


def gates_sections(g: GatesResult | None, number: int) -> list[str]:
    lines: list[str] = []
    g = g or GatesResult(problems={"all": "not run"})
    why = g.problems.get("all", "not run")
    if g.validate is not None:
        lines += _validate_section(g.validate, number)
    else:
        lines += ["", f"## {number}. Time to validate a model", "", f"NOT MEASURED: {why}"]
    if g.fairness is not None:
        kernel = None
        if g.validate is not None:
            kernel = next(
                (st.seconds for st in g.validate.steps() if st.key == "fairness_report"), None
            )
        lines += _fairness_section(g.fairness, number + 1, kernel)
    else:
        lines += [
            "",
            f"## {number + 1}. Fairness: Steward's kernel against fairlearn",
            "",
            f"NOT MEASURED: {g.problems.get('fairness', why)}",
        ]
    return lines
