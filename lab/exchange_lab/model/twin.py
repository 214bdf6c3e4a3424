"""Rehearsal twins: topology files captured from an organization by ``exchange.dr.twin_capture``.

A twin is an ordinary topology file (schema in ``lab/README-model.md``) with three additions,
checked here and called from :func:`exchange_lab.model.topology.validate`:

* ``capture: {format: exchange.dr/twin, version: 1, captured_at, source, pseudonymised}`` at
  the top.  Another ``format`` is refused (the file is not a twin this lab knows), a higher
  ``version`` too (written by a newer collection: upgrade the lab).
* ``end_of_capture: true`` as the last key.  The capture writes it last, so a file cut short
  (a full disk, a copy interrupted) has no such key and is refused as truncated, even when
  what is left still parses as YAML.
* Users without ``password``: a capture never writes a secret.  They get the **lab-only** demo
  password of the environment variable ``EXCHANGE_LAB_TWIN_PASSWORD`` when set (at
  ``exchange-lab start`` and ``exchange-lab inventory`` alike), else ``Passw0rd!`` - the shipped
  topologies' documented lab credential, never a password of the captured organization.

Hosts of kind ``exchange`` may carry ``components:`` (also outside twins): server component
state entries ``{component, requester, state, local: true, remote: true}`` applied in order at
load (``Set-ServerComponentState`` as the requester would have called it), so a server captured
in maintenance starts in maintenance.
"""

from __future__ import annotations

import os
from typing import Any

from .components import REQUESTERS, STATES, components_for

FORMAT = "exchange.dr/twin"
VERSION = 1  # the newest capture format version this lab reads
PASSWORD_ENV = "EXCHANGE_LAB_TWIN_PASSWORD"
DEFAULT_PASSWORD = "Passw0rd!"  # lab-only demo credential (README-model.md, shipped topologies)


def lab_password() -> str:
    """The password twin users get in the lab (lab-only: never the organization's)."""
    return os.environ.get(PASSWORD_ENV) or DEFAULT_PASSWORD


def looks_like_capture(text: str) -> bool:
    """Whether ``text`` (a file that failed to parse) starts like a twin."""
    head = text[:2000]
    return "capture:" in head and FORMAT in head


def check_capture(data: dict, ctx: Any) -> dict:
    """Check the capture marker and the end marker of a twin and return the document with
    lab passwords filled in for its users (a new dict; ``data`` is not changed)."""
    marker = data.get("capture")
    if marker is None:
        ctx.fail("end_of_capture", "found without a capture: marker at the top; not a twin written by exchange.dr")
    if not isinstance(marker, dict):
        ctx.fail("capture", "must be a mapping like {format: exchange.dr/twin, version: 1}")
    fmt = marker.get("format")
    if fmt != FORMAT:
        ctx.fail("capture.format", f"unknown capture format {fmt!r} (this lab reads {FORMAT!r} files)")
    version = marker.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        ctx.fail("capture.version", f"{version!r} is not a capture format version (1, 2, ...)")
    if version > VERSION:
        ctx.fail(
            "capture.version",
            f"capture format version {version} is newer than this lab reads (up to {VERSION}): "
            "upgrade exchange-lab, or capture again with the collection that matches it",
        )
    ctx.check(marker, "capture", "capture")
    if data.get("end_of_capture") is not True:
        ctx.fail(
            "",
            "truncated capture: the file does not end with 'end_of_capture: true' "
            "(it was cut short while written or copied; capture it again)",
        )
    last = list(data)[-1]
    if last != "end_of_capture":
        ctx.fail("end_of_capture", f"must be the last key of a capture (found '{last}' after it)")
    out = dict(data)
    users = []
    for u in data.get("users") or []:
        if isinstance(u, dict) and "password" not in u:
            u = {**u, "password": lab_password()}
        users.append(u)
    if "users" in data:
        out["users"] = users
    return out


def validate_components(entries: Any, ctx: Any, where: str, version: str) -> list[dict]:
    """``components:`` of an Exchange host: a list of requester entries, normalised."""
    if not isinstance(entries, list):
        ctx.fail(where, "must be a list")
    known = {c.lower(): c for c in components_for(version)}
    out = []
    for i, e in enumerate(entries):
        ew = f"{where}[{i}]"
        ctx.check(e, "component", ew)
        comp = known.get(str(e["component"]).lower())
        if comp is None:
            ctx.fail(f"{ew}.component", f"'{e['component']}' is not a component of Exchange {version}")
        requester = ctx.choice(e["requester"], REQUESTERS, f"{ew}.requester")
        state = ctx.choice(e["state"], STATES, f"{ew}.state")
        local, remote = e.get("local", True), e.get("remote", True)
        if not (local or remote):
            ctx.fail(ew, "local and remote cannot both be false")
        out.append({"component": comp, "requester": requester, "state": state, "local": local, "remote": remote})
    return out


def apply_components(lab: Any, spec: dict) -> None:
    """Set the topology's component entries on the servers (called by ``LabState._build``).
    Entries of one server get increasing timestamps in file order, so a later entry of a
    requester wins the local/remote reconciliation as it did when captured."""
    import datetime

    now = lab.clock.now()
    for h in spec["hosts"]:
        for n, e in enumerate(h.get("components") or ()):
            srv = lab.servers[h["name"].lower()]
            when = now + datetime.timedelta(microseconds=n)
            srv.components.get(e["component"]).set(e["requester"], e["state"], when, local=e["local"], remote=e["remote"])
