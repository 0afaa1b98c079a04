"""The Steward home: where configuration, keys, policies, the database and objects live.

Layout::

    $STEWARD_HOME/
      steward.yaml            sites, teams, users (validated by steward.config.model)
      steward.db              SQLite metadata store (unless STEWARD_DATABASE_URL is set)
      keys/master.key         32-byte master key, base64, mode 0600 (wraps site data keys)
      keys/audit-ed25519.pem  key that signs ledger checkpoints, mode 0600
      keys/audit-ed25519.pub  its public half, for outside verifiers
      policies/*.cedar        the organisation's own Cedar policies
      sites/<site>/           each site's object root
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from steward.config.model import StewardConfig, load_config
from steward.errors import ConfigError, Conflict

__all__ = ["DEFAULT_CONFIG", "Home", "init_home"]


DEFAULT_CONFIG = """\
# Steward configuration. Validated on every start; `steward config check` reports
# every problem with its key path. Money is in US dollars.
version: 1

# Where work goes when a command names no site.
default_site: eu-fra

# A site is where data lives and work runs. Residency policy compares a dataset's
# jurisdiction with the site's; placement and the bill use the prices.
#   provider:     aws | azure | gcp | onprem | edge
#   jurisdiction: EU | US | UK | CH | CA | JP | AU | IN | BR | SG | KR | CN | ZA | AE
#   trust:        public (shared cloud) | private (your own or dedicated hardware)
# A site without `prices` pays its provider's and region's entry of the price book below;
# `capacity` (optional: cpus, memory_gb, gpus you pay for) lets reports show idle cost.
sites:
  eu-fra:
    provider: aws
    region: eu-central-1        # Frankfurt
    jurisdiction: EU
    trust: public
  us-east:
    provider: aws
    region: us-east-1           # N. Virginia
    jurisdiction: US
    trust: public

# The price book: on-demand list prices per provider and region, in US dollars, as
# recorded for this example on 2026-11-29 from the providers' public price pages. Prices
# change, and your negotiated rates differ: check the pages and replace them.
#   cpu_hour, memory_gb_hour: an on-demand general-purpose instance's hourly price split
#     into vCPU and memory the way OpenCost splits it (vCPU:GB price ratio about 7.5:1);
#   gpu_hour: a one-GPU instance; storage_gb_month: object storage, standard tier;
#   egress_gb: data out per GB, to another region of the provider (inter_region) and to
#     the internet or another provider (internet); spot: a snapshot (spot prices move).
price_book:
  aws:
    # aws.amazon.com/ec2/pricing/on-demand (m7i.large $0.1134/h: 2 vCPU, 8 GiB;
    # g5.xlarge $1.459/h), aws.amazon.com/s3/pricing (S3 Standard, first 50 TB),
    # aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer (first 10 TB/month)
    eu-central-1:
      cpu_hour: 0.0369
      memory_gb_hour: 0.00495
      gpu_hour: 1.459
      storage_gb_month: 0.0245
      egress_gb: {inter_region: 0.02, internet: 0.09}
      spot: {cpu_hour: 0.0148, gpu_hour: 0.584}
    # same pages, US East (N. Virginia): m7i.large $0.1008/h, g5.xlarge $1.006/h
    us-east-1:
      cpu_hour: 0.0328
      memory_gb_hour: 0.0044
      gpu_hour: 1.006
      storage_gb_month: 0.023
      egress_gb: {inter_region: 0.02, internet: 0.09}
      spot: {cpu_hour: 0.0131, gpu_hour: 0.402}
  azure:
    # azure.microsoft.com/pricing/details/virtual-machines/linux (D2s v5: 2 vCPU, 8 GiB;
    # NC4as T4 v3: one T4), azure.microsoft.com/pricing/details/storage/blobs (Hot, LRS),
    # azure.microsoft.com/pricing/details/bandwidth (Europe/N. America, after 100 GB)
    germanywestcentral:          # Frankfurt: D2s v5 $0.111/h, NC4as T4 v3 $0.631/h
      cpu_hour: 0.0361
      memory_gb_hour: 0.00485
      gpu_hour: 0.631
      storage_gb_month: 0.0208
      egress_gb: {inter_region: 0.02, internet: 0.087}
    westeurope:                  # Netherlands: D2s v5 $0.107/h, NC4as T4 v3 $0.602/h
      cpu_hour: 0.0348
      memory_gb_hour: 0.00467
      gpu_hour: 0.602
      storage_gb_month: 0.0196
      egress_gb: {inter_region: 0.02, internet: 0.087}
    eastus:                      # Virginia: D2s v5 $0.096/h, NC4as T4 v3 $0.526/h
      cpu_hour: 0.0312
      memory_gb_hour: 0.00419
      gpu_hour: 0.526
      storage_gb_month: 0.0184
      egress_gb: {inter_region: 0.02, internet: 0.087}

# Teams own datasets, models and spend. Quotas: compute per calendar month (UTC);
# a training job that would cross one is refused before it starts. A budget is money per
# calendar month: an alert at soft_share of it; a hard budget refuses training jobs whose
# estimated cost would cross it (serving only alerts, unless serving: block).
teams:
  risk:
    members: [alice, bob]
    quotas:
      cpu_hours_per_month: 200
      gpu_hours_per_month: 0
    budget:
      monthly_usd: 500
      soft_share: 0.8
      hard: true
      serving: alert

# Validation gates (docs/gates.md): what a model must show on a locked holdout before
# approval. The limits below are EXAMPLES to start from, not law: set your own with your
# risk, legal and domain experts. Add `fairness: {sensitive: [...], limits: [...]}` to a
# suite to judge groups (e.g. demographic_parity_ratio min 0.8, equalized_odds_difference
# max 0.1 are common examples). Configuration decides which suite and holdout apply to
# a model (model name > team > objective); pin holdouts by dataset name (newest version).
gates:
  approvals_required: 1
  approvals_by_team: {}
  holdout_by_team: {}          # e.g. {risk: loans-holdout}
  holdout_by_model: {}         # e.g. {loans-default: loans-holdout-2024}
  suites:
    binary-default:
      objective: binary
      primary: roc_auc
      performance:
        - {metric: roc_auc, min: 0.70}
        - {metric: calibration_error, max: 0.10}
      champion: {margin: 0.01}
    multiclass-default:
      objective: multiclass
      primary: f1_macro
      performance:
        - {metric: accuracy, min: 0.50}
      champion: {margin: 0.01}
    regression-default:
      objective: regression
      primary: r2
      performance:
        - {metric: r2, min: 0.30}
      champion: {margin: 0.01}

# Training jobs: executor inline | process (local worker processes) | ray.
training:
  executor: process
  workers: 1
  heartbeat_seconds: 5
  lost_after_seconds: 30
  max_attempts: 2

# Users and their roles: viewer, data-steward, scientist, approver, deployer, admin.
# Users sign in to the API with tokens from `steward token create`.
users:
  admin:
    roles: [admin]
  alice:
    roles: [scientist, data-steward]
  bob:
    roles: [approver]
"""

_POLICY_README = """\
Put your organisation's own Cedar policies here, one or more per `.cedar` file.
They are added to Steward's default pack (see `steward policy show-pack`).
Check them with `steward policy check`; a forbid anywhere wins over any permit.
"""


@dataclass(frozen=True)
class Home:
    """Paths of a Steward home, and loaders for what lives there."""

    root: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> Home:
        raw = home if home is not None else os.environ.get("STEWARD_HOME", ".steward")
        return cls(Path(raw).expanduser().resolve())

    @property
    def config_path(self) -> Path:
        return self.root / "steward.yaml"

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def master_key_path(self) -> Path:
        return self.keys_dir / "master.key"

    @property
    def signing_key_path(self) -> Path:
        return self.keys_dir / "audit-ed25519.pem"

    @property
    def public_key_path(self) -> Path:
        return self.keys_dir / "audit-ed25519.pub"

    @property
    def policies_dir(self) -> Path:
        return self.root / "policies"

    @property
    def sites_dir(self) -> Path:
        return self.root / "sites"

    @property
    def sqlite_path(self) -> Path:
        return self.root / "steward.db"

    def database_url(self) -> str:
        return os.environ.get("STEWARD_DATABASE_URL") or f"sqlite:///{self.sqlite_path}"

    def check(self) -> None:
        if not self.config_path.exists():
            raise ConfigError(
                [
                    f"no Steward home at {self.root} (steward.yaml not found); "
                    "run 'steward init' or set STEWARD_HOME"
                ],
                path=str(self.root),
            )

    def load_config(self) -> StewardConfig:
        self.check()
        return load_config(self.config_path)

    def master_key(self) -> bytes:
        try:
            raw = self.master_key_path.read_bytes()
        except FileNotFoundError:
            raise ConfigError(
                [f"{self.master_key_path}: master key not found; restore it from your backup"],
                path=str(self.master_key_path),
            ) from None
        key = base64.b64decode(raw.strip())
        if len(key) != 32:
            raise ConfigError(
                [f"{self.master_key_path}: expected 32 bytes (base64); found {len(key)}"],
                path=str(self.master_key_path),
            )
        return key

    def signing_key(self) -> Ed25519PrivateKey:
        pem = self.signing_key_path.read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError([f"{self.signing_key_path}: expected an Ed25519 private key"])
        return key

    def public_key_pem(self) -> bytes:
        return self.public_key_path.read_bytes()


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def init_home(
    root: str | os.PathLike[str] | None = None,
    *,
    config_text: str | None = None,
    force: bool = False,
) -> Home:
    """Create a home with a commented ``steward.yaml``, a master key and a signing key.

    An existing home is left alone unless ``force`` is given; keys are never replaced.
    """
    home = Home.resolve(root)
    if home.config_path.exists() and not force:
        raise Conflict(
            f"a Steward home already exists at {home.root}; use --force to rewrite steward.yaml "
            "(keys are kept)",
            home=str(home.root),
        )
    text = config_text if config_text is not None else DEFAULT_CONFIG
    import yaml

    from steward.config.model import parse_config

    parse_config(yaml.safe_load(text), path=str(home.config_path))  # never write a bad file
    home.root.mkdir(parents=True, exist_ok=True)
    home.keys_dir.mkdir(mode=0o700, exist_ok=True)
    home.policies_dir.mkdir(exist_ok=True)
    home.sites_dir.mkdir(exist_ok=True)
    readme = home.policies_dir / "README.txt"
    if not readme.exists():
        readme.write_text(_POLICY_README, encoding="utf-8")
    if not home.master_key_path.exists():
        _write_secret(home.master_key_path, base64.b64encode(secrets.token_bytes(32)) + b"\n")
    if not home.signing_key_path.exists():
        key = Ed25519PrivateKey.generate()
        _write_secret(
            home.signing_key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        home.public_key_path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    home.config_path.write_text(text, encoding="utf-8")
    return home
