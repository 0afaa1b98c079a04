"""The composition root: one home's configuration, store, artifacts, policy and door."""

from __future__ import annotations

import os
from dataclasses import dataclass

from steward.artifacts import ArtifactStore
from steward.audit import Ledger
from steward.config import Home, StewardConfig
from steward.door import Door
from steward.policy import PolicyEngine
from steward.store import Store

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

    @classmethod
    def open(cls, home: str | os.PathLike[str] | Home | None = None) -> Runtime:
        h = home if isinstance(home, Home) else Home.resolve(home)
        config = h.load_config()
        store = Store(h.database_url())
        artifacts = ArtifactStore(h.sites_dir, h.master_key(), list(config.sites))
        policy = PolicyEngine(config, h.policies_dir)
        ledger = Ledger(store)
        return cls(h, config, store, artifacts, policy, ledger, Door(store, policy, ledger))

    def close(self) -> None:
        self.store.dispose()
