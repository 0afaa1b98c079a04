"""The composition root: one home's configuration, store, artifacts, policy and door."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import func, select

from steward.artifacts import ArtifactStore
from steward.audit import Ledger
from steward.config import Home, StewardConfig
from steward.door import Door
from steward.metering import Meter
from steward.policy import PolicyEngine
from steward.store import DatasetVersion, ModelVersion, Store, StoredObject, governed_writes

__all__ = ["Runtime"]


@dataclass
class Runtime:
    """Everything a service needs, built once per process from a Steward home."""

    home: Home
    config: StewardConfig
    store: Store
    artifacts: ArtifactStore
    policy: PolicyEngine
    ledger: Ledger
    door: Door
    meter: Meter

    @classmethod
    def open(cls, home: str | os.PathLike[str] | Home | None = None) -> Runtime:
        h = home if isinstance(home, Home) else Home.resolve(home)
        config = h.load_config()
        store = Store(h.database_url())
        artifacts = ArtifactStore(h.sites_dir, h.master_key(), list(config.sites))
        policy = PolicyEngine(config, h.policies_dir)
        ledger = Ledger(store)
        door = Door(store, policy, ledger, reads=config.audit.reads)
        return cls(h, config, store, artifacts, policy, ledger, door, Meter(config))

    def close(self) -> None:
        self.store.dispose()

    def object_referenced(self, site: str, digest: str) -> bool:
        """Whether anything in the store points at the object ``site``/``digest`` (a stored
        object, a dataset version or a model version: the tables that hold digests)."""
        with self.store.transaction() as s:
            for table, site_col, digest_col in (
                (StoredObject, StoredObject.site, StoredObject.digest),
                (DatasetVersion, DatasetVersion.site, DatasetVersion.object_digest),
                (ModelVersion, ModelVersion.site, ModelVersion.object_digest),
            ):
                n = s.execute(
                    select(func.count())
                    .select_from(table)
                    .where(site_col == site, digest_col == digest)
                ).scalar_one()
                if n:
                    return True
        return False

    @contextmanager
    def discard_on_failure(self, site: str, written: list[str]) -> Iterator[None]:
        """If the governed action in the block fails after writing objects (their digests
        appended to ``written``), remove those that nothing references: no orphan object."""
        try:
            yield
        except BaseException:
            with governed_writes("cleanup.failed-action"):
                for digest in written:
                    if not self.object_referenced(site, digest):
                        self.artifacts.discard(site, digest)
            raise
