"""Masking recipes: per-column operators, the automatic recipe, reversible tokens, and
the verdict of a masked version.

The verdict is ``anonymised`` only when no direct identifier remains (dropped or
redacted), special-category columns are removed or generalised, and the table is
k-anonymous over its quasi-identifiers with k at least the minimum. Keyed hashes,
tokens and partial masks are pseudonyms (GDPR Recital 26: data that can be attributed
to a person with additional information is still personal data): a version holding them
is ``pseudonymised``, and residency still binds it. Anything else is ``identifiable``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, Field, ValidationError

from steward.errors import ValidationFailed
from steward.kernels.masking import OPERATORS, KAnonymityReport, enforce_k, k_anonymity

__all__ = [
    "VERDICTS",
    "ColumnRule",
    "MaskOutcome",
    "Recipe",
    "Verdict",
    "apply_recipe",
    "auto_recipe",
    "derive_key",
    "detokenise",
    "judge",
    "load_recipe",
    "tokenise",
]

OPS = ("keep", "drop", "tokenise", *sorted(OPERATORS))
#: The verdicts a version can get, strictest first.
VERDICTS = ("identifiable", "pseudonymised", "anonymised")
#: Operators after which nothing of a column's values is left.
REMOVES_IDENTIFIER = {"drop", "redact"}
#: Operators that leave a pseudonym: a keyed hash or a token links rows to one person
#: (and a key holder back to the value); a partial mask keeps part of the value.
PSEUDONYMS = {"pseudonymise", "tokenise", "partial_mask"}
#: Operators that generalise a special-category column into bands or coarser codes.
GENERALISES = {"generalise_age", "generalise_date", "generalise_numeric", "generalise_postcode"}
_TOKEN_PREFIX = "t_"


class ColumnRule(BaseModel):
    op: str
    params: dict[str, Any] = Field(default_factory=dict)


class Recipe(BaseModel):
    columns: dict[str, ColumnRule]
    k_min: int | None = Field(None, ge=2)
    #: suppress quasi-identifiers of rows in groups smaller than k (automatic recipes do)
    enforce_k: bool = False


def load_recipe(path: Path) -> Recipe:
    """Read ``recipe.yaml``: ``columns: {name: op | {op: ..., param: ...}}``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValidationFailed(f"{path}: cannot read the recipe: {exc}", path=str(path)) from None
    return parse_recipe(data, where=str(path))


def parse_recipe(data: Any, *, where: str = "recipe") -> Recipe:
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
        raise ValidationFailed(f"{where}: expected a mapping with 'columns: {{name: op}}'")
    cols: dict[str, Any] = {}
    for name, rule in data["columns"].items():
        if isinstance(rule, str):
            rule = {"op": rule}
        if not isinstance(rule, dict) or "op" not in rule:
            raise ValidationFailed(
                f"{where}: columns.{name}: expected an operator name or a mapping with 'op'",
                column=name,
            )
        op = rule["op"]
        if op not in OPS:
            raise ValidationFailed(
                f"{where}: columns.{name}.op: expected one of {', '.join(OPS)}; found {op!r}",
                column=name,
            )
        cols[str(name)] = {"op": op, "params": {k: v for k, v in rule.items() if k != "op"}}
    try:
        return Recipe.model_validate(
            {
                "columns": cols,
                "k_min": data.get("k_min"),
                "enforce_k": bool(data.get("enforce_k", False)),
            }
        )
    except ValidationError as exc:
        raise ValidationFailed(f"{where}: {exc.errors()[0]['msg']}") from None


_AUTO: dict[str, ColumnRule] = {
    "person_name": ColumnRule(op="drop"),
    "postal_address": ColumnRule(op="drop"),
    "free_text_with_identifiers": ColumnRule(op="redact"),
    "date_of_birth": ColumnRule(op="generalise_date", params={"to": "year"}),
    "age": ColumnRule(op="generalise_age", params={"width": 10}),
    "postcode": ColumnRule(op="generalise_postcode", params={"keep": 2}),
}


def auto_recipe(classification: list[Mapping[str, Any]], k_min: int) -> Recipe:
    """Direct identifiers: names and addresses dropped, other identifiers pseudonymised
    (joins keep working, so the result is at best ``pseudonymised``); special-category
    columns dropped; quasi-identifiers generalised or rare values suppressed."""
    cols: dict[str, ColumnRule] = {}
    for c in classification:
        pii, cat, name = c.get("pii_type"), c.get("category"), c["column"]
        if pii is None or cat == "none":
            continue
        if pii in _AUTO:
            cols[name] = _AUTO[pii]
        elif cat in ("direct", "free_text"):
            cols[name] = ColumnRule(op="pseudonymise")
        elif cat == "special":
            cols[name] = ColumnRule(op="drop")
        elif cat == "quasi":
            cols[name] = ColumnRule(op="suppress_rare", params={"min_count": k_min})
    return Recipe(columns=cols, k_min=k_min, enforce_k=True)


def derive_key(master: bytes, purpose: str, length: int = 32) -> bytes:
    """A purpose-bound key from the master key (HKDF-SHA256), stable within a home."""
    return HKDF(hashes.SHA256(), length, salt=None, info=f"steward/{purpose}/v1".encode()).derive(
        master
    )


def tokenise(values: pa.Array, key: bytes) -> pa.Array:
    """Deterministic, reversible tokens (AES-SIV): equal values give equal tokens."""
    siv = AESSIV(key)
    # AES-SIV is per value by construction; no vectorised form exists.
    out = [
        None
        if v is None
        else _TOKEN_PREFIX
        + base64.urlsafe_b64encode(siv.encrypt(str(v).encode("utf-8"), [b"steward-token"]))
        .decode("ascii")
        .rstrip("=")
        for v in values.to_pylist()
    ]
    return pa.array(out, pa.string())


def detokenise(tokens: list[str], key: bytes) -> list[str]:
    siv = AESSIV(key)
    out = []
    for t in tokens:
        if not t.startswith(_TOKEN_PREFIX):
            raise ValidationFailed(f"{t!r} is not a Steward token", token=t)
        raw = t[len(_TOKEN_PREFIX) :]
        try:
            pt = siv.decrypt(
                base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), [b"steward-token"]
            )
        except Exception:  # InvalidTag or bad base64: either way not ours
            raise ValidationFailed(f"{t!r} is not a token of this home", token=t) from None
        out.append(pt.decode("utf-8"))
    return out


class MaskOutcome(BaseModel):
    model_config = {"arbitrary_types_allowed": True}

    table: pa.Table
    applied: dict[str, str]
    verdict: str
    anonymised: bool
    reasons: list[str]
    k_report: dict[str, Any]
    k_by_suppression_only: bool = False
    warnings: list[str] = Field(default_factory=list)


def apply_recipe(
    table: pa.Table,
    recipe: Recipe,
    classification: list[Mapping[str, Any]],
    *,
    pseudonym_key: bytes,
    token_key: bytes,
    k_min: int,
) -> MaskOutcome:
    for name in recipe.columns:
        if name not in table.column_names:
            raise ValidationFailed(
                f"recipe names column {name!r}, which the data does not have; expected one of "
                f"{', '.join(table.column_names)}",
                column=name,
            )
    applied: dict[str, str] = {}
    arrays: list[pa.ChunkedArray] = []
    names: list[str] = []
    for name in table.column_names:
        rule = recipe.columns.get(name, ColumnRule(op="keep"))
        col = table.column(name)
        if rule.op == "drop":
            applied[name] = "drop"
            continue
        if rule.op == "keep":
            arrays.append(col)
        elif rule.op == "tokenise":
            arrays.append(pa.chunked_array([tokenise(col.combine_chunks(), token_key)]))
        else:
            params = dict(rule.params)
            if rule.op == "pseudonymise":
                params.setdefault("key", pseudonym_key)
            try:
                result = OPERATORS[rule.op](col.combine_chunks(), **params)
            except (TypeError, ValueError, pa.ArrowException) as exc:
                raise ValidationFailed(
                    f"recipe: column {name!r}, operator {rule.op}: {exc}", column=name
                ) from None
            arrays.append(
                result if isinstance(result, pa.ChunkedArray) else pa.chunked_array([result])
            )
        names.append(name)
        if rule.op != "keep":
            applied[name] = rule.op
    out = pa.table(arrays, names=names) if names else pa.table({})
    quasi = quasi_identifiers(classification, applied, names)
    suppressed = removed = 0
    if recipe.enforce_k:
        out, suppressed, removed = enforce_k(out, quasi, k_min)
    verdict = judge(classification, applied, out, k_min)
    k_report = {**verdict.k_report, "rows_suppressed": suppressed, "rows_removed": removed}
    return MaskOutcome(
        table=out,
        applied=applied,
        verdict=verdict.verdict,
        anonymised=verdict.verdict == "anonymised",
        reasons=verdict.reasons,
        k_report=k_report,
        k_by_suppression_only=verdict.k_by_suppression_only,
        warnings=verdict.warnings,
    )


def quasi_identifiers(
    classification: list[Mapping[str, Any]], applied: Mapping[str, str], present: list[str]
) -> list[str]:
    """The columns k is measured on: quasi-identifiers, and special-category columns
    kept in generalised form (a diagnosis band still narrows a person down)."""
    out = []
    for c in classification:
        col, cat = c["column"], c.get("category")
        if col not in present:
            continue
        if cat == "quasi" or (cat == "special" and applied.get(col) in GENERALISES):
            out.append(col)
    return out


class Verdict(BaseModel):
    """What a masked version is: ``anonymised``, ``pseudonymised`` or ``identifiable``."""

    verdict: str
    reasons: list[str]
    k_report: dict[str, Any]
    #: k holds only because every quasi-identifier value was suppressed (no data left)
    k_by_suppression_only: bool = False
    warnings: list[str] = Field(default_factory=list)


def judge(
    classification: list[Mapping[str, Any]],
    applied: Mapping[str, str],
    table: pa.Table,
    k_min: int,
) -> Verdict:
    """The verdict of a masked ``table`` derived with ``applied`` operators from data
    classified as ``classification`` (the source's column classes).

    Used when a version is masked and again when its source's classification changes.
    """
    pseudonyms: list[str] = []
    identifying: list[str] = []
    for c in classification:
        col, cat, pii = c["column"], c.get("category"), c.get("pii_type")
        if not pii or cat in (None, "none", "quasi"):
            continue
        op = applied.get(col, "keep")
        if op in REMOVES_IDENTIFIER:
            continue
        if cat == "special":
            if op in GENERALISES:
                continue
            what = f"special-category column {col!r} ({pii}) is {op}; generalise or drop it"
        else:
            what = f"direct identifier {col!r} ({pii}) is {op}"
        if op in PSEUDONYMS:
            pseudonyms.append(f"{what}: a pseudonym, still personal data (GDPR Recital 26)")
        else:
            identifying.append(what)
    quasi = quasi_identifiers(classification, applied, table.column_names)
    report: KAnonymityReport = k_anonymity(table, quasi)
    if report.k < k_min:
        identifying.append(
            f"k-anonymity {report.k} over {', '.join(quasi) or 'no columns'} "
            f"is below the minimum {k_min}"
        )
    warnings: list[str] = []
    by_suppression = bool(quasi) and table.num_rows > 0
    by_suppression = by_suppression and all(
        table.column(q).null_count == table.num_rows for q in quasi
    )
    if by_suppression:
        warnings.append(
            f"k-anonymity {report.k} is reached only by suppressing every quasi-identifier "
            f"({', '.join(quasi)}): no quasi-identifier value is left. Generalise them "
            "(wider age bands, shorter postcodes) to keep some information"
        )
    verdict = "identifiable" if identifying else "pseudonymised" if pseudonyms else "anonymised"
    return Verdict(
        verdict=verdict,
        reasons=identifying + pseudonyms,
        k_report=report.to_dict(),
        k_by_suppression_only=by_suppression,
        warnings=warnings,
    )
