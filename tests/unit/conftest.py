"""Make ``ansible_collections.exchange.dr`` importable when the unit tests run under plain pytest.

ansible-test runs them from inside ``ansible_collections/exchange/dr`` already; plain pytest
(``make test``) runs them from the repository, so a temporary collection root with a symlink
to the repository is put on ``sys.path`` for the session.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collection_root() -> None:
    try:
        found = importlib.util.find_spec("ansible_collections.exchange.dr.plugins.module_utils.psrp")
    except ModuleNotFoundError:
        found = None
    if found is not None:
        return
    root = tempfile.mkdtemp(prefix="exchange-dr-unit-")
    os.makedirs(os.path.join(root, "ansible_collections", "exchange"))
    os.symlink(REPO, os.path.join(root, "ansible_collections", "exchange", "dr"))
    sys.path.insert(0, root)
    atexit.register(shutil.rmtree, root, True)  # removes the symlink, never the repository


_collection_root()
