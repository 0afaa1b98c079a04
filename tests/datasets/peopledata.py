"""A seeded people table with personal data (Faker), for the datasets tests."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from faker import Faker


def people_rows(n: int = 300, seed: int = 11) -> list[dict[str, object]]:
    fake = Faker("en_US")
    Faker.seed(seed)
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        rows.append(
            {
                "customer_id": i + 1,
                "full_name": fake.name(),
                "email": fake.email(),
                "ssn": fake.ssn(),
                "age": rng.randint(18, 80),
                "gender": rng.choice(["female", "male"]),
                "zip": rng.choice(["10001", "10002", "10003", "94105", "94107"]),
                "income": round(rng.lognormvariate(10.8, 0.5), 2),
                "defaulted": rng.random() < 0.1,
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path
