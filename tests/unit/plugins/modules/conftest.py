"""Modules run in a process of their own, never inside the controller.

Importing controller code (the inventory plugin's tests do) sets
``ansible.module_utils._internal.is_controller``, after which ``AnsibleModule.warn`` sends warnings to
the controller's display instead of the module result: module tests would see no ``warnings`` when
they happen to run after the inventory tests.  Each module test runs as a module process would.
"""

from __future__ import annotations

import pytest
from ansible.module_utils import _internal


@pytest.fixture(autouse=True)
def _module_process(monkeypatch):
    monkeypatch.setattr(_internal, "is_controller", False)
