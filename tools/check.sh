#!/usr/bin/env bash
# Static checks of the collection, run by `make test` after the pytest suites:
#   1. ansible-test sanity (through tools/ansible_test.sh, on a copy laid out as
#      ansible_collections/exchange/dr), limited to the tests listed below;
#   2. ansible-test units: the collection's tests/unit on Python 3.11, --local in this virtual
#      environment (pytest and pytest-xdist from requirements/dev.txt), as ansible-test lays
#      them out (ansible_collections.exchange.dr.*, its pytest plugins, one process per test);
#   3. ansible-lint with the production profile (.ansible-lint: plugins/, meta/, roles/,
#      playbooks/; lab/, tests/, bench/ and .venv/ excluded).
#
# All run offline once ansible-test has built its sanity virtual environments under
# ~/.ansible/test (the first run of a sanity test installs that test's pinned tools from PyPI);
# units needs no such environment.
# Left out: shellcheck and pslint (programs this machine may not have), and nothing else.
#
# Usage: tools/check.sh            (PYTHON=/path/to/python to use another virtual environment)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$repo/.venv/bin/python}"
bin="$(cd "$(dirname "$python")" && pwd)"  # absolute (make passes .venv/bin/python), links kept
export PYTHON="$bin/$(basename "$python")" PATH="$bin:$PATH"

sanity_tests=(
    action-plugin-docs ansible-doc changelog compile empty-init ignores import line-endings no-assert
    no-get-exception no-illegal-filenames no-smart-quotes pep8 pylint replace-urlopen runtime-metadata
    shebang symlinks use-argspec-type-path use-compat-six validate-modules yamllint
)
args=()
for test in "${sanity_tests[@]}"; do args+=(--test "$test"); done

started=$SECONDS
"$repo/tools/ansible_test.sh" sanity "${args[@]}"
sanity_s=$((SECONDS - started))

started=$SECONDS
"$repo/tools/ansible_test.sh" units
units_s=$((SECONDS - started))

# ansible-lint resolves exchange.dr.* (module arguments, action group) through a collections
# path; unlike ansible-test it accepts a symlinked collection.
work="$(mktemp -d "${TMPDIR:-/tmp}/exchange-dr-lint.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ansible_collections/exchange"
ln -s "$repo" "$work/ansible_collections/exchange/dr"
started=$SECONDS
(cd "$repo" && ANSIBLE_COLLECTIONS_PATH="$work" ANSIBLE_HOME="$work/ansible-home" \
    "$bin/ansible-lint" --nocolor --offline)
lint_s=$((SECONDS - started))

echo "tools/check.sh: ansible-test sanity ${sanity_s} s, units ${units_s} s, ansible-lint ${lint_s} s"
