"""The artifact store and its on-disk format.

Object file format (version 1)::

    b"STWOB1" | nonce_prefix (8 bytes) | segment*
    segment  = length (4 bytes, big endian) | AES-256-GCM ciphertext with tag

Plaintext is cut into 1 MiB segments. Segment ``i`` uses nonce ``prefix || i`` and
associated data ``site | digest | i | last``, so a segment cannot be moved, dropped,
truncated or swapped into another object or site without failing authentication.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from steward.errors import BypassError, ConfigError, IntegrityError, NotFound, ValidationFailed
from steward.store.guard import writes_open

__all__ = ["ArtifactStore", "ObjectRef", "sha256_file"]

MAGIC = b"STWOB1"
SEGMENT = 1 << 20
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ObjectRef:
    site: str
    digest: str
    size: int

    def __str__(self) -> str:
        return f"{self.site}/{self.digest}"


def _aad(site: str, digest: str, index: int, last: bool) -> bytes:
    return b"|".join([site.encode(), digest.encode(), str(index).encode(), b"1" if last else b"0"])


class ArtifactStore:
    """Encrypted content-addressed objects per site."""

    def __init__(self, sites_dir: Path, master_key: bytes, sites: list[str]) -> None:
        self.sites_dir = sites_dir
        self._master = master_key
        self._sites = set(sites)
        self._keys: dict[str, bytes] = {}

    # -- keys ------------------------------------------------------------------------
    def _site_root(self, site: str) -> Path:
        if site not in self._sites:
            raise NotFound(
                f"unknown site {site!r}; expected one of {', '.join(sorted(self._sites))}",
                site=site,
            )
        return self.sites_dir / site

    def _data_key(self, site: str, *, create: bool) -> bytes:
        if site in self._keys:
            return self._keys[site]
        path = self._site_root(site) / "keys" / "data-key.json"
        if not path.exists():
            if not create:
                raise NotFound(f"site {site!r} has no data key yet: nothing was stored there")
            path.parent.mkdir(parents=True, exist_ok=True)
            wrapped = aes_key_wrap(self._master, secrets.token_bytes(32))
            doc = {
                "version": 1,
                "alg": "AES-256-GCM",
                "wrapped": base64.b64encode(wrapped).decode(),
            }
            _atomic_write(path, json.dumps(doc).encode(), mode=0o600)
        doc = json.loads(path.read_text())
        try:
            key = aes_key_unwrap(self._master, base64.b64decode(doc["wrapped"]))
        except InvalidUnwrap:
            raise ConfigError(
                [f"{path}: the master key does not unwrap this site's data key (wrong key file?)"]
            ) from None
        self._keys[site] = key
        return key

    # -- paths -----------------------------------------------------------------------
    def path_of(self, site: str, digest: str) -> Path:
        if not _DIGEST.match(digest):
            raise ValidationFailed(
                f"digest: expected 64 lowercase hex characters (sha256); found {digest!r}",
                parameter="digest",
            )
        return self._site_root(site) / "objects" / digest[:2] / digest[2:]

    def exists(self, site: str, digest: str) -> bool:
        return self.path_of(site, digest).exists()

    # -- write -----------------------------------------------------------------------
    def put_bytes(self, site: str, data: bytes) -> ObjectRef:
        digest = hashlib.sha256(data).hexdigest()
        return self._put(site, digest, len(data), lambda: _chunks_of(data))

    def put_file(self, site: str, path: Path) -> ObjectRef:
        digest, size = sha256_file(path)

        def chunks() -> Iterator[bytes]:
            with open(path, "rb") as fh:
                yield from _read_segments(fh)

        return self._put(site, digest, size, chunks)

    def _put(self, site: str, digest: str, size: int, chunks: object) -> ObjectRef:
        if writes_open() is None:
            raise BypassError("an object write reached the artifact store outside the one door")
        target = self.path_of(site, digest)
        ref = ObjectRef(site, digest, size)
        if target.exists():
            return ref
        key = AESGCM(self._data_key(site, create=True))
        prefix = secrets.token_bytes(8)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(MAGIC + prefix)
                it = iter(chunks())  # type: ignore[operator]
                current = next(it, b"")
                index = 0
                while True:
                    following = next(it, None)
                    last = following is None
                    ct = key.encrypt(
                        prefix + index.to_bytes(4, "big"), current, _aad(site, digest, index, last)
                    )
                    out.write(len(ct).to_bytes(4, "big") + ct)
                    if last:
                        break
                    current, index = following, index + 1
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return ref

    def discard(self, site: str, digest: str) -> bool:
        """Remove an object (only to undo a failed governed action's write)."""
        if writes_open() is None:
            raise BypassError("an object removal reached the artifact store outside the one door")
        path = self.path_of(site, digest)
        if path.exists():
            path.unlink()
            return True
        return False

    # -- read ------------------------------------------------------------------------
    def iter_plaintext(self, site: str, digest: str) -> Iterator[bytes]:
        """Yield the object's bytes segment by segment, verifying as it goes."""
        path = self.path_of(site, digest)
        name = f"{site}/{digest}"
        if not path.exists():
            raise NotFound(f"object {name} not found", site=site, digest=digest)
        key = AESGCM(self._data_key(site, create=False))
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            head = fh.read(14)
            if len(head) != 14 or head[:6] != MAGIC:
                raise IntegrityError(f"object {name}: not a Steward object file", object=name)
            prefix = head[6:]
            index = 0
            while True:
                raw_len = fh.read(4)
                if len(raw_len) != 4:
                    raise IntegrityError(f"object {name}: truncated", object=name)
                ct = fh.read(int.from_bytes(raw_len, "big"))
                last = fh.peek(1)[:1] == b"" if hasattr(fh, "peek") else False
                try:
                    pt = key.decrypt(
                        prefix + index.to_bytes(4, "big"), ct, _aad(site, digest, index, last)
                    )
                except InvalidTag:
                    raise IntegrityError(
                        f"object {name} is corrupted or was swapped: segment {index} fails "
                        "authentication",
                        object=name,
                        segment=index,
                    ) from None
                h.update(pt)
                if last:
                    if h.hexdigest() != digest:
                        raise IntegrityError(
                            f"object {name}: content hash does not match its name", object=name
                        )
                    yield pt
                    return
                yield pt
                index += 1

    def get_bytes(self, site: str, digest: str) -> bytes:
        return b"".join(self.iter_plaintext(site, digest))

    def get_to_file(self, site: str, digest: str, dest: Path) -> None:
        """Decrypt to ``dest`` atomically; nothing is left behind when verification fails."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self.iter_plaintext(site, digest):
                    out.write(chunk)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def sha256_file(path: Path) -> tuple[str, int]:
    """The sha256 (hex) and size of a file, read in segments: an object's name."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(SEGMENT), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _chunks_of(data: bytes) -> Iterator[bytes]:
    if not data:
        yield b""
        return
    for i in range(0, len(data), SEGMENT):
        yield data[i : i + SEGMENT]


def _read_segments(fh: BinaryIO) -> Iterator[bytes]:
    first = True
    for chunk in iter(lambda: fh.read(SEGMENT), b""):
        first = False
        yield chunk
    if first:
        yield b""


def _atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
