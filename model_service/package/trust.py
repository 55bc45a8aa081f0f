"""skops, imported without the second it spends listing scikit-learn, and
skops' own rule for which scikit-learn types it trusts by default.

At import, `skops.io` lists every scikit-learn estimator with
`sklearn.utils.all_estimators()`, which imports every module of
scikit-learn (about a second and 20 MB per process), only to know which
`sklearn.*` types a file may hold without being named. `import_skops`
imports skops with that list left empty, so skops on its own trusts fewer
types, never more; `sklearn_trusts` then answers, for the few types a file
names, what that list would have said, importing only the public packages
on each type's own path (the test compares it with `all_estimators()`).
Every caller asks skops which types a file needs beyond its defaults and
drops the ones `sklearn_trusts`, so the answer is the same whichever way
skops was imported in this process.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import threading
from collections.abc import Iterable
from types import ModuleType

# sklearn.utils.discovery._MODULE_TO_IGNORE: all_estimators skips modules
# with one of these parts (and every private module, "._").
_IGNORED_PARTS = frozenset(
    {"tests", "externals", "setup", "conftest", "experimental", "estimator_checks"}
)
_import_lock = threading.Lock()


def import_skops() -> ModuleType:
    """`skops.io`, imported (once per process) without listing scikit-learn."""
    with _import_lock:
        if "skops.io" in sys.modules:
            return sys.modules["skops.io"]
        import sklearn.utils

        listing = sklearn.utils.all_estimators
        # skops.io._trusted_types runs `from sklearn.utils import all_estimators`
        # and calls it once, at import: only then does it find this stand-in.
        sklearn.utils.all_estimators = _no_estimators
        try:
            import skops.io
        finally:
            sklearn.utils.all_estimators = listing
        return skops.io


def untrusted_types(needed: Iterable[str], trusted: Iterable[str]) -> list[str]:
    """The types of `needed` (from `skops.io.get_untrusted_types`) that
    neither `trusted` names nor skops trusts by default."""
    named = set(trusted)
    return [name for name in needed if name not in named and not sklearn_trusts(name)]


def sklearn_trusts(type_name: str) -> bool:
    """Whether skops trusts `type_name` by default as a scikit-learn
    estimator: a class of a public scikit-learn package, under its own name,
    derived from BaseEstimator and not abstract, as `all_estimators` lists."""
    module_name, _, class_name = type_name.rpartition(".")
    parts = module_name.split(".")
    if parts[0] != "sklearn" or class_name.startswith("_") or class_name == "BaseEstimator":
        return False
    from sklearn.base import BaseEstimator

    # all_estimators finds a class where a public module exports it: here,
    # the public packages on the path of the module that defines it.
    for depth in range(2, len(parts) + 1):
        part = parts[depth - 1]
        if part.startswith("_") or part in _IGNORED_PARTS:
            break
        module = importlib.import_module(".".join(parts[:depth]))
        found = getattr(module, class_name, None)
        if (
            inspect.isclass(found)
            and found.__module__ == module_name
            and found.__name__ == class_name
            and issubclass(found, BaseEstimator)
            and not getattr(found, "__abstractmethods__", None)
        ):
            return True
    return False


def _no_estimators(type_filter: object = None) -> list[tuple[str, type]]:
    return []
