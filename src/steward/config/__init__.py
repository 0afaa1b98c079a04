"""Configuration: the Steward home, ``steward.yaml`` and its validation.

Owns the shape of sites, teams and users, the home's layout (config, keys, policies,
site roots) and ``steward init``.
"""

from steward.config.home import Home, init_home
from steward.config.model import (
    JURISDICTIONS,
    PROVIDERS,
    ROLES,
    AlertRule,
    ChampionGate,
    FairnessGate,
    Gates,
    GateSuite,
    LogMask,
    Monitoring,
    Prices,
    Quotas,
    RobustnessGate,
    Serving,
    Site,
    StewardConfig,
    Team,
    Threshold,
    Training,
    User,
    load_config,
    parse_config,
)

__all__ = [
    "JURISDICTIONS",
    "PROVIDERS",
    "ROLES",
    "AlertRule",
    "ChampionGate",
    "FairnessGate",
    "GateSuite",
    "Gates",
    "Home",
    "LogMask",
    "Monitoring",
    "Prices",
    "Quotas",
    "RobustnessGate",
    "Serving",
    "Site",
    "StewardConfig",
    "Team",
    "Threshold",
    "Training",
    "User",
    "init_home",
    "load_config",
    "parse_config",
]
