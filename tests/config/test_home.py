"""``init_home``: the layout it creates, the modes of secrets, and what --force keeps."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from steward.config import Home, init_home
from steward.config.home import DEFAULT_CONFIG
from steward.errors import ConfigError, Conflict


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_home_creates_config_keys_and_policies(sqlite_home: Home) -> None:
    home = sqlite_home
    assert home.config_path.read_text(encoding="utf-8") == DEFAULT_CONFIG
    assert home.policies_dir.is_dir()
    assert home.sites_dir.is_dir()
    assert list(home.policies_dir.glob("*.cedar")) == []
    cfg = home.load_config()
    assert cfg.default_site == "eu-fra"


def test_master_key_is_32_bytes_mode_0600(sqlite_home: Home) -> None:
    path = sqlite_home.master_key_path
    assert path == sqlite_home.root / "keys" / "master.key"
    assert _mode(path) == 0o600
    assert len(base64.b64decode(path.read_bytes().strip())) == 32
    assert len(sqlite_home.master_key()) == 32
    assert _mode(sqlite_home.keys_dir) & 0o077 == 0


def test_signing_key_is_ed25519_mode_0600(sqlite_home: Home) -> None:
    assert _mode(sqlite_home.signing_key_path) == 0o600
    key = sqlite_home.signing_key()
    assert isinstance(key, Ed25519PrivateKey)
    signature = key.sign(b"checkpoint")
    public = load_pem_public_key(sqlite_home.public_key_pem())
    assert isinstance(public, Ed25519PublicKey)
    public.verify(signature, b"checkpoint")  # raises InvalidSignature on mismatch


def test_two_homes_get_different_keys(tmp_path: Path) -> None:
    a = init_home(tmp_path / "a")
    b = init_home(tmp_path / "b")
    assert a.master_key() != b.master_key()
    assert a.public_key_pem() != b.public_key_pem()


def test_refuses_to_overwrite_an_existing_home(sqlite_home: Home) -> None:
    sqlite_home.config_path.write_text(DEFAULT_CONFIG + "# edited\n", encoding="utf-8")
    with pytest.raises(Conflict) as info:
        init_home(sqlite_home.root)
    assert info.value.details["home"] == str(sqlite_home.root)
    assert sqlite_home.config_path.read_text(encoding="utf-8").endswith("# edited\n")


def test_force_rewrites_config_but_keeps_keys(sqlite_home: Home) -> None:
    master = sqlite_home.master_key_path.read_bytes()
    signing = sqlite_home.signing_key_path.read_bytes()
    public = sqlite_home.public_key_path.read_bytes()
    new_text = DEFAULT_CONFIG.replace("default_site: eu-fra", "default_site: us-east")
    assert new_text != DEFAULT_CONFIG
    home = init_home(sqlite_home.root, config_text=new_text, force=True)
    assert home.load_config().default_site == "us-east"
    assert home.master_key_path.read_bytes() == master
    assert home.signing_key_path.read_bytes() == signing
    assert home.public_key_path.read_bytes() == public
    assert _mode(home.master_key_path) == 0o600


def test_force_keeps_user_policies(sqlite_home: Home) -> None:
    policy = sqlite_home.policies_dir / "org.cedar"
    policy.write_text("// mine\n", encoding="utf-8")
    init_home(sqlite_home.root, force=True)
    assert policy.read_text(encoding="utf-8") == "// mine\n"


def test_bad_config_text_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    root = tmp_path / "home"
    bad = DEFAULT_CONFIG.replace("jurisdiction: EU", "jurisdiction: Europe")
    with pytest.raises(ConfigError) as info:
        init_home(root, config_text=bad)
    assert info.value.problems[0].startswith("sites.eu-fra.jurisdiction: ")
    assert not root.exists()


def test_home_resolve_uses_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_HOME", str(tmp_path / "env-home"))
    assert Home.resolve().root == (tmp_path / "env-home").resolve()
    assert Home.resolve(tmp_path / "explicit").root == (tmp_path / "explicit").resolve()


def test_missing_home_is_a_config_error(tmp_path: Path) -> None:
    home = Home.resolve(tmp_path / "nowhere")
    with pytest.raises(ConfigError) as info:
        home.load_config()
    assert info.value.path == str(home.root)


def test_missing_or_bad_master_key(sqlite_home: Home) -> None:
    sqlite_home.master_key_path.write_bytes(base64.b64encode(b"short") + b"\n")
    with pytest.raises(ConfigError) as info:
        sqlite_home.master_key()
    assert info.value.path == str(sqlite_home.master_key_path)
    sqlite_home.master_key_path.unlink()
    with pytest.raises(ConfigError) as info:
        sqlite_home.master_key()
    assert info.value.path == str(sqlite_home.master_key_path)


def test_database_url_defaults_to_sqlite_in_home(sqlite_home: Home) -> None:
    assert sqlite_home.database_url() == f"sqlite:///{sqlite_home.root / 'steward.db'}"
