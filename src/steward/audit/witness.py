"""The witness: the newest signed checkpoint, kept outside the database.

Whoever can write the database can delete the newest checkpoint rows together with the
entries they cover, and no later checkpoint is left to notice. So every checkpoint is also
written to ``<witness dir>/ledger-checkpoint.json`` (``audit.witness_dir`` in steward.yaml,
default ``$STEWARD_HOME/witness``): ship that directory to write-once storage (an S3 bucket
with Object Lock, a WORM share, another organisation's server). ``verify`` compares the
database with the witness: a witness checkpoint missing from the database, or a ledger that
ends before the witness's entry, fails.

The file is replaced atomically (a temporary file in the same directory, fsync, rename),
and never by an older checkpoint than the one it holds.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from steward.audit.chain import canonical_json
from steward.audit.checkpoints import Checkpoint
from steward.config import Home, StewardConfig
from steward.errors import IntegrityError, Unavailable

__all__ = ["WITNESS_FILE", "WITNESS_FORMAT", "read_witness", "witness_dir", "write_witness"]

WITNESS_FILE = "ledger-checkpoint.json"
WITNESS_FORMAT = "steward-witness/1"

_lock = threading.Lock()


def witness_dir(home: Home, config: StewardConfig) -> Path:
    """``audit.witness_dir`` (relative paths from the home), default ``<home>/witness``."""
    raw = config.audit.witness_dir
    if raw is None:
        return home.root / "witness"
    path = Path(raw).expanduser()
    return path if path.is_absolute() else home.root / path


def read_witness(directory: Path) -> Checkpoint | None:
    """The checkpoint in the witness file; None when there is no file yet.

    A file that is not a witness raises :class:`IntegrityError` naming the path.
    """
    path = directory / WITNESS_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IntegrityError(
            f"witness {path}: cannot read it ({exc.strerror}); fix its permissions",
            path=str(path),
        ) from None
    try:
        rec: Any = json.loads(raw.decode("utf-8"))
        if not isinstance(rec, dict) or rec.get("format") != WITNESS_FORMAT:
            raise ValueError(f"expected an object with format {WITNESS_FORMAT!r}")
        cp = rec.get("checkpoint")
        if not isinstance(cp, dict):
            raise ValueError("expected a 'checkpoint' object")
        return Checkpoint.from_dict(cp)
    except (UnicodeDecodeError, ValueError) as exc:
        raise IntegrityError(
            f"witness {path}: not a Steward witness file ({exc}). Restore it from the "
            "write-once copy; do not delete it to make verification pass",
            path=str(path),
        ) from None


def _newer(cp: Checkpoint, than: Checkpoint) -> bool:
    if cp.position is not None and than.position is not None:
        return cp.position > than.position
    return cp.seq > than.seq


def write_witness(directory: Path, cp: Checkpoint) -> bool:
    """Write ``cp`` as the witness unless it already holds the same or a newer checkpoint.

    Returns whether the file was written. Raises :class:`Unavailable` when the directory
    cannot be written.
    """
    path = directory / WITNESS_FILE
    body = canonical_json({"format": WITNESS_FORMAT, "checkpoint": cp.to_dict()}) + "\n"
    with _lock:
        try:
            current = read_witness(directory)
        except IntegrityError:
            current = None  # a garbled witness is replaced by a good one
        if current is not None and not _newer(cp, current):
            return False
        tmp: str | None = None
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".ledger-checkpoint.", suffix=".tmp", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            tmp = None
            _fsync_dir(directory)
        except OSError as exc:
            raise Unavailable(
                f"witness {path}: cannot write the checkpoint at entry {cp.seq} "
                f"({exc.strerror or exc}); it is signed and stored in the database, and the "
                "next checkpoint writes the witness again. Fix the directory "
                "(audit.witness_dir in steward.yaml)",
                path=str(path),
            ) from None
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
    return True


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
