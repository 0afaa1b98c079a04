"""A labelled patient table for the anonymisation, profile-leak and declassification
threats: the set of direct and special-category columns is written down here, never
taken from the classifier under test. Values are seeded Faker data in several locales."""

from __future__ import annotations

import random
from typing import Any

import yaml
from faker import Faker

from steward.config import Home

#: the labels: which columns identify a person directly, which are special category
DIRECT_HINTED = ("full_name", "email", "ssn")
#: the same people with column names that give nothing away (no name hint)
DIRECT_UNHINTED = ("titulaire", "kunde", "x1")
SPECIAL = ("diagnosis",)
QUASI = ("age", "zip")

_LOCALES = ("en_US", "de_DE", "fr_FR", "it_IT", "es_ES", "nl_NL", "pl_PL", "pt_PT", "sv_SE")
_ICD10 = ("E11.9", "I10", "J45.909", "F32.9", "C50.911", "K21.9", "M54.5", "N18.3")


def patients(n: int = 300, seed: int = 7) -> list[dict[str, Any]]:
    """Rows with hinted direct columns, unhinted copies of names, a diagnosis (ICD-10),
    and quasi-identifiers coarse enough for k = 5 after generalisation."""
    rng = random.Random(seed)
    fakers = [Faker(loc) for loc in _LOCALES]
    for i, f in enumerate(fakers):
        f.seed_instance(seed + i)
    rows = []
    for i in range(n):
        f = fakers[i % len(fakers)]
        first, last = f.first_name(), f.last_name()
        rows.append(
            {
                "patient_id": i + 1,
                "full_name": f"{first} {last}",
                "email": f"{first}.{last}{i}@example.org".lower().replace(" ", ""),
                "ssn": fakers[0].ssn(),
                "titulaire": f"{last}, {first}",
                "kunde": f"{first} {last}",
                "x1": f"{first} {last}",
                "diagnosis": rng.choice(_ICD10),
                "age": rng.randint(20, 79),
                "zip": rng.choice(["75001", "75002", "10115", "10117"]),
                "charges": round(rng.uniform(100, 9000), 2),
            }
        )
    return rows


def raw_values(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> set[str]:
    """Every raw value of ``columns`` as text (the strings a leak would show)."""
    return {str(r[c]) for r in rows for c in columns}


def with_stewards(home: Home, *, transfers: list[dict[str, str]] | None = None) -> None:
    """Add carol, a second data steward in team risk, and optional transfer rules."""
    cfg = yaml.safe_load(home.config_path.read_text())
    cfg["users"]["carol"] = {"roles": ["data-steward"]}
    cfg["teams"]["risk"]["members"] = [*cfg["teams"]["risk"]["members"], "carol"]
    if transfers is not None:
        cfg.setdefault("privacy", {})["transfers"] = transfers
    home.config_path.write_text(yaml.safe_dump(cfg))
