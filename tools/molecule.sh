#!/usr/bin/env bash
# Run the Molecule scenarios of exchange.dr against the lab, one after the other, and print the wall time
# of each:  molecule test -s default, -s exchange2007, -s datacenter  (molecule/README.md).
# The windows scenario needs real hosts (molecule/windows/README.md) and is not run here.
#
# Usage: tools/molecule.sh [scenario ...]          (PYTHON=/path/to/python to use another virtual environment)
#
# The collection is made resolvable as exchange.dr the way tools/check.sh does it: a temporary
# ANSIBLE_COLLECTIONS_PATH with ansible_collections/exchange/dr symlinked to this repository. The shared
# base configuration molecule/_shared/base.yml is passed with --base-config.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
bin="$(cd "$(dirname "$python")" && pwd)"  # absolute (make passes .venv/bin/python), links kept
python="$bin/$(basename "$python")"
export PATH="$bin:$PATH"  # molecule runs ansible-playbook, ansible and pytest from the same environment

scenarios=("$@")
[[ ${#scenarios[@]} -gt 0 ]] || scenarios=(default exchange2007 datacenter)

work="$(mktemp -d "${TMPDIR:-/tmp}/exchange-dr-molecule.XXXXXX")"
cleanup() {
    # A run interrupted before Molecule's destroy leaves its lab running: stop it before removing its state.
    local state
    while IFS= read -r -d '' state; do
        "$python" -m exchange_lab stop --state-dir "$(dirname "$state")" > /dev/null 2>&1 || true
    done < <(find "$work" -name lab.json -print0 2>/dev/null)
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/collections/ansible_collections/exchange"
ln -s "$repo" "$work/collections/ansible_collections/exchange/dr"
export ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_HOME="$work/ansible-home"
export ANSIBLE_NOCOLOR=1 NO_COLOR=1 PY_COLORS=0

cd "$repo"
status=0
summary=()
all_started=$SECONDS
for scenario in "${scenarios[@]}"; do
    started=$SECONDS
    if "$bin/molecule" --base-config molecule/_shared/base.yml test --scenario-name "$scenario"; then
        result=passed
    else
        result=FAILED
        status=1
    fi
    summary+=("$(printf '  %-14s %-7s %4d s' "$scenario" "$result" $((SECONDS - started)))")
done

echo "tools/molecule.sh: Molecule scenarios (wall time)"
printf '%s\n' "${summary[@]}"
printf '  %-14s %-7s %4d s\n' total "" $((SECONDS - all_started))
exit $status
