# -*- coding: utf-8 -*-
# Copyright: exchange.dr contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers of the exchange.dr Molecule verifiers (pytest-testinfra), internal to the scenarios.

The tests read the organization as an operator would: through the collection itself. testinfra's
ansible backend runs ``ansible <host> -m exchange.dr.<module> --args <json>`` with Molecule's inventory
(the lab's, or the user's for the windows scenario), so Ansible renders the connection options
(vault, environment lookups, Kerberos settings) exactly as in a playbook. Nothing here reads the lab's
internals: the same tests run against real Exchange and Windows hosts.

Inventory conventions (the lab scenarios set them in molecule.yml, the windows scenario's user in the
inventory; see molecule/README.md):

- group ``molecule_probe``: one Exchange server that stays up in every phase of the scenario; the tests
  run on it (modules run on the controller, ``ansible_connection: local``) and read through its
  ``exchange_dr_connection``;
- group ``molecule_maintenance``: the DAG member the default scenario puts into maintenance and back;
- ``exchange_dr_molecule_windows_host``: a host whose ``exchange_dr_windows_connection`` reaches a domain
  controller with the DNS zone (DNS records, AD permissions).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

# The connection options of the exchange.dr modules (plugins/module_utils/psrp.py CONNECTION_ARGSPEC and
# plugins/doc_fragments/connection.py); each is passed when the connection variable defines it.
CONNECTION_OPTIONS = (
    "server", "port", "path", "configuration_name", "username", "password", "auth", "ssl", "validate_certs",
    "ca_trust_path", "certificate_pem", "certificate_key_pem", "allow_unencrypted", "connection_timeout",
    "operation_timeout", "reconnection_retries", "reconnection_backoff", "proxy", "no_proxy",
    "message_encryption", "exchange_version",
)
EXCHANGE = "exchange_dr_connection"
WINDOWS = "exchange_dr_windows_connection"


def of_host(name: str, variable: str = EXCHANGE) -> str:
    """The Jinja expression of another inventory host's connection variable."""
    return "hostvars[%s][%s]" % (json.dumps(name), json.dumps(variable))


def module_args(args: dict | None = None, connection: str = EXCHANGE) -> str:
    """JSON module arguments: the connection options from the ``connection`` expression, then ``args``."""
    full = {name: "{{ (%s)[%s] | default(omit) }}" % (connection, json.dumps(name)) for name in CONNECTION_OPTIONS}
    full.update(args or {})
    return json.dumps(full)


def run(host, module: str, args: dict | None = None, connection: str = EXCHANGE, check: bool = True) -> dict:
    """Run ``exchange.dr.<module>`` on ``host`` (check mode by default: a read, or a drift probe)."""
    return host.ansible("exchange.dr.%s" % module, module_args(args, connection), check=check)


def info(host, *subsets: str, connection: str = EXCHANGE, **options) -> dict:
    """exchange.dr.exchange_info with the given ``gather_subset``."""
    return run(host, "exchange_info", dict(options, gather_subset=list(subsets)), connection)


def variables(host) -> dict:
    """The inventory variables of ``host`` (groups included), as ``ansible-inventory`` lists them."""
    return host.ansible.get_variables()


def group(host, name: str) -> list:
    return variables(host)["groups"].get(name, [])


def by(rows: list, key: str) -> dict:
    return {row[key]: row for row in rows}


def dr_vars() -> dict:
    """The variables file the converge passed with -e (EXCHANGE_DR_MOLECULE_VARS), or {} when none."""
    path = os.environ.get("EXCHANGE_DR_MOLECULE_VARS")
    if not path or not Path(path).is_file():
        return {}
    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


# The probe host's Exchange connection; on an Exchange 2007 host (exchange_dr_version 2007) the session is
# Microsoft.PowerShell with the Exchange snap-in, so the connection gets exchange_version 2007 as the
# collection's roles give it.
EXCHANGE_OR_2007 = ("(exchange_dr_connection | combine({'exchange_version': '2007'} "
                    "if (exchange_dr_version | default('') | string) == '2007' else {}))")
