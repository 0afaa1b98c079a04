"""The training spec: what to train, on what, where, by whom.

Given as CLI options, a YAML file or SDK arguments; validated here once, so that every
later step (placement, quota, the worker) sees the same normalised spec. Checks against
the data itself (unknown columns, a non-numeric target for regression, an empty dataset)
happen in :func:`steward.training.fit.check_spec_against`, before any compute.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from steward.registry.service import MODEL_NAME

__all__ = ["FAMILIES", "FAMILY_ALIASES", "Objective", "Resources", "TrainingSpec"]

Objective = Literal["binary", "multiclass", "regression"]

#: Built-in model families: for classification / for regression.
FAMILIES: dict[str, tuple[str, str]] = {
    "linear": (
        "sklearn.linear_model.LogisticRegression",
        "sklearn.linear_model.Ridge",
    ),
    "random_forest": (
        "sklearn.ensemble.RandomForestClassifier",
        "sklearn.ensemble.RandomForestRegressor",
    ),
    "hgb": (
        "sklearn.ensemble.HistGradientBoostingClassifier",
        "sklearn.ensemble.HistGradientBoostingRegressor",
    ),
}
FAMILY_ALIASES = {
    "logistic": "linear",
    "logreg": "linear",
    "lr": "linear",
    "ridge": "linear",
    "rf": "random_forest",
    "forest": "random_forest",
    "random-forest": "random_forest",
    "gbm": "hgb",
    "gradient_boosting": "hgb",
    "hist_gradient_boosting": "hgb",
}
_NAME = MODEL_NAME
_CLASS_PATH = re.compile(r"[A-Za-z_][\w.]*[.:][A-Za-z_]\w*")


class Resources(BaseModel):
    """What a job asks for: the quota check counts it, the executor reserves it."""

    model_config = ConfigDict(extra="forbid")

    cpus: int = Field(1, ge=1, le=256)
    gpus: int = Field(0, ge=0, le=64)
    max_hours: float = Field(1.0, gt=0, le=168, description="wall-time limit of the job")
    memory_gb: float | None = Field(
        None, gt=0, le=4096, description="memory reserved (cost counts max(reserved, peak))"
    )
    spot: bool = Field(False, description="priced at the site's spot prices, where it has them")


class TrainingSpec(BaseModel):
    """A training job's spec (see ``docs/training.md``)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="model name; default <dataset>-<target>")
    data: list[str] = Field(min_length=1, description="dataset versions, NAME@V")
    target: str = Field(min_length=1)
    objective: Objective
    family: str = "hgb"
    estimator: str | None = Field(
        None, description="custom: a scikit-learn compatible class, module.Class"
    )
    params: dict[str, Any] = Field(default_factory=dict)
    features: list[str] | None = None
    exclude: list[str] = Field(default_factory=list)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    validation_fraction: float = Field(0.2, gt=0.0, lt=0.9)
    team: str | None = None
    site: str | None = None
    intended_use: str | None = None
    private_only: bool = Field(
        False, description="serve only from private sites (policy private-only)"
    )
    resources: Resources = Field(default_factory=lambda: Resources())

    @field_validator("family")
    @classmethod
    def _family(cls, v: str) -> str:
        key = FAMILY_ALIASES.get(v.strip().lower(), v.strip().lower())
        if key not in FAMILIES and key != "custom":
            known = ", ".join([*FAMILIES, "custom"])
            raise ValueError(f"unknown model family {v!r}; expected one of {known}")
        return key

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not _NAME.fullmatch(v):
            raise ValueError(
                f"model name {v!r}: expected lower-case letters, digits, '_', '-' or '.', "
                "starting with a letter (at most 64)"
            )
        return v

    @field_validator("data")
    @classmethod
    def _refs(cls, v: list[str]) -> list[str]:
        for ref in v:
            name, sep, version = ref.partition("@")
            if not sep or not name or not version.isdigit():
                raise ValueError(f"dataset {ref!r}: expected NAME@VERSION, e.g. loans@2")
        if len(set(v)) != len(v):
            raise ValueError("the same dataset version is named twice")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> TrainingSpec:
        if self.family == "custom":
            if not self.estimator or not _CLASS_PATH.fullmatch(self.estimator):
                raise ValueError(
                    "family 'custom' needs estimator: a class path such as "
                    "sklearn.svm.LinearSVC or mypkg.models:MyEstimator"
                )
        elif self.estimator is not None:
            raise ValueError(f"estimator is only for family 'custom'; family is {self.family!r}")
        if self.features is not None:
            if not self.features:
                raise ValueError("features: name at least one column, or leave it out")
            if self.target in self.features:
                raise ValueError(f"the target {self.target!r} cannot also be a feature")
            both = sorted(set(self.features) & set(self.exclude))
            if both:
                raise ValueError(f"columns both in features and exclude: {', '.join(both)}")
        return self

    @property
    def model_name(self) -> str:
        if self.name:
            return self.name
        base = self.data[0].partition("@")[0]
        target = re.sub(r"[^a-z0-9_.-]+", "-", self.target.lower()).strip("-") or "target"
        return f"{base}-{target}"[:64]

    def estimator_path(self) -> str:
        """The estimator class this spec trains."""
        if self.family == "custom":
            assert self.estimator is not None
            return self.estimator
        clf, reg = FAMILIES[self.family]
        return reg if self.objective == "regression" else clf
