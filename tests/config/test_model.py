"""steward.yaml validation: the default parses; a bad file gets one line per problem."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from steward.config import JURISDICTIONS, PROVIDERS, StewardConfig, load_config, parse_config
from steward.config.home import DEFAULT_CONFIG
from steward.errors import ConfigError, NotFound


def _default() -> dict[str, Any]:
    """The default config, with each site's prices spelled out (not from the price book)."""
    data = yaml.safe_load(DEFAULT_CONFIG)
    assert isinstance(data, dict)
    data = copy.deepcopy(data)
    for name, other in (("eu-fra", "us-east"), ("us-east", "eu-fra")):
        site = data["sites"][name]
        prices = copy.deepcopy(data["price_book"][site["provider"]][site["region"]])
        prices["egress_gb"] = {other: 0.02, "internet": 0.09}
        site["prices"] = prices
    return data


def _problems(data: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, path="steward.yaml")
    assert info.value.path == "steward.yaml"
    assert info.value.details["problems"] == info.value.problems
    return info.value.problems


def _one_problem(data: Any, path: str) -> str:
    problems = _problems(data)
    assert len(problems) == 1, problems
    (line,) = problems
    assert line.startswith(f"{path}: "), line
    assert "\n" not in line
    return line


def test_default_config_parses() -> None:
    cfg = parse_config(yaml.safe_load(DEFAULT_CONFIG))
    assert isinstance(cfg, StewardConfig)
    assert cfg.default_site == "eu-fra"
    assert set(cfg.sites) == {"eu-fra", "us-east"}
    assert cfg.sites["eu-fra"].jurisdiction == "EU"
    assert cfg.sites["us-east"].jurisdiction == "US"
    # the sites take their prices from the price book (AWS Frankfurt, N. Virginia)
    assert cfg.sites["eu-fra"].prices == cfg.price_book["aws"]["eu-central-1"]
    assert cfg.sites["us-east"].prices.storage_gb_month == 0.023
    assert cfg.egress_price("eu-fra", "us-east") == 0.02  # another AWS region
    assert cfg.egress_price("eu-fra", "internet") == 0.09
    assert set(cfg.price_book) == {"aws", "azure"}
    budget = cfg.teams["risk"].budget
    assert budget is not None and budget.monthly_usd == 500 and budget.soft_share == 0.8
    assert set(cfg.users) == {"admin", "alice", "bob"}
    assert cfg.teams_of("alice") == ["risk"]
    assert cfg.teams_of("admin") == []


def test_site_lookup_unknown_site_is_not_found() -> None:
    cfg = parse_config(_default())
    assert cfg.site("eu-fra").provider == "aws"
    with pytest.raises(NotFound) as info:
        cfg.site("mars")
    assert info.value.details["site"] == "mars"
    assert info.value.details["known"] == ["eu-fra", "us-east"]


def test_bad_jurisdiction_names_path_expected_and_found() -> None:
    data = _default()
    data["sites"]["eu-fra"]["jurisdiction"] = "Europe"
    line = _one_problem(data, "sites.eu-fra.jurisdiction")
    assert line.startswith("sites.eu-fra.jurisdiction: expected one of EU, US, UK, CH")
    assert ", ".join(JURISDICTIONS) in line
    assert line.endswith("found 'Europe'")


def test_wrong_provider() -> None:
    data = _default()
    data["sites"]["us-east"]["provider"] = "ibm"
    line = _one_problem(data, "sites.us-east.provider")
    assert ", ".join(PROVIDERS) in line
    assert line.endswith("found 'ibm'")


def test_negative_price() -> None:
    data = _default()
    data["sites"]["eu-fra"]["prices"]["gpu_hour"] = -1.5
    line = _one_problem(data, "sites.eu-fra.prices.gpu_hour")
    assert "expected" in line
    assert line.endswith("found -1.5")


def test_negative_egress_price() -> None:
    data = _default()
    data["sites"]["eu-fra"]["prices"]["egress_gb"]["us-east"] = -0.02
    line = _one_problem(data, "sites.eu-fra.prices.egress_gb.us-east")
    assert line.endswith("found -0.02")


def test_non_numeric_price() -> None:
    data = _default()
    data["sites"]["eu-fra"]["prices"]["cpu_hour"] = "cheap"
    line = _one_problem(data, "sites.eu-fra.prices.cpu_hour")
    assert "expected" in line
    assert line.endswith("found 'cheap'")


@pytest.mark.parametrize(
    ("where", "key", "path"),
    [
        ((), "colour", "colour"),
        (("sites", "eu-fra"), "colour", "sites.eu-fra.colour"),
        (("sites", "eu-fra", "prices"), "cpu_hours", "sites.eu-fra.prices.cpu_hours"),
        (("users", "bob"), "role", "users.bob.role"),
    ],
)
def test_unknown_key_is_forbidden(where: tuple[str, ...], key: str, path: str) -> None:
    data = _default()
    node = data
    for part in where:
        node = node[part]
    node[key] = "x"
    line = _one_problem(data, path)
    assert "expected" in line
    assert f"found unexpected key {key!r}" in line


def test_unknown_key_lists_the_keys_that_are_allowed() -> None:
    data = _default()
    data["sites"]["eu-fra"]["colour"] = "red"
    line = _one_problem(data, "sites.eu-fra.colour")
    for known in ("provider", "region", "jurisdiction", "trust", "prices"):
        assert known in line


def test_team_member_must_be_a_user() -> None:
    data = _default()
    data["teams"]["risk"]["members"].append("carol")
    line = _one_problem(data, "teams.risk.members.2")
    assert line.endswith("found 'carol'")


def test_egress_to_unknown_site() -> None:
    data = _default()
    data["sites"]["eu-fra"]["prices"]["egress_gb"]["ap-tokyo"] = 0.1
    line = _one_problem(data, "sites.eu-fra.prices.egress_gb.ap-tokyo")
    assert line.endswith("found 'ap-tokyo'")


def test_bad_default_site() -> None:
    data = _default()
    data["default_site"] = "mars"
    line = _one_problem(data, "default_site")
    assert "eu-fra" in line
    assert "us-east" in line
    assert line.endswith("found 'mars'")


def test_missing_required_key() -> None:
    data = _default()
    del data["sites"]["eu-fra"]["region"]
    _one_problem(data, "sites.eu-fra.region")


def test_bad_name() -> None:
    data = _default()
    data["users"]["Carol_X"] = {"roles": ["viewer"]}
    line = _one_problem(data, "users.Carol_X")
    assert line.endswith("found 'Carol_X'")


def test_several_field_problems_give_several_lines() -> None:
    data = _default()
    data["sites"]["eu-fra"]["jurisdiction"] = "Europe"
    data["sites"]["us-east"]["provider"] = "ibm"
    data["sites"]["us-east"]["prices"]["cpu_hour"] = -1
    data["users"]["bob"]["roles"] = ["boss"]
    data["sites"]["eu-fra"]["colour"] = "red"
    problems = _problems(data)
    assert len(problems) == 5, problems
    prefixes = sorted(p.split(": ", 1)[0] for p in problems)
    assert prefixes == [
        "sites.eu-fra.colour",
        "sites.eu-fra.jurisdiction",
        "sites.us-east.prices.cpu_hour",
        "sites.us-east.provider",
        "users.bob.roles.0",
    ]
    assert all("\n" not in p for p in problems)
    assert any(p.endswith("found 'boss'") for p in problems)


def test_several_cross_reference_problems_give_several_lines() -> None:
    data = _default()
    data["default_site"] = "mars"
    data["teams"]["risk"]["members"] += ["carol", "dave"]
    data["sites"]["us-east"]["prices"]["egress_gb"]["ap-tokyo"] = 0.1
    problems = _problems(data)
    assert len(problems) == 4, problems
    prefixes = sorted(p.split(": ", 1)[0] for p in problems)
    assert prefixes == [
        "default_site",
        "sites.us-east.prices.egress_gb.ap-tokyo",
        "teams.risk.members.2",
        "teams.risk.members.3",
    ]


def test_error_message_lists_every_problem() -> None:
    data = _default()
    data["sites"]["eu-fra"]["jurisdiction"] = "Europe"
    data["sites"]["us-east"]["provider"] = "ibm"
    with pytest.raises(ConfigError) as info:
        parse_config(data, path="steward.yaml")
    err = info.value
    assert err.code == "config_error"
    assert err.message.startswith("steward.yaml: 2 problem(s)")
    for problem in err.problems:
        assert problem in err.message


@pytest.mark.parametrize("data", [None, [], "text", 3])
def test_top_level_must_be_a_mapping(data: Any) -> None:
    (line,) = _problems(data)
    assert line.startswith("(top level): expected a mapping; found ")


def test_load_config_reads_a_good_file(tmp_path: Path) -> None:
    path = tmp_path / "steward.yaml"
    path.write_text(DEFAULT_CONFIG, encoding="utf-8")
    cfg = load_config(path)
    assert cfg.default_site == "eu-fra"


def test_load_config_bad_file_keeps_the_path(tmp_path: Path) -> None:
    path = tmp_path / "steward.yaml"
    path.write_text(DEFAULT_CONFIG.replace("jurisdiction: EU", "jurisdiction: Europe"), "utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.path == str(path)
    (line,) = info.value.problems
    assert line.startswith("sites.eu-fra.jurisdiction: ")
    assert line.endswith("found 'Europe'")


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "steward.yaml"
    path.write_text(
        "version: 1\nsites:\n  eu-fra:\n    provider: aws\n   region: x\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.path == str(path)
    (line,) = info.value.problems
    assert line.startswith("line 5, column ")
    assert "not valid YAML" in line


def test_invalid_yaml_unclosed_bracket_names_a_line(tmp_path: Path) -> None:
    path = tmp_path / "steward.yaml"
    path.write_text("version: 1\nusers:\n  bob: {roles: [approver\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (line,) = info.value.problems
    assert line.startswith("line 4, ")
    assert "not valid YAML" in line


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "steward.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.path == str(path)
    (line,) = info.value.problems
    assert line.startswith(f"{path}: file not found")


# -- gates and training -----------------------------------------------------------------------
def test_default_config_has_example_suites_and_quotas() -> None:
    cfg = parse_config(_default())
    assert set(cfg.gates.suites) == {"binary-default", "multiclass-default", "regression-default"}
    assert cfg.gates.suite_for("binary", "risk", "anything") is not None
    assert cfg.teams["risk"].quotas.cpu_hours_per_month == 200
    assert cfg.training.executor == "process"


@pytest.mark.parametrize(
    ("threshold", "needle"),
    [
        ({"metric": "roc_auc"}, "exactly one of min or max"),
        ({"metric": "roc_auc", "min": 0.7, "max": 0.9}, "exactly one of min or max"),
        ({"metric": "auc", "min": 0.7}, "performance metric 'auc' is not one of roc_auc"),
    ],
)
def test_gate_thresholds_are_typed_and_checked(threshold: dict[str, Any], needle: str) -> None:
    data = _default()
    data["gates"]["suites"]["binary-default"]["performance"] = [threshold]
    problems = _problems(data)
    assert len(problems) == 1 and problems[0].startswith("gates.suites.binary-default")
    assert needle in problems[0]


def test_fairness_limits_need_a_known_metric_and_a_binary_objective() -> None:
    data = _default()
    data["gates"]["suites"]["regression-default"]["fairness"] = {
        "sensitive": ["sex"],
        "limits": [{"metric": "parity", "max": 0.1}],
    }
    (line,) = _problems(data)
    assert "fairness gates need a binary objective" in line
    assert "fairness metric 'parity' is not one of" in line


def test_most_specific_suite_wins() -> None:
    data = _default()
    data["gates"]["suites"]["risk-binary"] = {
        "objective": "binary",
        "teams": ["risk"],
        "primary": "f1",
        "performance": [],
    }
    data["gates"]["suites"]["one-model"] = {
        "objective": "binary",
        "models": ["churn"],
        "primary": "f1",
        "performance": [],
    }
    g = parse_config(data).gates
    assert g.suite_for("binary", "risk", "loans")[0] == "risk-binary"  # type: ignore[index]
    assert g.suite_for("binary", "risk", "churn")[0] == "one-model"  # type: ignore[index]
    assert g.suite_for("binary", "other", "loans")[0] == "binary-default"  # type: ignore[index]
    assert g.suite_for("regression", None, "x")[0] == "regression-default"  # type: ignore[index]


def test_a_site_with_its_own_prices_keeps_them_and_egress_resolves_by_provider() -> None:
    data = _default()
    data["sites"]["az-we"] = {
        "provider": "azure",
        "region": "westeurope",
        "jurisdiction": "EU",
    }
    cfg = parse_config(data)
    assert cfg.sites["eu-fra"].prices.egress_gb == {"us-east": 0.02, "internet": 0.09}
    assert cfg.sites["az-we"].prices.cpu_hour == cfg.price_book["azure"]["westeurope"].cpu_hour
    assert cfg.egress_price("eu-fra", "az-we") == 0.09  # another provider: the internet price
    assert cfg.egress_price("az-we", "eu-fra") == 0.087
    assert cfg.egress_price("eu-fra", "us-east") == 0.02  # named explicitly


def test_a_site_in_no_price_book_region_is_free_until_priced() -> None:
    data = _default()
    data["sites"]["edge-1"] = {"provider": "edge", "region": "plant-7", "jurisdiction": "EU"}
    cfg = parse_config(data)
    assert cfg.sites["edge-1"].prices.cpu_hour == 0.0


def test_budget_needs_a_positive_amount() -> None:
    data = _default()
    data["teams"]["risk"]["budget"]["monthly_usd"] = 0
    line = _one_problem(data, "teams.risk.budget.monthly_usd")
    assert line.endswith("found 0")
