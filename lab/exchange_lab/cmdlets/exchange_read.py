"""Exchange 2013+ read cmdlets: servers, DAGs, databases, copy status, DAG networks.

Not-found identities are non-terminating errors (ManagementObjectNotFoundException) for
every Get-* here; the pipeline goes on with the other identities (lab/README-model.md).
"""

from __future__ import annotations

from typing import Any

from .. import objects
from ..registry import READ, cmdlet
from .exchange_common import begin, matches, not_found, resolve_servers, task_class, text_of

T_GET_EXCHANGE_SERVER = task_class("GetExchangeServer")
T_GET_MAILBOX_SERVER = task_class("GetMailboxServer")
T_GET_DAG = task_class("GetDatabaseAvailabilityGroup")
T_GET_DAG_NETWORK = task_class("GetDatabaseAvailabilityGroupNetwork")
T_GET_MAILBOX_DATABASE = task_class("GetMailboxDatabase")
T_GET_COPY_STATUS = task_class("GetDatabaseCopyStatus")


def _exchange_host(host: Any) -> bool:
    """Exchange 2010+ hosts (these cmdlets exist there; version-specific parameters are
    the binder's business)."""
    return getattr(host, "kind", None) == "exchange" and getattr(host, "version", "") in (
        "2010",
        "2013",
        "2016",
        "2019",
    )


@cmdlet("Get-ExchangeServer", syntax="exchange", rbac=READ, available_on=_exchange_host)
def get_exchange_server(inv: Any) -> None:
    lab = inv.lab
    status = bool(inv.get("Status"))
    with lab.lock:
        begin(inv)
        if inv.parameter_set == "Domain":
            domain = text_of(inv.get("Domain")) or ""
            servers = list(lab.servers.values()) if domain.lower() == lab.domain.lower() else []
        else:
            servers = resolve_servers(inv, text_of(inv.get("Identity")), T_GET_EXCHANGE_SERVER, terminating=False)
        out = [objects.exchange_server(lab, s, status=status) for s in servers]
    for o in out:
        inv.write_output(o)


@cmdlet("Get-MailboxServer", syntax="exchange", rbac=READ, available_on=_exchange_host)
def get_mailbox_server(inv: Any) -> None:
    lab = inv.lab
    with lab.lock:
        begin(inv)
        servers = resolve_servers(inv, text_of(inv.get("Identity")), T_GET_MAILBOX_SERVER, terminating=False)
        out = [objects.mailbox_server(lab, s) for s in servers if "Mailbox" in s.roles]
    for o in out:
        inv.write_output(o)


def resolve_dags(inv: Any, identity: str | None, task: str, *, terminating: bool) -> list:
    lab = inv.lab
    if identity is None:
        return list(lab.dags.values())
    found = [d for d in lab.dags.values() if matches(identity, d.name)]
    if not found:
        err = not_found(inv, identity, task)
        if terminating:
            raise err
        inv.write_error(err)
    return found


@cmdlet("Get-DatabaseAvailabilityGroup", syntax="exchange", rbac=READ, available_on=_exchange_host)
def get_database_availability_group(inv: Any) -> None:
    lab = inv.lab
    status = bool(inv.get("Status"))
    with lab.lock:
        begin(inv)
        dags = resolve_dags(inv, text_of(inv.get("Identity")), T_GET_DAG, terminating=False)
        out = [objects.dag(lab, d, status=status) for d in dags]
    for o in out:
        inv.write_output(o)


def resolve_dag_networks(inv: Any, identity: str | None, task: str, *, terminating: bool) -> list[tuple]:
    """(dag, network) pairs for ``DAG`` or ``DAG\\Network`` (None = every network)."""
    lab = inv.lab
    if identity is None:
        return [(d, n) for d in lab.dags.values() for n in d.networks]
    dag_part, _, net_part = identity.partition("\\")
    found = []
    for d in lab.dags.values():
        if not matches(dag_part, d.name):
            continue
        for n in d.networks:
            if not net_part or matches(net_part, n.name):
                found.append((d, n))
    if not found:
        err = not_found(inv, identity, task)
        if terminating:
            raise err
        inv.write_error(err)
    return found


@cmdlet("Get-DatabaseAvailabilityGroupNetwork", syntax="exchange", rbac=READ, available_on=_exchange_host)
def get_database_availability_group_network(inv: Any) -> None:
    lab = inv.lab
    with lab.lock:
        begin(inv)
        pairs = resolve_dag_networks(inv, text_of(inv.get("Identity")), T_GET_DAG_NETWORK, terminating=False)
        server = text_of(inv.get("Server"))
        if server is not None:
            srvs = resolve_servers(inv, server, T_GET_DAG_NETWORK, terminating=False)
            dag_names = {s.dag.lower() for s in srvs if s.dag}
            pairs = [(d, n) for d, n in pairs if d.name.lower() in dag_names]
        out = [objects.dag_network(lab, d, n) for d, n in pairs]
    for o in out:
        inv.write_output(o)


@cmdlet("Get-MailboxDatabase", syntax="exchange", rbac=READ, available_on=_exchange_host)
def get_mailbox_database(inv: Any) -> None:
    lab = inv.lab
    status = bool(inv.get("Status"))
    with lab.lock:
        begin(inv)
        if inv.parameter_set == "Server":
            servers = resolve_servers(inv, text_of(inv.get("Server")), T_GET_MAILBOX_DATABASE, terminating=False)
            names = {s.name.lower() for s in servers}
            dbs = [db for db in lab.databases.values() if any(c.server.lower() in names for c in db.copies)]
        else:
            identity = text_of(inv.get("Identity"))
            if identity is None:
                dbs = list(lab.databases.values())
            else:
                db = lab.database(identity)
                dbs = [db] if db is not None else [d for d in lab.databases.values() if matches(identity, d.name)]
                if not dbs:
                    inv.write_error(not_found(inv, identity, T_GET_MAILBOX_DATABASE))
        out = [objects.mailbox_database(lab, db, status=status) for db in dbs]
    for o in out:
        inv.write_output(o)


@cmdlet("Get-MailboxDatabaseCopyStatus", syntax="exchange", rbac=READ, available_on=_exchange_host)
def get_mailbox_database_copy_status(inv: Any) -> None:
    lab = inv.lab
    with lab.lock:
        begin(inv)
        pairs: list[tuple] = []
        if inv.parameter_set == "Server":
            servers = resolve_servers(inv, text_of(inv.get("Server")), T_GET_COPY_STATUS, terminating=False)
            for srv in servers:
                for db in lab.databases_on(srv.name):
                    pairs.append((db, db.copy_on(srv.name)))
        else:
            identity = text_of(inv.get("Identity"))
            if identity is None:
                pairs = [(db, c) for db in lab.databases.values() for c in db.copies]
            else:
                db_part, _, srv_part = identity.partition("\\")
                for db in lab.databases.values():
                    if not matches(db_part, db.name):
                        continue
                    for c in db.copies:
                        if not srv_part or matches(srv_part, c.server) or matches(srv_part, lab.server(c.server).fqdn):
                            pairs.append((db, c))
                if not pairs:
                    inv.write_error(not_found(inv, identity, T_GET_COPY_STATUS))
            if inv.get("Local"):
                local = inv.host.name.lower()
                pairs = [(db, c) for db, c in pairs if c.server.lower() == local]
        if inv.get("Active"):
            pairs = [(db, c) for db, c in pairs if c.server.lower() == db.active_server.lower()]
        out = [objects.copy_status(lab, db, c) for db, c in pairs]
    for o in out:
        inv.write_output(o)
