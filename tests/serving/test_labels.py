"""Ground-truth labels mapped to a model's classes through the training target's encoding;
anything that names no class is refused."""

from __future__ import annotations

from typing import Any

import pytest

from steward.serving.labels import NO_LABEL, describe_classes, map_label


@pytest.mark.parametrize(
    ("value", "classes", "expected"),
    [
        # text classes: the class itself, another JSON type, another case
        ("yes", ["no", "yes"], "yes"),
        ("Yes", ["no", "yes"], "yes"),
        (1, ["0", "1"], "1"),
        (1.0, ["0", "1"], "1"),
        # a boolean for a two-class model whose classes are a boolean pair
        (True, ["no", "yes"], "yes"),
        (False, ["false", "true"], "false"),
        (0, ["no", "yes"], "no"),
        # numeric classes (a boolean target is trained as 0/1)
        (True, [0, 1], 1),
        ("false", [0, 1], 0),
        ("yes", [0, 1], 1),
        ("1", [0, 1], 1),
        (2.0, [0, 1, 2], 2),
    ],
)
def test_labels_map_to_the_models_classes(value: Any, classes: list[Any], expected: Any) -> None:
    got = map_label(value, classes, "binary" if len(classes) == 2 else "multiclass")
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    ("value", "classes"),
    [
        ("banana", ["no", "yes"]),
        (None, ["no", "yes"]),
        ({"deny": "yes"}, ["no", "yes"]),
        ([1], ["no", "yes"]),
        (7, [0, 1]),
        ("maybe", [0, 1]),
        (True, ["a", "b"]),  # not a boolean pair: a boolean names neither
        (True, [0, 1, 2]),
        ("YES", ["yes", "Yes"]),  # folding the case would be ambiguous
        (float("nan"), [0, 1]),
    ],
)
def test_labels_that_name_no_class_are_refused(value: Any, classes: list[Any]) -> None:
    assert map_label(value, classes, "binary") is NO_LABEL


def test_regression_takes_finite_numbers_only() -> None:
    assert map_label(21.5, None, "regression") == 21.5
    assert map_label("3", None, "regression") == 3.0
    for bad in (True, None, "abc", float("inf"), [1.0]):
        assert map_label(bad, None, "regression") is NO_LABEL
    assert describe_classes(None, "regression") == "a finite number (regression)"
    assert describe_classes(["no", "yes"], "binary") == "one of the classes 'no', 'yes'"
