# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters on database copies and Exchange sizes: copy_health, best_copy, exchange_bytes.

Each filter is documented in the ``.yml`` file of its name beside this one.  The decisions
live in ``plugins/module_utils/health.py`` (pure, unit-tested) and the size parsing in
``plugins/module_utils/convert.py``; these functions only translate errors.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.exchange.dr.plugins.module_utils import convert, health


def copy_health(copy, statuses=health.GATE_STATUSES, copy_queue_limit=health.BCSS_COPY_QUEUE,
                replay_queue_limit=health.BCSS_REPLAY_QUEUE, content_index_states=health.HEALTHY_CONTENT_INDEX,
                allow_activation_suspended=False, allow_lagged=False, databases=None):
    """The planned-activation gate of one copy: ``{name, healthy, reasons}``."""
    try:
        return health.copy_health(copy, statuses=statuses, copy_queue_limit=copy_queue_limit,
                                  replay_queue_limit=replay_queue_limit, content_index_states=content_index_states,
                                  allow_activation_suspended=allow_activation_suspended, allow_lagged=allow_lagged,
                                  databases=databases)
    except health.HealthInputError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def best_copy(copies, database=None, servers=None, databases=None, components=None, lossless=False,
              targetless=True, explain=False):
    """Active Manager's ranking of a database's passive copies, best first."""
    try:
        return health.best_copy(copies, database=database, servers=servers, databases=databases,
                                components=components, lossless=lossless, targetless=targetless, explain=explain)
    except health.HealthInputError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def exchange_bytes(value):
    """``1.5 GB (1,610,612,736 bytes)`` to 1610612736; ``Unlimited`` (and null) to None."""
    parsed = convert.to_bytes(value)
    if parsed is None or parsed == convert.UNLIMITED:
        return None
    if isinstance(parsed, bool) or not isinstance(parsed, int):
        raise AnsibleFilterError("exchange_bytes: %r is not an Exchange size such as '1.5 GB (1,610,612,736 bytes)', "
                                 "'500 MB' or 'Unlimited'" % (value,))
    return parsed


class FilterModule:
    """exchange.dr filters on database copies and sizes."""

    def filters(self):
        return {
            "copy_health": copy_health,
            "best_copy": best_copy,
            "exchange_bytes": exchange_bytes,
        }
