"""The dashboard's figures and lineage graph, without a browser.

The limit lines on the fairness chart are cross-checked against fairlearn: a suite's
limit passes exactly when every group's bar is on the right side of its line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

from steward.ui.charts import fairness_figure, fairness_levels, profile_figure
from steward.ui.lineage import dataset_graph, model_graph


def _groups(seed: int) -> tuple[list[dict[str, float]], np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 3_000
    group = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    y = rng.integers(0, 2, size=n)
    bias = {"a": 0.0, "b": rng.uniform(-0.12, 0.12), "c": rng.uniform(-0.12, 0.12)}
    score = 0.5 * y + rng.normal(0, 0.4, size=n) + np.vectorize(bias.get)(group)
    pred = (score > 0.45).astype(int)
    frame = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
        },
        y_true=y,
        y_pred=pred,
        sensitive_features=group,
    )
    rows = [
        {"group": g, **{k: float(v) for k, v in frame.by_group.loc[g].items()}}
        for g in frame.by_group.index
    ]
    return rows, y, pred, group


def _inside(groups: list[dict[str, float]], level: float, label: str) -> bool:
    if label.startswith("selection rate floor"):
        return all(g["selection_rate"] >= level - 1e-9 for g in groups)
    if label.startswith("TPR floor"):
        return all(g["tpr"] >= level - 1e-9 for g in groups)
    assert label.startswith("FPR ceiling"), label
    return all(g["fpr"] <= level + 1e-9 for g in groups)


@pytest.mark.parametrize("seed", range(12))
def test_limit_lines_pass_exactly_when_fairlearn_says_the_limit_holds(seed: int) -> None:
    groups, y, pred, group = _groups(seed)
    kw = {"y_true": y, "y_pred": pred, "sensitive_features": group}
    cases = [
        ("demographic_parity_ratio", {"min": 0.8}, demographic_parity_ratio(**kw) >= 0.8),
        ("demographic_parity_difference", {"max": 0.1}, demographic_parity_difference(**kw) <= 0.1),
        ("equalized_odds_difference", {"max": 0.1}, equalized_odds_difference(**kw) <= 0.1),
        ("equalized_odds_ratio", {"min": 0.8}, equalized_odds_ratio(**kw) >= 0.8),
    ]
    for metric, limit, holds in cases:
        levels = fairness_levels(groups, [{"metric": metric, **limit}])
        assert levels, metric
        inside = all(_inside(groups, level, label) for level, label, _ in levels)
        assert inside == bool(holds), (metric, levels, groups)


def test_the_fairness_figure_draws_one_line_per_level_and_three_bars_per_group() -> None:
    groups, *_ = _groups(0)
    fig = fairness_figure("race", groups, [{"metric": "equalized_odds_difference", "max": 0.1}])
    bars = [t for t in fig["data"] if t["type"] == "bar"]
    lines = [t for t in fig["data"] if t["type"] == "scatter"]
    assert [t["name"] for t in bars] == [
        "selection rate",
        "true positive rate",
        "false positive rate",
    ]
    assert all(t["x"] == ["a", "b", "c"] for t in bars)
    assert len(lines) == 2 and {line["name"].split(" (")[0] for line in lines} == {
        "TPR floor",
        "FPR ceiling",
    }
    # an unknown metric draws nothing rather than a wrong line
    assert fairness_levels(groups, [{"metric": "accuracy_gap", "max": 0.1}]) == []


def test_the_profile_figure_puts_each_column_on_its_own_axes() -> None:
    edges = np.linspace(0, 10, 6).tolist()
    cols = [
        ("income", {"kind": "numeric", "histogram": {"edges": edges, "counts": [1, 2, 3, 2, 1]}}),
        ("purpose", {"kind": "categorical", "top": [["car", 7], ["home", 3]]}),
        ("term", {"kind": "numeric", "histogram": {"edges": edges, "counts": [0, 0, 9, 0, 0]}}),
        ("grade", {"kind": "categorical", "top": [["A", 1]]}),
    ]
    fig = profile_figure(cols, per_row=3)
    assert [t["xaxis"] for t in fig["data"]] == ["x", "x2", "x3", "x4"]
    assert fig["data"][0]["y"] == [1, 2, 3, 2, 1] and fig["data"][0]["x"][0] == pytest.approx(1.0)
    assert fig["data"][1]["x"] == ["car", "home"]
    # the fourth column starts the second row: below the first, same column
    assert fig["layout"]["xaxis4"]["domain"] == fig["layout"]["xaxis"]["domain"]
    assert fig["layout"]["yaxis4"]["domain"][1] < fig["layout"]["yaxis"]["domain"][0]
    assert [a["text"] for a in fig["layout"]["annotations"]] == [f"<b>{c}</b>" for c, _ in cols]


def _node(ref: str, *parents: SimpleNamespace, transform: str = "register") -> SimpleNamespace:
    return SimpleNamespace(
        ref=ref,
        transform=transform,
        created_by="alice",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        parents=list(parents),
    )


def _endpoint(name: str, current: tuple[str, str | None], *past: str) -> SimpleNamespace:
    cur = SimpleNamespace(primary=current[0], candidate=current[1])
    revs = [SimpleNamespace(primary=p, candidate=None) for p in past] + [cur]
    return SimpleNamespace(name=name, site="eu-fra", current=cur, revisions=revs)


def test_the_model_graph_runs_from_data_through_the_run_to_the_endpoints() -> None:
    raw = _node("loans@1")
    train = _node("loans-masked@1", raw, transform="mask")
    model = SimpleNamespace(
        ref="credit@2",
        stage="production",
        datasets=["loans-masked@1"],
        job_id="job-123456789abcdef",
        created_by="alice",
    )
    endpoints = [
        _endpoint("credit", ("credit@2", None), "credit@1"),
        _endpoint("old", ("credit@3", None), "credit@2"),
        _endpoint("other", ("fraud@1", None)),
    ]
    g = model_graph(model, {"loans-masked@1": train}, endpoints, holdout="loans-holdout@1")
    edges = {(a, b): style for a, b, style in g.edges}
    assert edges == {
        ("loans@1", "loans-masked@1"): "solid",
        ("loans-masked@1", "job:job-123456789abcdef"): "solid",
        ("job:job-123456789abcdef", "credit@2"): "solid",
        ("loans-holdout@1", "credit@2"): "dashed",
        ("credit@2", "endpoint:credit"): "solid",  # serving now
        ("credit@2", "endpoint:old"): "dashed",  # an earlier revision only
    }
    x = {k: n.x for k, n in g.nodes.items()}
    # layers: raw data, training data, run, model, endpoints, left to right
    assert x["loans@1"] < x["loans-masked@1"] < x["job:job-123456789abcdef"] < x["credit@2"]
    assert x["endpoint:credit"] == x["endpoint:old"] > x["credit@2"]
    assert g.nodes["credit@2"].focus and g.nodes["credit@2"].href == "/ui/models/credit@2"
    assert all(n.x + 190 <= g.width and n.y + 46 <= g.height for n in g.nodes.values())
    assert len(g.paths()) == len(g.edges)


def test_the_dataset_graph_shows_parents_models_and_their_endpoints() -> None:
    lineage = _node("b@1", _node("a@1"), _node("a@2"), transform="join")
    models = [
        SimpleNamespace(ref="m@1", stage="approved", datasets=["b@1"]),
        SimpleNamespace(ref="n@1", stage="candidate", datasets=["z@1"]),
    ]
    g = dataset_graph(lineage, models, [_endpoint("e", ("m@1", None))])
    assert set(g.nodes) == {"b@1", "a@1", "a@2", "m@1", "endpoint:e"}
    assert {(a, b) for a, b, _ in g.edges} == {
        ("a@1", "b@1"),
        ("a@2", "b@1"),
        ("b@1", "m@1"),
        ("m@1", "endpoint:e"),
    }
    assert g.nodes["a@1"].y != g.nodes["a@2"].y and g.nodes["a@1"].x == g.nodes["a@2"].x


def test_the_served_plotly_is_the_basic_bundle_of_the_python_packages_version() -> None:
    """``make charts`` installs plotly.js's basic bundle from the npm registry; it must be
    the plotly.js version the plotly Python package ships, so figures mean the same."""
    import json
    import os

    from plotly.offline import get_plotlyjs_version

    from steward.ui.views import BASIC_PLOTLY, plotly_js

    if not BASIC_PLOTLY.is_file():
        if os.environ.get("STEWARD_REQUIRE_SERVICES") == "1":
            raise AssertionError(f"{BASIC_PLOTLY} is missing: run 'make charts' (needs npm)")
        assert plotly_js().name == "plotly.min.js"  # the Python package's full bundle
        pytest.skip("plotly.js basic bundle not installed ('make charts'); full bundle served")
    meta = json.loads((BASIC_PLOTLY.parent / "package.json").read_text())
    assert meta["version"] == get_plotlyjs_version()
    lock = json.loads((BASIC_PLOTLY.parents[2] / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/plotly.js-basic-dist-min"]["version"] == meta["version"]
    assert plotly_js() == BASIC_PLOTLY
    head = BASIC_PLOTLY.read_text(encoding="utf-8")[:400]
    assert f"v{meta['version']}" in head  # the banner names the bundle's version


def test_a_drift_cell_shows_the_number_its_verdict_is_on_and_shades_with_it() -> None:
    from steward.kernels.drift.results import is_drift
    from steward.monitoring import ColumnVerdict
    from steward.ui.views import drift_measure

    def cell(method: str, score: float, p: float | None, threshold: float) -> ColumnVerdict:
        verdict = is_drift(method, p if p is not None else score, threshold)  # type: ignore[arg-type]
        return ColumnVerdict(
            column="x",
            kind="numeric",
            status="drifted" if verdict else "stable",
            method=method,
            score=score,
            p_value=p,
            threshold=threshold,
        )

    cases = [
        cell("wasserstein", 0.04, None, 0.1),
        cell("wasserstein", 0.1, None, 0.1),
        cell("wasserstein", 2.2, None, 0.1),
        cell("ks", 0.31, 0.2, 0.05),
        cell("ks", 0.9, 0.0001, 0.05),
        cell("chisquare", 12.0, 0.04, 0.05),
        cell("jensenshannon", 0.07, None, 0.1),
    ]
    for c in cases:
        m = drift_measure(c)
        # shaded past the threshold exactly when the kernel says it drifted
        assert (m["severity"] >= 0.15) == (c.status == "drifted"), (c, m)
        assert 0 <= m["severity"] <= 0.45
        shown = c.p_value if c.method in ("ks", "chisquare") else c.score
        assert f"{shown:,.3f}" in m["text"] and m["text"].startswith(c.method)
    assert drift_measure(cases[0])["severity"] == 0.0  # below half the threshold: no shade
    assert drift_measure(cases[2])["severity"] == 0.45  # far past it: the deepest shade
    untested = ColumnVerdict(column="x", kind="masked", status="not_tested", reason="masked")
    assert drift_measure(untested) == {"text": "masked", "severity": None}
