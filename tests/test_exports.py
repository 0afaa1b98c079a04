"""The public SDK surface: steward.__all__ is sorted and names exactly what is exported."""

import steward


def test_all_is_sorted_and_complete() -> None:
    assert steward.__all__ == sorted(steward.__all__)
    public = {n for n in vars(steward) if not n.startswith("_") or n == "__version__"}
    modules = {n for n, v in vars(steward).items() if type(v).__name__ == "module"}
    assert set(steward.__all__) == public - modules


def test_every_subpackage_declares_all_and_a_docstring() -> None:
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(steward.__path__):
        if not info.ispkg:
            continue
        mod = importlib.import_module(f"steward.{info.name}")
        assert mod.__doc__, f"steward.{info.name} has no docstring"
        assert isinstance(getattr(mod, "__all__", None), list), f"steward.{info.name}.__all__"
