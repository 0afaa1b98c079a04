"""The server's checkpoint loop: sign the ledger's head every N entries or M minutes.

``steward server`` runs :meth:`Checkpointer.serve` in a thread. Each tick reads the head
and the newest checkpoint and asks :class:`~steward.audit.CheckpointSchedule` whether one
is due (``audit.checkpoint_every_entries`` / ``audit.checkpoint_every_minutes``); if so it
signs one as the service identity ``steward-monitor`` through the one door (so the
checkpoint is itself on the record) and writes it to the witness. Ticks take the time as an
argument, so tests drive the loop without a clock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from steward.audit import CheckpointSchedule
from steward.governance.service import CheckpointInfo, GovernanceService
from steward.policy import Principal
from steward.policy.entities import SERVICE_USER
from steward.runtime import Runtime

__all__ = ["CHECKPOINT_PRINCIPAL", "Checkpointer"]

#: Automatic checkpoints are signed as Steward's service identity.
CHECKPOINT_PRINCIPAL = Principal(SERVICE_USER)

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Checkpointer:
    """Signs checkpoints when the schedule in ``steward.yaml`` says one is due."""

    def __init__(self, rt: Runtime, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.rt = rt
        cfg = rt.config.audit
        self.schedule = CheckpointSchedule(
            every_entries=cfg.checkpoint_every_entries,
            every_minutes=cfg.checkpoint_every_minutes,
        )
        self.clock = clock
        self.governance = GovernanceService(rt)
        self._started: datetime | None = None

    def due(self, now: datetime) -> str | None:
        """Why a checkpoint is due at ``now`` (None when it is not)."""
        if self._started is None:
            self._started = now
        head_seq, _ = self.rt.ledger.head()
        newest = self.rt.ledger.newest_checkpoint()
        return self.schedule.due(head_seq=head_seq, newest=newest, now=now, since=self._started)

    def tick(self, now: datetime | None = None) -> CheckpointInfo | None:
        """Sign a checkpoint if one is due at ``now`` (default: the clock); return it."""
        reason = self.due(now if now is not None else self.clock())
        if reason is None:
            return None
        cp = self.governance.checkpoint(CHECKPOINT_PRINCIPAL)
        log.info("audit checkpoint signed at entry %d: %s", cp.seq, reason)
        return cp

    def serve(self, stop: threading.Event, poll_seconds: float = 10.0) -> None:
        """Tick every ``poll_seconds`` until ``stop`` is set; a failed tick is logged and
        the loop goes on (the next tick tries again)."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("audit checkpoint failed; retrying in %.0f s", poll_seconds)
            stop.wait(poll_seconds)
