"""Generate the lab's cmdlet syntax declarations from the shared reference data.

Reads ``../shared/reference/cmdlets/{exchange,windows}.json`` (relative to the repository
root) and writes ``lab/exchange_lab/syntax/{exchange,windows}.json``: for every cmdlet its
applicability, default set, parameter sets and parameters, and the common parameters in
``_meta``.  The lab never reads ``../shared`` at run time; rerun this script (and commit
its output) when the reference changes.  For Windows cmdlets only the primary docset
(winserver2019-ps) is kept; ``differences_by_docset`` is dropped.

Usage: python tools/gen_syntax.py [--shared PATH]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "lab" / "exchange_lab" / "syntax"

CMDLET_KEYS = (
    "source",
    "applies_to",
    "module",
    "docset",
    "default_parameter_set",
    "parameter_sets",
    "parameters",
    "supports_common_parameters",
    "risk_mitigation_parameters",
)
PARAM_KEYS = (
    "type",
    "aliases",
    "applicable",
    "switch",
    "parameter_sets",
    "accepts_pipeline",
    "pipeline_by",
    "accepted_values",
    "wildcards",
    "default_value",
)
SET_KEYS = ("name", "default", "applicable", "parameters")
SET_PARAM_KEYS = ("name", "type", "mandatory", "position", "switch")


def _pick(src: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: src[k] for k in keys if k in src}


def convert_cmdlet(src: dict[str, Any]) -> dict[str, Any]:
    """The lab's declaration of one cmdlet."""
    out = _pick(src, CMDLET_KEYS)
    out["parameter_sets"] = [
        {**_pick(s, SET_KEYS), "parameters": [_pick(p, SET_PARAM_KEYS) for p in s["parameters"]]}
        for s in src["parameter_sets"]
    ]
    out["parameters"] = {name: _pick(p, PARAM_KEYS) for name, p in src["parameters"].items()}
    return out


def convert_table(src: dict[str, Any]) -> dict[str, Any]:
    """The lab's declaration table for one reference file."""
    meta = src["_meta"]
    out: dict[str, Any] = {
        "_meta": {
            "generated_by": "tools/gen_syntax.py",
            "from": meta.get("sources", {}),
            "primary_docset": meta.get("primary_docset"),
            "versions": meta.get("versions"),
            "position_note": meta.get("position_note"),
            "common_parameters": meta["common_parameters"],
        }
    }
    out["_meta"] = {k: v for k, v in out["_meta"].items() if v is not None}
    for name in sorted(k for k in src if not k.startswith("_")):
        out[name] = convert_cmdlet(src[name])
    if "_not_in_docs" in src:
        out["_not_in_docs"] = src["_not_in_docs"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    ref = args.shared / "reference" / "cmdlets"
    OUT.mkdir(parents=True, exist_ok=True)
    for table in ("exchange", "windows"):
        src = json.loads((ref / f"{table}.json").read_text(encoding="utf-8"))
        data = convert_table(src)
        (OUT / f"{table}.json").write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        print(f"{table}: {sum(1 for k in data if not k.startswith('_'))} cmdlets -> {OUT / (table + '.json')}")


if __name__ == "__main__":
    main()
