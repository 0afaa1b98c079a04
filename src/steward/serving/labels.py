"""Ground-truth labels in the representation of a model's classes.

A label reported through the feedback API must name one of the classes the model was
trained on, through the training target's encoding (``steward.training.fit``: a boolean
target is trained as the classes ``0``/``1``, numbers as numbers, text as text):

- the class itself (``"yes"`` for the classes ``["no", "yes"]``, ``1`` for ``[0, 1]``);
- the same value in another JSON type (``"1"`` or ``1.0`` for the class ``1``; ``1`` for
  the class ``"1"``), or in another case (``"Yes"``) when that names one class only;
- a boolean (``true``/``false``, ``"yes"``/``"no"``, ``1``/``0``) for a model with two
  classes that are themselves a boolean pair (``[0, 1]``, ``["no", "yes"]``,
  ``["false", "true"]``).

A regression model takes finite numbers (or text that reads as one). Anything else is
refused: a label that names no class cannot be scored, and quietly dropping it would let
bad labels switch performance monitoring off.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["NO_LABEL", "describe_classes", "map_label"]

#: what :func:`map_label` returns for a label it cannot map
NO_LABEL: Any = object()

_TRUE = frozenset({"true", "yes"})
_FALSE = frozenset({"false", "no"})
_PAIRS = (frozenset({"no", "yes"}), frozenset({"false", "true"}), frozenset({"0", "1"}))


def _number(v: Any) -> float | None:
    """``v`` as a finite float (numbers and numeric text; never a boolean)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        f = float(v)
    elif isinstance(v, str):
        try:
            f = float(v.strip())
        except ValueError:
            return None
    else:
        return None
    return f if math.isfinite(f) else None


def _boolean(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        t = v.strip().lower()
        return True if t in _TRUE else False if t in _FALSE else None
    n = _number(v)
    return None if n not in (0.0, 1.0) else n == 1.0


def _boolean_class(b: bool, classes: list[Any]) -> Any:
    """The class that stands for ``b`` when the classes are a boolean pair."""
    if len(classes) != 2:
        return NO_LABEL
    if all(isinstance(c, int | float) and not isinstance(c, bool) for c in classes):
        if {float(c) for c in classes} == {0.0, 1.0}:
            return next(c for c in classes if float(c) == float(b))
        return NO_LABEL
    if all(isinstance(c, str) for c in classes):
        lowered = {c.strip().lower(): c for c in classes}
        if frozenset(lowered) in _PAIRS:
            want = ("true", "yes", "1") if b else ("false", "no", "0")
            return next(c for k, c in lowered.items() if k in want)
    return NO_LABEL


def map_label(value: Any, classes: list[Any] | None, objective: str) -> Any:
    """``value`` as the model's class (or, for regression, as a float); :data:`NO_LABEL`
    when it names none (module docs)."""
    if value is None:
        return NO_LABEL
    if objective == "regression" or not classes:
        n = _number(value)
        return NO_LABEL if n is None or objective != "regression" else n
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        if classes and isinstance(classes[0], str):
            texts = [value] if isinstance(value, str) else [str(value)]
            n = _number(value)
            if n is not None and n == int(n):
                texts.append(str(int(n)))
            for t in texts:
                if t in classes:
                    return t
            if isinstance(value, str):
                folded = [c for c in classes if c.strip().lower() == value.strip().lower()]
                if len(folded) == 1:
                    return folded[0]
        else:
            n = _number(value)
            if n is not None:
                for c in classes:
                    if isinstance(c, int | float) and not isinstance(c, bool) and float(c) == n:
                        return c
    b = _boolean(value)
    if b is not None:
        return _boolean_class(b, classes)
    return NO_LABEL


def describe_classes(classes: list[Any] | None, objective: str) -> str:
    """The classes a label may name, for a message."""
    if objective == "regression" or not classes:
        return "a finite number (regression)"
    shown = ", ".join(repr(c) for c in classes[:20])
    more = f", ... ({len(classes)} in all)" if len(classes) > 20 else ""
    return f"one of the classes {shown}{more}"
