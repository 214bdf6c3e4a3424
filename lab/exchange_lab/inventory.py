"""``exchange-lab inventory``: a static Ansible inventory (YAML) of a running lab.

Every host of the lab becomes an inventory host named as in the topology (EX01, DC01, FS01),
in the groups ``exchange_servers``, ``domain_controllers``, ``file_servers``, ``site_<AD site>``,
``dag_<DAG>`` and ``exchange_<version>`` (the groups and host variables of the exchange.dr
inventory plugin ``exchange.dr.exchange``, plus the Windows hosts).  Each host carries
``exchange_dr_connection``: the connection options of the exchange.dr modules for that host's
HTTPS endpoint, so a play uses::

    module_defaults:
      group/exchange.dr.exchange: "{{ exchange_dr_connection }}"

and ``exchange_dr_windows_connection``: the same endpoint's Windows PowerShell session (path
``wsman``, configuration ``Microsoft.PowerShell``; the lab serves both paths on one port), for
the ``windows_connection`` option of the modules that also run Windows cmdlets
(``windows_connection: "{{ exchange_dr_windows_connection }}"``).

``all`` carries the same variable for the first Exchange server (the organization endpoint,
also seen by the implicit ``localhost``), ``ansible_connection: local`` (the modules run on the
controller) and ``exchange_dr_lab`` (state dir, admin URL, topology).

The inventory holds the lab's ports: it stays valid while that lab runs (``--base-port`` on
``exchange-lab start`` keeps the ports stable across restarts).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

KIND_GROUPS = {"exchange": "exchange_servers", "dc": "domain_controllers", "fileserver": "file_servers"}
_BUILD = re.compile(r"Version\s+(\d+)\.(\d+)\s*\(Build\s+(\d+)\.(\d+)\)", re.IGNORECASE)


class InventoryError(Exception):
    """The lab's data does not allow an inventory (unknown user)."""


def _group_name(prefix: str, value: str) -> str:
    """A valid Ansible group name, as ansible-core sanitises one (invalid characters to ``_``)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{prefix}_{value}")


def _build(text: str | None) -> str | None:
    match = _BUILD.search(text or "")
    return ".".join(match.groups()) if match else None


def _user(users: list[dict[str, Any]], wanted: str) -> dict[str, Any]:
    for user in users:
        if wanted.lower() in (user["name"].lower(), user["upn"].lower(), user["sam"].lower()):
            return user
    known = ", ".join(u["name"] for u in users)
    raise InventoryError(f"no lab user '{wanted}' (users of this topology: {known})")


def build(info: dict[str, Any], state: dict[str, Any], users: list[dict[str, Any]],
          user: str = "administrator") -> dict[str, Any]:
    """The inventory as a dict.  ``info`` is ``lab.json`` (hosts with ports, ca_file, ...),
    ``state`` the admin API's ``/state`` (DAG membership, Exchange builds), ``users`` the
    topology's users with their passwords."""
    account = _user(users, user)
    servers = {s["name"].lower(): s for s in state.get("exchange_servers", [])}
    dag_of = {m.lower(): dag["name"] for dag in state.get("dags", []) for m in dag.get("members", [])}

    def connection(host: dict[str, Any]) -> dict[str, Any]:
        return {
            "server": "127.0.0.1",
            "port": host["https_port"],
            "ssl": True,
            "validate_certs": True,
            "ca_trust_path": info["ca_file"],
            "auth": "basic",
            "username": account["name"],
            "password": account["password"],
            "no_proxy": True,
        }

    def windows_connection(host: dict[str, Any]) -> dict[str, Any]:
        return dict(connection(host), path="wsman", configuration_name="Microsoft.PowerShell")

    groups: dict[str, dict[str, Any]] = {name: {"hosts": {}} for name in KIND_GROUPS.values()}

    def add(group: str, host: str, variables: dict[str, Any] | None = None) -> None:
        groups.setdefault(group, {"hosts": {}})["hosts"][host] = variables

    organization = None
    for host in info["hosts"]:
        name = host["name"]
        variables: dict[str, Any] = {"exchange_dr_fqdn": host["fqdn"], "exchange_dr_site": host["site"]}
        if host["kind"] == "exchange":
            server = servers.get(name.lower(), {})
            variables.update(
                exchange_dr_dag=dag_of.get(name.lower()),
                exchange_dr_version=host["version"],
                exchange_dr_build=_build(server.get("build")),
            )
        variables["exchange_dr_roles"] = list(host.get("roles") or [])
        variables["exchange_dr_connection"] = connection(host)
        variables["exchange_dr_windows_connection"] = windows_connection(host)
        add(KIND_GROUPS.get(host["kind"], f"{host['kind']}_servers"), name, variables)
        if host.get("site"):
            add(_group_name("site", host["site"]), name)
        if host["kind"] == "exchange":
            organization = organization or connection(host)
            if dag_of.get(name.lower()):
                add(_group_name("dag", dag_of[name.lower()]), name)
            add(_group_name("exchange", str(host["version"]).lower()), name)

    all_vars: dict[str, Any] = {
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "exchange_dr_lab": {"state_dir": info.get("state_dir"), "admin_url": info.get("admin_url"),
                            "topology": info.get("topology"), "ca_file": info["ca_file"]},
    }
    if organization is not None:
        all_vars["exchange_dr_connection"] = organization
    return {"all": {"vars": all_vars, "children": {name: body for name, body in groups.items() if body["hosts"]}}}


def render(inventory: dict[str, Any], state_dir: str) -> str:
    header = (
        f"# Ansible inventory of the exchange.dr lab in {state_dir}, written by `exchange-lab inventory`.\n"
        "# Valid while that lab runs (its ports). Plays use:\n"
        "#   module_defaults:\n"
        '#     group/exchange.dr.exchange: "{{ exchange_dr_connection }}"\n'
    )
    return header + yaml.safe_dump(inventory, sort_keys=False, default_flow_style=False, width=120)
