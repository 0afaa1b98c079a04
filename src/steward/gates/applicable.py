"""Which gate suite and which holdout apply to a model, and whether a validation counts.

The validator does not choose the evidence. ``steward.yaml`` decides, with this precedence:

- suite: one naming the model (``models: [...]``), then one naming its team
  (``teams: [...]``), then one for its objective only;
- holdout (a dataset name; its newest version applies): ``gates.holdout_by_model``, then
  ``gates.holdout_by_team``, then the applicable suite's ``holdout``. Without any, the
  holdout is not pinned and any locked holdout applies.

A validation under another suite or holdout (``--suite``/``--holdout``) is recorded and
reported with ``applicable: false`` and the reason; it never makes a model approvable. A
validation run by one of the model's producers is recorded but never counts toward
approval. An applicable validation goes stale when the applicable suite (its name or its
hash) or the applicable holdout (a different dataset, or a newer version) changes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from steward.audit import canonical_json
from steward.config import Gates, GateSuite
from steward.store import Dataset, DatasetVersion

__all__ = ["Applicable", "applicable_for", "newest_version", "suite_hash"]


def suite_hash(name: str, suite: GateSuite) -> str:
    """The sha256 of a suite's name and settings (a changed limit changes it)."""
    return hashlib.sha256(
        canonical_json({name: suite.model_dump(mode="json")}).encode()
    ).hexdigest()


def newest_version(s: Session, dataset: str) -> int | None:
    """The newest version number of a dataset (``None``: no such dataset)."""
    return s.execute(
        select(DatasetVersion.version)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(Dataset.name == dataset)
        .order_by(DatasetVersion.version.desc())
        .limit(1)
    ).scalar_one_or_none()


@dataclass(frozen=True)
class Applicable:
    """The suite and holdout that configuration applies to one model."""

    model: str
    team: str | None
    suite: str | None
    suite_hash: str | None
    holdout: str | None  # dataset name; None: not pinned
    holdout_source: str | None  # the steward.yaml key that named it

    def holdout_ref(self, newest: int | None) -> str | None:
        if self.holdout is None:
            return None
        return f"{self.holdout}@{newest}" if newest is not None else self.holdout

    def reasons(self, suite: str, holdout_ref: str, newest: int | None) -> list[str]:
        """Why a validation under ``suite`` on ``holdout_ref`` is not applicable (empty:
        it is). ``newest`` is the newest version of the applicable holdout."""
        out: list[str] = []
        who = f"{self.model} (team {self.team or '-'})"
        if self.suite is None:
            out.append(f"no gate suite applies to {who}; suite {suite!r} was chosen by hand")
        elif suite != self.suite:
            out.append(
                f"ran under suite {suite!r}; the suite that applies to {who} is {self.suite!r}"
            )
        if self.holdout is not None:
            name, _, version = holdout_ref.partition("@")
            if name != self.holdout:
                out.append(
                    f"ran on holdout {holdout_ref}; the holdout that applies to {who} is "
                    f"{self.holdout_ref(newest)} ({self.holdout_source})"
                )
            elif newest is not None and version.isdigit() and int(version) != newest:
                out.append(
                    f"ran on {holdout_ref}; the newest version {self.holdout_ref(newest)} applies"
                )
        return out

    def stale(self, suite: str, v_hash: str, holdout_ref: str, newest: int | None) -> str | None:
        """Why a validation that was applicable when it ran no longer is (``None``: it
        still is): the applicable suite or holdout changed since."""
        if self.suite is None:
            return f"no gate suite applies to {self.model} any more"
        if suite != self.suite:
            return f"the applicable suite is now {self.suite!r}, not {suite!r}"
        if self.suite_hash != v_hash:
            return f"suite {suite!r} changed since the validation"
        if self.holdout is not None:
            name, _, version = holdout_ref.partition("@")
            if name != self.holdout:
                return (
                    f"the applicable holdout is now {self.holdout_ref(newest)} "
                    f"({self.holdout_source}), not {name}"
                )
            if newest is not None and version.isdigit() and int(version) < newest:
                return f"a newer holdout version {self.holdout_ref(newest)} exists"
        return None


def applicable_for(gates: Gates, objective: str, team: str | None, model: str) -> Applicable:
    """The suite and holdout that apply to a model of ``objective``, ``team`` and name."""
    found = gates.suite_for(objective, team, model)
    name, suite = found if found is not None else (None, None)
    pinned = gates.holdout_for(team, model, name)
    return Applicable(
        model=model,
        team=team,
        suite=name,
        suite_hash=suite_hash(name, suite) if name is not None and suite is not None else None,
        holdout=pinned[0] if pinned else None,
        holdout_source=pinned[1] if pinned else None,
    )
