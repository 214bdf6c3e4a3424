"""Cmdlet implementations.

Every module in this package registers its cmdlets with ``registry.cmdlet`` when it is
imported; :func:`load_all` imports them all (the engine calls it before the first lookup).
"""

from __future__ import annotations

import importlib
import pkgutil

_loaded = False


def load_all() -> None:
    """Import every cmdlet module of this package once."""
    global _loaded
    if _loaded:
        return
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True
