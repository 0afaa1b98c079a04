"""The artifact store: encrypted, content-addressed, verified on every read."""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import stat
from pathlib import Path

import pytest

from steward.artifacts import ArtifactStore, ObjectRef
from steward.artifacts.store import MAGIC, SEGMENT
from steward.config import Home
from steward.errors import BypassError, ConfigError, IntegrityError, NotFound, ValidationFailed
from steward.store import governed_writes

SITES = ["eu-fra", "us-east"]


@pytest.fixture
def store(sqlite_home: Home) -> ArtifactStore:
    return ArtifactStore(sqlite_home.sites_dir, sqlite_home.master_key(), SITES)


def _random_bytes(n: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def _put(store: ArtifactStore, site: str, data: bytes) -> ObjectRef:
    with governed_writes("test"):
        return store.put_bytes(site, data)


def _segments(path: Path) -> list[tuple[int, int]]:
    """(offset, total length incl. 4-byte header) of each segment in an object file."""
    raw = path.read_bytes()
    assert raw[: len(MAGIC)] == MAGIC
    out, pos = [], len(MAGIC) + 8
    while pos < len(raw):
        n = int.from_bytes(raw[pos : pos + 4], "big")
        out.append((pos, 4 + n))
        pos += 4 + n
    assert pos == len(raw)
    return out


def _no_temp_files(directory: Path) -> bool:
    return not any(p.name.startswith(".tmp-") for p in directory.rglob("*"))


# -- the one door --------------------------------------------------------------------


def test_write_outside_the_door_is_refused(store: ArtifactStore, tmp_path: Path) -> None:
    data = b"outside the door"
    with pytest.raises(BypassError):
        store.put_bytes("eu-fra", data)
    src = tmp_path / "f.bin"
    src.write_bytes(data)
    with pytest.raises(BypassError):
        store.put_file("eu-fra", src)
    digest = hashlib.sha256(data).hexdigest()
    assert not store.exists("eu-fra", digest)
    assert not (store.sites_dir / "eu-fra" / "objects").exists()


# -- round trips ---------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"x", b"hello, governed world\n", _random_bytes(5000)])
def test_bytes_round_trip(store: ArtifactStore, data: bytes) -> None:
    ref = _put(store, "eu-fra", data)
    assert ref == ObjectRef("eu-fra", hashlib.sha256(data).hexdigest(), len(data))
    assert str(ref) == f"eu-fra/{ref.digest}"
    assert store.exists("eu-fra", ref.digest)
    assert store.get_bytes("eu-fra", ref.digest) == data


def test_large_file_round_trip_in_several_segments(store: ArtifactStore, tmp_path: Path) -> None:
    data = _random_bytes(2 * SEGMENT + SEGMENT // 2 + 3)
    src = tmp_path / "model.onnx"
    src.write_bytes(data)
    with governed_writes("test"):
        ref = store.put_file("eu-fra", src)
    assert ref.digest == hashlib.sha256(data).hexdigest()
    assert ref.size == len(data)
    assert len(_segments(store.path_of("eu-fra", ref.digest))) == 3

    dest = tmp_path / "out" / "model.onnx"
    store.get_to_file("eu-fra", ref.digest, dest)
    assert dest.read_bytes() == data
    assert _no_temp_files(dest.parent)
    chunks = list(store.iter_plaintext("eu-fra", ref.digest))
    assert [len(c) for c in chunks] == [SEGMENT, SEGMENT, len(data) - 2 * SEGMENT]


def test_exact_multiple_of_segment_size(store: ArtifactStore, tmp_path: Path) -> None:
    data = _random_bytes(2 * SEGMENT)
    src = tmp_path / "two.bin"
    src.write_bytes(data)
    with governed_writes("test"):
        ref = store.put_file("eu-fra", src)
    assert len(_segments(store.path_of("eu-fra", ref.digest))) == 2
    assert store.get_bytes("eu-fra", ref.digest) == data


def test_same_content_same_digest_and_idempotent(store: ArtifactStore, tmp_path: Path) -> None:
    data = _random_bytes(10_000)
    first = _put(store, "eu-fra", data)
    path = store.path_of("eu-fra", first.digest)
    stored = path.read_bytes()
    src = tmp_path / "same.bin"
    src.write_bytes(data)
    with governed_writes("test"):
        again = store.put_bytes("eu-fra", data)
        from_file = store.put_file("eu-fra", src)
    assert first == again == from_file
    assert path.read_bytes() == stored  # not rewritten
    objects = [p for p in (store.sites_dir / "eu-fra" / "objects").rglob("*") if p.is_file()]
    assert objects == [path]


def test_different_content_different_digest(store: ArtifactStore) -> None:
    a = _put(store, "eu-fra", b"a")
    b = _put(store, "eu-fra", b"b")
    assert a.digest != b.digest
    assert store.get_bytes("eu-fra", a.digest) == b"a"
    assert store.get_bytes("eu-fra", b.digest) == b"b"


# -- at rest -------------------------------------------------------------------------


def test_layout_is_content_addressed_per_site(store: ArtifactStore, sqlite_home: Home) -> None:
    ref = _put(store, "us-east", b"layout")
    digest = hashlib.sha256(b"layout").hexdigest()
    expected = sqlite_home.root / "sites" / "us-east" / "objects" / digest[:2] / digest[2:]
    assert store.path_of("us-east", digest) == expected
    assert expected.is_file()
    assert not store.exists("eu-fra", ref.digest)
    assert stat.S_IMODE(expected.stat().st_mode) == 0o600


def test_encrypted_at_rest(store: ArtifactStore) -> None:
    secret = b"SSN 078-05-1120 belongs to Hilda Schrader Whitcher. " * 200
    ref = _put(store, "eu-fra", secret)
    raw = store.path_of("eu-fra", ref.digest).read_bytes()
    assert raw.startswith(MAGIC)
    assert b"078-05-1120" not in raw
    assert b"Whitcher" not in raw
    assert secret[:32] not in raw
    key_file = store.sites_dir / "eu-fra" / "keys" / "data-key.json"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_same_content_at_two_sites_is_encrypted_differently(store: ArtifactStore) -> None:
    data = b"shared content" * 100
    a = _put(store, "eu-fra", data)
    b = _put(store, "us-east", data)
    assert a.digest == b.digest
    raw_a = store.path_of("eu-fra", a.digest).read_bytes()
    raw_b = store.path_of("us-east", b.digest).read_bytes()
    assert raw_a != raw_b
    assert store.get_bytes("us-east", b.digest) == data


def test_a_new_store_with_the_same_key_reads_objects(
    store: ArtifactStore, sqlite_home: Home
) -> None:
    ref = _put(store, "eu-fra", b"persisted")
    reopened = ArtifactStore(sqlite_home.sites_dir, sqlite_home.master_key(), SITES)
    assert reopened.get_bytes("eu-fra", ref.digest) == b"persisted"


# -- tampering -----------------------------------------------------------------------


def test_flipped_byte_is_an_integrity_error(store: ArtifactStore) -> None:
    ref = _put(store, "eu-fra", _random_bytes(4096))
    path = store.path_of("eu-fra", ref.digest)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError) as info:
        store.get_bytes("eu-fra", ref.digest)
    assert info.value.details["object"] == f"eu-fra/{ref.digest}"
    assert info.value.code == "integrity_error"


def test_flipped_byte_in_a_later_segment(store: ArtifactStore) -> None:
    ref = _put(store, "eu-fra", _random_bytes(2 * SEGMENT + 100))
    path = store.path_of("eu-fra", ref.digest)
    offset, _ = _segments(path)[1]
    raw = bytearray(path.read_bytes())
    raw[offset + 100] ^= 0x80
    path.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError) as info:
        store.get_bytes("eu-fra", ref.digest)
    assert info.value.details["object"] == f"eu-fra/{ref.digest}"
    assert info.value.details["segment"] == 1


def test_damaged_header_is_an_integrity_error(store: ArtifactStore) -> None:
    ref = _put(store, "eu-fra", b"header")
    path = store.path_of("eu-fra", ref.digest)
    path.write_bytes(b"XXXXXX" + path.read_bytes()[6:])
    with pytest.raises(IntegrityError) as info:
        store.get_bytes("eu-fra", ref.digest)
    assert info.value.details["object"] == f"eu-fra/{ref.digest}"


def test_swapped_objects_are_integrity_errors(store: ArtifactStore) -> None:
    a = _put(store, "eu-fra", b"approved model")
    b = _put(store, "eu-fra", b"rejected model")
    pa, pb = store.path_of("eu-fra", a.digest), store.path_of("eu-fra", b.digest)
    raw_a, raw_b = pa.read_bytes(), pb.read_bytes()
    pa.write_bytes(raw_b)
    pb.write_bytes(raw_a)
    for ref in (a, b):
        with pytest.raises(IntegrityError) as info:
            store.get_bytes("eu-fra", ref.digest)
        assert info.value.details["object"] == f"eu-fra/{ref.digest}"


def test_object_moved_to_another_site_is_an_integrity_error(store: ArtifactStore) -> None:
    ref = _put(store, "eu-fra", b"eu only")
    _put(store, "us-east", b"something else")  # so us-east has a data key
    dest = store.path_of("us-east", ref.digest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(store.path_of("eu-fra", ref.digest).read_bytes())
    with pytest.raises(IntegrityError) as info:
        store.get_bytes("us-east", ref.digest)
    assert info.value.details["object"] == f"us-east/{ref.digest}"


def test_dropping_the_last_segment_is_an_integrity_error(store: ArtifactStore) -> None:
    ref = _put(store, "eu-fra", _random_bytes(2 * SEGMENT + 10))
    path = store.path_of("eu-fra", ref.digest)
    segments = _segments(path)
    assert len(segments) == 3
    last_offset, _ = segments[-1]
    path.write_bytes(path.read_bytes()[:last_offset])
    with pytest.raises(IntegrityError) as info:
        store.get_bytes("eu-fra", ref.digest)
    assert info.value.details["object"] == f"eu-fra/{ref.digest}"


@pytest.mark.parametrize("cut", [1, 17, 100])
def test_truncated_file_is_an_integrity_error(store: ArtifactStore, cut: int) -> None:
    ref = _put(store, "eu-fra", _random_bytes(SEGMENT + 1000))
    path = store.path_of("eu-fra", ref.digest)
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(IntegrityError) as info:
        store.get_bytes("eu-fra", ref.digest)
    assert info.value.details["object"] == f"eu-fra/{ref.digest}"


def test_appended_bytes_are_an_integrity_error(store: ArtifactStore) -> None:
    ref = _put(store, "eu-fra", b"complete")
    path = store.path_of("eu-fra", ref.digest)
    path.write_bytes(path.read_bytes() + b"\x00\x00\x00\x00")
    with pytest.raises(IntegrityError):
        store.get_bytes("eu-fra", ref.digest)


def test_get_to_file_leaves_nothing_when_verification_fails(
    store: ArtifactStore, tmp_path: Path
) -> None:
    ref = _put(store, "eu-fra", _random_bytes(3 * SEGMENT))
    path = store.path_of("eu-fra", ref.digest)
    offset, _ = _segments(path)[2]  # the first two segments verify and are written out
    raw = bytearray(path.read_bytes())
    raw[offset + 10] ^= 0xFF
    path.write_bytes(bytes(raw))

    out_dir = tmp_path / "out"
    dest = out_dir / "model.onnx"
    with pytest.raises(IntegrityError) as info:
        store.get_to_file("eu-fra", ref.digest, dest)
    assert info.value.details["object"] == f"eu-fra/{ref.digest}"
    assert not dest.exists()
    assert list(out_dir.iterdir()) == []

    dest.write_bytes(b"previous version")
    with pytest.raises(IntegrityError):
        store.get_to_file("eu-fra", ref.digest, dest)
    assert dest.read_bytes() == b"previous version"
    assert [p.name for p in out_dir.iterdir()] == ["model.onnx"]


# -- keys, sites, digests ------------------------------------------------------------


def test_wrong_master_key_is_a_config_error(store: ArtifactStore, sqlite_home: Home) -> None:
    ref = _put(store, "eu-fra", b"locked away")
    wrong = ArtifactStore(sqlite_home.sites_dir, secrets.token_bytes(32), SITES)
    with pytest.raises(ConfigError) as info:
        wrong.get_bytes("eu-fra", ref.digest)
    (problem,) = info.value.problems
    assert "data-key.json" in problem
    with governed_writes("test"), pytest.raises(ConfigError):
        wrong.put_bytes("eu-fra", b"new content")


def test_unknown_site_is_not_found(store: ArtifactStore, tmp_path: Path) -> None:
    with governed_writes("test"), pytest.raises(NotFound) as info:
        store.put_bytes("mars", b"data")
    assert info.value.details["site"] == "mars"
    digest = hashlib.sha256(b"data").hexdigest()
    with pytest.raises(NotFound) as info:
        store.get_bytes("mars", digest)
    assert info.value.details["site"] == "mars"
    assert not (store.sites_dir / "mars").exists()


def test_missing_object_is_not_found(store: ArtifactStore) -> None:
    _put(store, "eu-fra", b"something")
    digest = hashlib.sha256(b"never stored").hexdigest()
    with pytest.raises(NotFound) as info:
        store.get_bytes("eu-fra", digest)
    assert info.value.details["digest"] == digest
    assert store.exists("eu-fra", digest) is False


@pytest.mark.parametrize(
    "digest",
    ["", "abc", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "../" + "0" * 61, "0" * 62 + "/x"],
)
def test_bad_digest_is_a_validation_error(store: ArtifactStore, digest: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        store.get_bytes("eu-fra", digest)
    assert info.value.details["parameter"] == "digest"
    with pytest.raises(ValidationFailed):
        store.exists("eu-fra", digest)


def test_put_file_of_a_missing_file(store: ArtifactStore, tmp_path: Path) -> None:
    with governed_writes("test"), pytest.raises(FileNotFoundError):
        store.put_file("eu-fra", tmp_path / "missing.bin")
    assert _no_temp_files(store.sites_dir)


def test_no_temp_files_after_writes(store: ArtifactStore) -> None:
    _put(store, "eu-fra", _random_bytes(SEGMENT + 1))
    assert _no_temp_files(store.sites_dir)
    assert os.listdir(store.sites_dir / "eu-fra") != []
